package seq

import (
	"fmt"
	"slices"
)

// vocab maps system-call numbers to dense symbol ids 2..V+1, learned at Fit.
// Id 0 is the start-of-trace pad and id 1 stands for every call not seen in
// training.
type vocab struct {
	calls []int       // sorted system-call numbers seen in training
	index map[int]int // call -> id
	bits  uint        // bits per symbol in an n-gram key
}

const (
	symPad     = 0
	symUnknown = 1
)

func newVocab(calls []int) *vocab {
	calls = slices.Clone(calls)
	slices.Sort(calls)
	calls = slices.Compact(calls)
	v := &vocab{calls: calls, index: make(map[int]int, len(calls))}
	for i, c := range calls {
		v.index[c] = i + 2
	}
	v.bits = 1
	for (1 << v.bits) < len(calls)+2 {
		v.bits++
	}
	return v
}

// size is the number of symbols a model predicts (every id but the pad).
func (v *vocab) size() int { return len(v.calls) + 1 }

func (v *vocab) id(call int) int {
	if i, ok := v.index[call]; ok {
		return i
	}
	return symUnknown
}

// encode maps a trace to ids, with n−1 pads in front.
func (v *vocab) encode(trace []int, n int, buf []int) []int {
	buf = buf[:0]
	for range n - 1 {
		buf = append(buf, symPad)
	}
	for _, c := range trace {
		buf = append(buf, v.id(c))
	}
	return buf
}

// maxOrder is the longest n-gram whose key fits 63 bits.
func (v *vocab) maxOrder() int { return int(63 / v.bits) }

func (v *vocab) checkOrder(name string, n int) error {
	if n < 1 || n > v.maxOrder() {
		return fmt.Errorf("%s: n-gram order %d: use 1..%d for a vocabulary of %d calls", name, n, v.maxOrder(), len(v.calls))
	}
	return nil
}

// key packs ids s[0..len(s)) into one integer, the last id in the low bits.
func (v *vocab) key(s []int) uint64 {
	var k uint64
	for _, x := range s {
		k = k<<v.bits | uint64(x)
	}
	return k
}

func allCalls(traces [][]int) []int {
	var out []int
	seen := map[int]bool{}
	for _, t := range traces {
		for _, c := range t {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
		}
	}
	return out
}

package rnnlm

import (
	"slices"
)

// vocab maps system-call numbers to dense ids, learned at Fit. Input id 0 is
// the start-of-trace symbol, id 1 every call not seen in training, ids
// 2..V+1 the calls in increasing order. The softmax predicts ids 1..V+1
// (output index id−1): the start symbol is never a target.
type vocab struct {
	calls []int       // sorted system-call numbers seen in training
	index map[int]int // call -> id
}

const (
	symStart   = 0
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
	return v
}

// in is the number of input symbols; out the number of predicted symbols.
func (v *vocab) in() int  { return len(v.calls) + 2 }
func (v *vocab) out() int { return len(v.calls) + 1 }

func (v *vocab) id(call int) int {
	if i, ok := v.index[call]; ok {
		return i
	}
	return symUnknown
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

package features

import (
	"cmp"
	"slices"
)

// FNV-1a 64-bit parameters.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// maxNGramN bounds Config.NGramN: a thread keeps the last maxNGramN-1 items.
const maxNGramN = 4

// NGramHash returns the sketch hash of an n-gram of items on one stream:
// FNV-1a 64 over the stream and the items taken as 64-bit words, finalised
// with the MurmurHash3 mixer, with its lowest bit replaced by the stream
// (StreamExit items are events.Kind values, StreamSyscall items system call
// numbers). Sequence models compute the same hash to look n-grams up.
func NGramHash(stream uint8, items ...uint32) uint64 {
	h := uint64(fnvOffset)
	h = (h ^ uint64(stream)) * fnvPrime
	for _, it := range items {
		h = (h ^ uint64(it)) * fnvPrime
	}
	h = mix(h)&^1 | uint64(stream&1)
	if h == 0 {
		h = 2 // 0 marks an empty sketch slot; 2 keeps the stream bit
	}
	return h
}

// threadSlots is the number of threads per VM whose last items are kept for
// n-grams; a VM with more active threads shares slots (a thread that lost
// its slot restarts its n-gram chain).
const threadSlots = 8

// thread holds the last items of one thread on one stream.
type thread struct {
	key  uint32 // tid<<1 | stream, +1 so that 0 means free
	n    uint8  // items seen, saturating at maxNGramN
	prev [maxNGramN - 1]uint32
}

// threads tracks the n-gram chains of a VM's threads.
type threads struct {
	t    [threadSlots]thread
	last uint8 // slot of the last hit
	next uint8 // round-robin victim when all slots are taken
}

// push appends item to the chain of (tid, stream) and returns the hash of the
// n-gram it completes, or false while the chain is shorter than n.
func (ts *threads) push(tid int32, stream uint8, item uint32, n int) (uint64, bool) {
	key := (uint32(tid)<<1 | uint32(stream)) + 1
	if key == 0 {
		key = 1
	}
	var t *thread
	if ts.t[ts.last].key == key {
		t = &ts.t[ts.last]
	} else {
		free := -1
		for i := range ts.t {
			if ts.t[i].key == key {
				t = &ts.t[i]
				ts.last = uint8(i)
				break
			}
			if free < 0 && ts.t[i].key == 0 {
				free = i
			}
		}
		if t == nil {
			if free < 0 {
				free = int(ts.next)
				ts.next = (ts.next + 1) % threadSlots
			}
			ts.t[free] = thread{key: key}
			t = &ts.t[free]
			ts.last = uint8(free)
		}
	}
	// Hash the window prev[len-n+1:] + item without building a slice.
	var h uint64
	ok := int(t.n) >= n-1
	if ok {
		h = uint64(fnvOffset)
		h = (h ^ uint64(stream)) * fnvPrime
		for _, it := range t.prev[maxNGramN-n:] {
			h = (h ^ uint64(it)) * fnvPrime
		}
		h = (h ^ uint64(item)) * fnvPrime
		h = mix(h)&^1 | uint64(stream&1)
		if h == 0 {
			h = 2
		}
	}
	copy(t.prev[:], t.prev[1:])
	t.prev[maxNGramN-2] = item
	if t.n < maxNGramN {
		t.n++
	}
	return h, ok
}

// sketch counts a window's n-grams in an open-addressing table of hashes.
// It holds at most 3/4 of its capacity (capacity = 1.5·K slots);
// n-grams that arrive when it is that full are counted in dropped and left
// out. At close the K most frequent are kept (ties: lower stream, then lower
// hash first), so the sketch is deterministic for a given event order.
type sketch struct {
	hash    []uint64
	count   []uint32
	used    int
	dropped uint32
}

func newSketch(k int) sketch {
	c := max(8, k+k/2)
	return sketch{hash: make([]uint64, c), count: make([]uint32, c)}
}

func (s *sketch) reset() {
	if s.used > 0 {
		clear(s.hash)
		clear(s.count)
	}
	s.used, s.dropped = 0, 0
}

func (s *sketch) add(h uint64) {
	n := len(s.hash)
	for i := int(uint64(uint32(h>>8)) * uint64(n) >> 32); ; i++ {
		if i == n {
			i = 0
		}
		switch s.hash[i] {
		case h:
			s.count[i]++
			return
		case 0:
			if s.used >= len(s.hash)*3/4 {
				s.dropped++
				return
			}
			s.hash[i], s.count[i] = h, 1
			s.used++
			return
		}
	}
}

// top returns the k most frequent n-grams as a new slice; idx is scratch.
func (s *sketch) top(k int, idx []int) ([]NGram, []int) {
	if s.used == 0 {
		return nil, idx
	}
	idx = idx[:0]
	for i, h := range s.hash {
		if h != 0 {
			idx = append(idx, i)
		}
	}
	slices.SortFunc(idx, func(a, b int) int {
		if c := cmp.Compare(s.count[b], s.count[a]); c != 0 {
			return c
		}
		if c := cmp.Compare(s.hash[a]&1, s.hash[b]&1); c != 0 {
			return c
		}
		return cmp.Compare(s.hash[a], s.hash[b])
	})
	if len(idx) > k {
		idx = idx[:k]
	}
	out := make([]NGram, len(idx))
	for j, i := range idx {
		out[j] = NGram{Stream: uint8(s.hash[i] & 1), Hash: s.hash[i], Count: s.count[i]}
	}
	return out, idx
}

package seq

import (
	"fmt"
	"maps"
	"slices"
)

// StideName is the name of the STIDE model in artifacts.
const StideName = "stide"

// DefaultStideN is the window of Forrest et al. and of the ADFA-LD baselines.
const DefaultStideN = 6

// Stide is sequence time-delay embedding (Forrest, Hofmeyr, Somayaji &
// Longstaff 1996; Warrender, Forrest & Pearlmutter 1999): the set of
// length-N windows of normal traces. A trace scores the fraction of its
// windows that are not in the set. Set N before Fit (zero means
// DefaultStideN).
type Stide struct {
	N int

	voc  *vocab
	seen map[uint64]struct{}
}

// NewStide returns an unfitted STIDE model of order n (0 = default).
func NewStide(n int) *Stide { return &Stide{N: n} }

// Name returns "stide".
func (s *Stide) Name() string { return StideName }

// Fit learns the windows of the normal traces.
func (s *Stide) Fit(traces [][]int) error {
	if err := checkTraces(traces); err != nil {
		return err
	}
	if s.N == 0 {
		s.N = DefaultStideN
	}
	voc := newVocab(allCalls(traces))
	if err := voc.checkOrder(StideName, s.N); err != nil {
		return err
	}
	s.voc, s.seen = voc, map[uint64]struct{}{}
	var buf []int
	for _, t := range traces {
		buf = voc.encode(t, s.N, buf)
		for i := s.N; i <= len(buf); i++ {
			s.seen[voc.key(buf[i-s.N:i])] = struct{}{}
		}
	}
	return nil
}

// Score returns the fraction of the trace's windows not seen in training
// (0 for an empty trace).
func (s *Stide) Score(trace []int) float64 {
	if s.voc == nil {
		panic("seq: stide Score before Fit or UnmarshalBinary")
	}
	if len(trace) == 0 {
		return 0
	}
	buf := s.voc.encode(trace, s.N, make([]int, 0, len(trace)+s.N))
	miss := 0
	for i := s.N; i <= len(buf); i++ {
		if _, ok := s.seen[s.voc.key(buf[i-s.N:i])]; !ok {
			miss++
		}
	}
	return float64(miss) / float64(len(trace))
}

// Unseen returns the windows of trace not seen in training, as system-call
// numbers (−1 for a pad before the trace start, −2 for a call never seen),
// in order of first occurrence, at most limit of them.
func (s *Stide) Unseen(trace []int, limit int) [][]int {
	if s.voc == nil {
		panic("seq: stide Unseen before Fit or UnmarshalBinary")
	}
	buf := s.voc.encode(trace, s.N, nil)
	var out [][]int
	dup := map[uint64]bool{}
	for i := s.N; i <= len(buf) && len(out) < limit; i++ {
		k := s.voc.key(buf[i-s.N : i])
		if _, ok := s.seen[k]; ok || dup[k] {
			continue
		}
		dup[k] = true
		out = append(out, s.voc.decode(buf[i-s.N:i]))
	}
	return out
}

func (v *vocab) decode(ids []int) []int {
	out := make([]int, len(ids))
	for i, id := range ids {
		switch id {
		case symPad:
			out[i] = -1
		case symUnknown:
			out[i] = -2
		default:
			out[i] = v.calls[id-2]
		}
	}
	return out
}

// MarshalBinary encodes the fitted model.
func (s *Stide) MarshalBinary() ([]byte, error) {
	if s.voc == nil {
		return nil, fmt.Errorf("seq: cannot marshal an unfitted %s model: call Fit first", StideName)
	}
	w := newWriter(stideMagic, s.N, s.voc)
	keys := slices.Sorted(maps.Keys(s.seen))
	w.u64(uint64(len(keys)))
	for _, k := range keys {
		w.u64(k)
	}
	return w.buf, nil
}

// UnmarshalBinary decodes a model written by MarshalBinary.
func (s *Stide) UnmarshalBinary(data []byte) error {
	r, n, voc, err := newReader(data, stideMagic)
	if err != nil {
		return err
	}
	cnt := r.count(8)
	seen := make(map[uint64]struct{}, cnt)
	for range cnt {
		seen[r.u64()] = struct{}{}
	}
	if err := r.done(); err != nil {
		return err
	}
	s.N, s.voc, s.seen = n, voc, seen
	return nil
}

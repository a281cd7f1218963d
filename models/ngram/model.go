package ngram

import (
	"cmp"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"

	"github.com/escapement/escapement/models/internal/check"
	"github.com/escapement/escapement/models/stream"
)

// Name is the detector name stored in artifacts.
const Name = "ngram"

// Defaults.
const (
	DefaultAlpha = 0.5
	// RareFraction is the document frequency under which an n-gram is
	// listed as improbable in explanations.
	RareFraction = 1e-4
)

// Detector is the n-gram sequence detector. Set Alpha before Fit (0 selects
// the default).
type Detector struct {
	Alpha float64

	dim   int      // feature vector length of the windows (checked, not used)
	n     uint64   // training windows
	grams []uint64 // sorted hashes
	df    []uint32 // document frequency, parallel to grams

	// open-addressing table of hash → surprisal, 2^k slots, 0 = empty
	keys    []uint64
	surp    []float32
	shift   uint
	unseen  float64 // surprisal of an unseen n-gram
	rareLvl float64 // surprisal from which an n-gram is improbable
}

// New returns an unfitted detector with the defaults.
func New() *Detector { return &Detector{} }

// Name returns "ngram".
func (d *Detector) Name() string { return Name }

// Dim returns the feature vector length of the windows it was fitted on.
func (d *Detector) Dim() int { return d.dim }

// Grams returns the number of distinct n-grams learned.
func (d *Detector) Grams() int { return len(d.grams) }

// Fit counts the windows holding each n-gram over the benign sequences.
func (d *Detector) Fit(seqs [][]stream.Window, _ *rand.Rand) error {
	counts := map[uint64]uint32{}
	var n uint64
	dim := -1
	for _, s := range seqs {
		for _, w := range s {
			if dim < 0 {
				dim = len(w.Z)
			}
			if len(w.Z) != dim {
				panic(fmt.Sprintf("ngram: windows of %d and %d features", dim, len(w.Z)))
			}
			if !check.Finite(w.Z) {
				return fmt.Errorf("ngram: %w", check.ErrNonFinite)
			}
			n++
			for _, g := range w.Grams {
				if g.Hash != 0 {
					counts[g.Hash]++
				}
			}
		}
	}
	if n == 0 {
		return fmt.Errorf("ngram: %w: %s", check.ErrEmpty, errEmpty)
	}
	grams := make([]uint64, 0, len(counts))
	for h := range counts {
		grams = append(grams, h)
	}
	slices.Sort(grams)
	df := make([]uint32, len(grams))
	for i, h := range grams {
		df[i] = counts[h]
	}
	if d.Alpha <= 0 || math.IsNaN(d.Alpha) || math.IsInf(d.Alpha, 0) {
		d.Alpha = DefaultAlpha
	}
	d.dim = dim
	d.build(n, grams, df)
	return nil
}

const errEmpty = "pass benign windows with their n-gram sketches"

// build fills the lookup table.
func (d *Detector) build(n uint64, grams []uint64, df []uint32) {
	d.n, d.grams, d.df = n, grams, df
	size := 16
	for size < 2*len(grams) {
		size *= 2
	}
	d.keys, d.surp = make([]uint64, size), make([]float32, size)
	d.shift = uint(64 - bits.TrailingZeros(uint(size)))
	for i, h := range grams {
		j := d.slot(h)
		d.keys[j] = h
		d.surp[j] = float32(d.surprisal(float64(df[i])))
	}
	d.unseen = d.surprisal(0)
	d.rareLvl = float64(float32(d.surprisal(RareFraction * float64(n)))) // as stored in the table
}

func (d *Detector) surprisal(df float64) float64 {
	return -math.Log((df + d.Alpha) / (float64(d.n) + d.Alpha))
}

// slot returns the table slot of h: where it is, or the empty slot it
// would take.
func (d *Detector) slot(h uint64) int {
	mask := len(d.keys) - 1
	for j := int((h * 0x9E3779B97F4A7C15) >> d.shift); ; j = (j + 1) & mask {
		if k := d.keys[j]; k == h || k == 0 {
			return j
		}
	}
}

// Surprisal returns s(g) of an n-gram hash.
func (d *Detector) Surprisal(h uint64) float64 {
	if d.keys == nil {
		panic("ngram: Surprisal before Fit")
	}
	if j := d.slot(h); d.keys[j] == h {
		return float64(d.surp[j])
	}
	return d.unseen
}

// ScoreGrams returns the score of a window's sketch.
func (d *Detector) ScoreGrams(gs []stream.Gram) float64 {
	if d.keys == nil {
		panic("ngram: Score before Fit")
	}
	best, unseen := 0.0, 0
	for _, g := range gs {
		s := d.unseen
		if j := d.slot(g.Hash); d.keys[j] == g.Hash {
			s = float64(d.surp[j])
		} else {
			unseen++
		}
		best = max(best, s)
	}
	if unseen > 0 {
		best += math.Log1p(float64(unseen))
	}
	return best
}

// ReadsGrams implements stream.GramReader: the detector reads the sketch.
func (d *Detector) ReadsGrams() bool { return true }

// NewState returns the (stateless) scorer of a VM.
func (d *Detector) NewState() stream.State {
	if d.keys == nil {
		panic("ngram: NewState before Fit")
	}
	return state{d}
}

type state struct{ d *Detector }

func (s state) Score(w stream.Window) float64 {
	if len(w.Z) != s.d.dim {
		panic(fmt.Sprintf("ngram: window of %d features, detector has %d", len(w.Z), s.d.dim))
	}
	return s.d.ScoreGrams(w.Grams)
}

// Learn does nothing: the n-gram frequencies are the fleet's, learned in
// training.
func (s state) Learn(stream.Window) {}

// Explain lists the window's unseen and improbable n-grams, rarest first;
// Baseline is the benign windows holding each per million.
func (s state) Explain(w stream.Window, out []stream.Evidence) []stream.Evidence {
	d := s.d
	start := len(out)
	for _, g := range w.Grams {
		sp := d.Surprisal(g.Hash)
		if sp < d.rareLvl {
			continue
		}
		perM := 0.0
		if j := d.slot(g.Hash); d.keys[j] == g.Hash {
			i, _ := slices.BinarySearch(d.grams, g.Hash)
			perM = 1e6 * float64(d.df[i]) / float64(d.n)
		}
		out = append(out, stream.Evidence{Feature: -1, Observed: float64(g.Count), Baseline: perM, Score: sp, Gram: g})
	}
	slices.SortStableFunc(out[start:], func(a, b stream.Evidence) int { return cmp.Compare(b.Score, a.Score) })
	return out
}

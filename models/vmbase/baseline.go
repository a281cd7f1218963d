package vmbase

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/escapement/escapement/models/internal/check"
	"github.com/escapement/escapement/models/stream"
)

// Name is the detector name stored in artifacts.
const Name = "vmbase"

// Defaults.
const (
	DefaultDecay  = 0.0001 // log1p units per window
	DefaultEta    = 0.01   // log1p units per window
	DefaultWarmup = 900    // windows
	DefaultDelta  = 2.0    // fleet-scale units
	DefaultBeta   = 1.0
	DefaultSlack  = 7.0 // fleet-scale units: one event of a rare feature is log1p(1)/0.1 = 6.93
	settleWindows = 30  // windows in which the location moves by a tenth of the difference
	settleRate    = 0.1
)

// Detector is the per-VM baseline detector. Set the fields before Fit; zero
// values select the defaults. Median and Scale are the Standardizer's (one
// per feature): the detector reads standardised vectors and turns them back
// into log1p units. Group maps features to primitive groups (see Groups);
// nil puts every feature in one group.
type Detector struct {
	Decay, Eta  float64
	Warmup      int
	Delta, Beta float64
	Slack       float64 // rise (fleet-scale units) a window may show for free: about one event of a rare feature
	Median      []float64
	Scale       []float64
	Group       []uint8
	dim         int
	ngroups     int
	fitted      bool
	active      []int32   // features not Ignored
	inv         []float64 // 1 / Scale
}

// New returns an unfitted detector with the defaults.
func New() *Detector { return &Detector{} }

// Name returns "vmbase".
func (d *Detector) Name() string { return Name }

// Dim returns the number of features (0 if unfitted).
func (d *Detector) Dim() int { return d.dim }

// Fit checks the benign sequences and fixes the dimension and parameters
// (see the package doc: there is nothing else to learn).
func (d *Detector) Fit(seqs [][]stream.Window, _ *rand.Rand) error {
	var X [][]float64
	for _, s := range seqs {
		for _, w := range s {
			X = append(X, w.Z)
		}
	}
	dim, err := check.Matrix(X)
	if err != nil {
		return err
	}
	return d.init(dim)
}

func (d *Detector) init(dim int) error {
	if d.Decay <= 0 {
		d.Decay = DefaultDecay
	}
	if d.Eta <= 0 {
		d.Eta = DefaultEta
	}
	if d.Warmup <= 0 {
		d.Warmup = DefaultWarmup
	}
	if d.Delta <= 0 {
		d.Delta = DefaultDelta
	}
	if d.Slack <= 0 || math.IsNaN(d.Slack) || math.IsInf(d.Slack, 0) {
		d.Slack = DefaultSlack
	}
	if d.Beta < 0 || math.IsNaN(d.Beta) {
		return errors.New("vmbase: Beta must be ≥ 0")
	} else if d.Beta == 0 {
		d.Beta = DefaultBeta
	}
	if d.Median == nil {
		d.Median = make([]float64, dim)
	}
	if d.Scale == nil {
		d.Scale = make([]float64, dim)
		for j := range d.Scale {
			d.Scale[j] = 1
		}
	}
	if d.Group == nil {
		d.Group = make([]uint8, dim)
	}
	if len(d.Median) != dim || len(d.Scale) != dim || len(d.Group) != dim {
		return fmt.Errorf("vmbase: Median, Scale and Group need %d entries (got %d, %d, %d): pass the Standardizer's and Groups(names)",
			dim, len(d.Median), len(d.Scale), len(d.Group))
	}
	d.ngroups = 0
	d.active, d.inv = d.active[:0], make([]float64, dim)
	for j, g := range d.Group {
		if !(d.Scale[j] > 0) || math.IsInf(d.Scale[j], 0) || math.IsNaN(d.Median[j]) || math.IsInf(d.Median[j], 0) {
			return fmt.Errorf("vmbase: feature %d has scale %v and median %v: pass a fitted Standardizer", j, d.Scale[j], d.Median[j])
		}
		d.inv[j] = 1 / d.Scale[j]
		if g != Ignored {
			d.active = append(d.active, int32(j))
			if int(g) >= MaxGroups {
				return fmt.Errorf("vmbase: feature %d in group %d, at most %d groups", j, g, MaxGroups)
			}
			d.ngroups = max(d.ngroups, int(g)+1)
		}
	}
	d.dim = dim
	d.fitted = true
	return nil
}

// NewState returns the baseline of a VM never seen.
func (d *Detector) NewState() stream.State {
	if !d.fitted {
		panic("vmbase: NewState before Fit")
	}
	return &State{d: d, el: make([]float32, 2*d.dim)}
}

// State is one VM's baseline.
type State struct {
	d  *Detector
	n  int       // windows learned
	el []float32 // per feature j: envelope at 2j, location at 2j+1 (one stream of memory)
}

// Learned returns the number of windows the baseline has learned.
func (s *State) Learned() int { return s.n }

// Score implements stream.State.
func (s *State) Score(w stream.Window) float64 {
	sc, _ := s.score(w.Z)
	return sc
}

// score returns the score and the group of the largest rise (-1 when none).
func (s *State) score(z []float64) (float64, int) {
	d := s.d
	if len(z) != d.dim {
		panic(fmt.Sprintf("vmbase: window of %d features, detector has %d", len(z), d.dim))
	}
	if s.n < d.Warmup {
		return 0, -1
	}
	var rise [MaxGroups]float64
	el := s.el[:2*d.dim]
	for _, j := range d.active {
		sc := d.Scale[j]
		l := z[j]*sc + d.Median[j]
		if r := l - float64(el[2*j]); r > 0 {
			if e := float64(el[2*j]); e > sc {
				r /= e // the VM used the primitive: measure against its own level
			} else {
				r *= d.inv[j]
			}
			rise[d.Group[j]&(MaxGroups-1)] += r
		}
	}
	best := 0
	for g := 1; g < d.ngroups; g++ {
		if rise[g] > rise[best] {
			best = g
		}
	}
	if rise[best] <= d.Slack {
		return 0, -1 // the common case: no second pass
	}
	var act [MaxGroups]float64
	for _, j := range d.active {
		g := d.Group[j] & (MaxGroups - 1)
		l := z[j]*d.Scale[j] + d.Median[j]
		if a := (l - float64(el[2*j+1])) * d.inv[j]; a > act[g] {
			act[g] = a
		}
	}
	var pen float64
	for g := range d.ngroups {
		if g != best {
			pen += max(0, act[g]-d.Delta)
		}
	}
	return math.Log1p((rise[best] - d.Slack) / (1 + d.Beta*pen)), best
}

// Learn implements stream.State.
func (s *State) Learn(w stream.Window) {
	d := s.d
	if len(w.Z) != d.dim {
		panic(fmt.Sprintf("vmbase: window of %d features, detector has %d", len(w.Z), d.dim))
	}
	el := s.el[:2*d.dim]
	z := w.Z[:d.dim]
	if s.n < settleWindows {
		for j := range z {
			l := float32(z[j]*d.Scale[j] + d.Median[j])
			if s.n == 0 {
				el[2*j], el[2*j+1] = l, l
				continue
			}
			el[2*j+1] += settleRate * (l - el[2*j+1])
			el[2*j] = max(l, el[2*j]-float32(d.Decay))
		}
		s.n++
		return
	}
	eta, decay := float32(d.Eta), float32(d.Decay)
	for _, j := range d.active {
		l := float32(z[j]*d.Scale[j] + d.Median[j])
		e, m := &el[2*j], &el[2*j+1]
		*m = step(*m, l, eta)
		*e = max(l, *e-decay)
	}
	s.n++
}

// step moves the location m by eta towards l (not at all when l == m). The
// direction is a coin flip on most windows, so it is chosen by conditional
// moves on the bits rather than a branch the CPU would mispredict about half
// the time; the result is the same float32 as m+eta or m−eta.
func step(m, l, eta float32) float32 {
	b := math.Float32bits(m)
	up, down := math.Float32bits(m+eta), math.Float32bits(m-eta)
	if l > m {
		b = up
	}
	if l < m {
		b = down
	}
	return math.Float32frombits(b)
}

// Explain implements stream.Explainer: the features of the group that rose
// most above the VM's envelope, with the envelope in raw units as baseline.
func (s *State) Explain(w stream.Window, out []stream.Evidence) []stream.Evidence {
	_, best := s.score(w.Z)
	if best < 0 {
		return out
	}
	d := s.d
	for j, g := range d.Group {
		if int(g) != best {
			continue
		}
		sc := d.Scale[j]
		l := w.Z[j]*sc + d.Median[j]
		e := float64(s.el[2*j])
		if r := (l - e) / max(sc, e); r > 0 {
			out = append(out, stream.Evidence{Feature: j, Observed: math.Expm1(l), Baseline: math.Expm1(e), Score: r})
		}
	}
	return out
}

package vmbase

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/models/stream"
)

// referenceStep is the location update written with a branch, as it was
// before step.
func referenceStep(m, l, eta float32) float32 {
	if l > m {
		m += eta
	} else if l < m {
		m -= eta
	}
	return m
}

// TestStepIsExact compares step with the branchy update bit for bit,
// including equal values, signed zeros, infinities and NaN.
func TestStepIsExact(t *testing.T) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	edges := []float32{0, float32(math.Copysign(0, -1)), 1, -1, 0.01, -0.01, 1e-30, -1e-30, math.MaxFloat32, -math.MaxFloat32, inf, -inf, nan, 1e-45}
	etas := []float32{0.01, DefaultEta, 1, 0}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		edges = append(edges, float32(rng.NormFloat64()*3))
	}
	for _, eta := range etas {
		for i, m := range edges {
			for _, l := range []float32{m, edges[(i*7+3)%len(edges)], edges[(i*13+1)%len(edges)], m + eta, m - eta} {
				want, got := referenceStep(m, l, eta), step(m, l, eta)
				require.Equal(t, math.Float32bits(want), math.Float32bits(got), "m=%v l=%v eta=%v", m, l, eta)
			}
		}
	}
}

// referenceLearn is Learn as first written: one branch per feature for the
// direction of the location.
func referenceLearn(s *State, z []float64) {
	d := s.d
	el := s.el[:2*d.dim]
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
		if l > *m {
			*m += eta
		} else if l < *m {
			*m -= eta
		}
		*e = max(l, *e-decay)
	}
	s.n++
}

// TestLearnMatchesPlainCode runs two baselines over the same windows, one
// with Learn and one with the plain code, and requires the same state and
// the same scores, bit for bit, after every window. The windows mix counts
// that repeat (the location often equals l), bursts and quiet spells.
func TestLearnMatchesPlainCode(t *testing.T) {
	const dim = 53
	rng := rand.New(rand.NewPCG(9, 9))
	med, scale, groups := make([]float64, dim), make([]float64, dim), make([]uint8, dim)
	for j := range dim {
		med[j] = rng.Float64() * 3
		scale[j] = 0.1 + rng.Float64()
		groups[j] = uint8(j % 7)
		if j%11 == 0 {
			groups[j] = Ignored
		}
	}
	d := &Detector{Warmup: 40, Median: med, Scale: scale, Group: groups}
	require.NoError(t, d.init(dim))
	got, want := d.NewState().(*State), d.NewState().(*State)
	for i := range 3000 {
		z := make([]float64, dim)
		for j := range z {
			x := 0.0
			switch r := rng.Float64(); {
			case i%500 > 450: // a burst
				x = math.Round(50 * math.Exp(rng.NormFloat64()))
			case r < 0.3:
				x = 0
			case r < 0.6:
				x = float64(1 + j%4) // the same count window after window
			default:
				x = math.Round(float64(1+j%7) * math.Exp(0.5*rng.NormFloat64()))
			}
			z[j] = (math.Log1p(x) - med[j]) / scale[j]
		}
		w := stream.Window{Z: z}
		require.Equal(t, math.Float64bits(want.Score(w)), math.Float64bits(got.Score(w)), "window %d", i)
		got.Learn(w)
		referenceLearn(want, z)
		require.Equal(t, want.n, got.n)
		for k := range want.el {
			require.Equal(t, math.Float32bits(want.el[k]), math.Float32bits(got.el[k]), "window %d, state %d", i, k)
		}
	}
}

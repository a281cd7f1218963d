package models

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPValue checks that PValue is P(S ≥ s): equal to TailProb off atoms,
// the atom's own mass included on one, and super-uniform on the held-out
// scores themselves (P(p ≤ α) ≤ α), which the ensemble's Bonferroni bound
// needs.
func TestPValue(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	seqs := func(n int, f func(i int) float64) [][]float64 {
		s := make([][]float64, 4)
		for v := range s {
			for i := range n {
				s[v] = append(s[v], f(v*n+i))
			}
		}
		return s
	}
	tests := []struct {
		name string
		data [][]float64
		// s → want PValue; a negative want means "equal to TailProb".
		at map[float64]float64
	}{
		{"all zero (vmbase before its warm-up)", seqs(100, func(int) float64 { return 0 }),
			map[float64]float64{0: 1, -1: 1, 0.5: -1}},
		{"90 % zero, the rest continuous (zmax)", seqs(250, func(i int) float64 {
			if i%10 != 0 {
				return 0
			}
			return rng.ExpFloat64()
		}), map[float64]float64{0: 1, 0.3: -1, 2: -1, 50: -1}},
		{"continuous (iforest)", seqs(250, func(int) float64 { return 0.4 + 0.1*rng.Float64() }),
			map[float64]float64{0.3: 1, 0.45: -1, 0.49: -1, 0.6: -1}},
		{"atom in the middle", seqs(250, func(i int) float64 {
			if i%2 == 0 {
				return 1
			}
			return rng.Float64() * 2
		}), map[float64]float64{0.5: -1, 1.5: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Calibrate(tt.data, CalibrationConfig{WindowSeconds: 1})
			require.NoError(t, err)
			for s, want := range tt.at {
				if want < 0 {
					require.Equal(t, c.TailProb(s), c.PValue(s), "s=%v", s)
				} else {
					require.InDelta(t, want, c.PValue(s), 1e-12, "s=%v", s)
				}
				require.GreaterOrEqual(t, c.PValue(s), c.TailProb(s), "s=%v", s)
			}
			var pooled []float64
			for _, s := range tt.data {
				pooled = append(pooled, s...)
			}
			for _, alpha := range []float64{0.01, 0.05, 0.2, 0.5} {
				k := 0
				for _, s := range pooled {
					if c.PValue(s) <= alpha {
						k++
					}
				}
				// The quantile table has 257 points: allow its resolution.
				require.LessOrEqual(t, float64(k)/float64(len(pooled)), alpha+1.0/256, "α=%v", alpha)
			}
		})
	}
	// Where every held-out score is one atom, TailProb calls that very
	// score rare; PValue does not.
	c, err := Calibrate(seqs(100, func(int) float64 { return 0 }), CalibrationConfig{WindowSeconds: 1})
	require.NoError(t, err)
	require.InDelta(t, 0.5/400, c.TailProb(0), 1e-12)
	require.Equal(t, 1.0, c.PValue(0))
}

// BenchmarkPValue measures the per-detector, per-window cost of the
// ensemble's p-value against TailProb's, on a zmax-like calibration (an atom
// at 0 and a continuous top) at scores spread over its range.
func BenchmarkPValue(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	seqs := make([][]float64, 4)
	for v := range seqs {
		for range 5000 {
			x := 0.0
			if rng.IntN(3) == 0 {
				x = rng.ExpFloat64()
			}
			seqs[v] = append(seqs[v], x)
		}
	}
	c, err := Calibrate(seqs, CalibrationConfig{WindowSeconds: 1})
	require.NoError(b, err)
	xs := make([]float64, 1024)
	for i := range xs {
		xs[i] = seqs[i%4][i]
	}
	for _, f := range []struct {
		name string
		fn   func(float64) float64
	}{{"PValue", c.PValue}, {"TailProb", c.TailProb}} {
		b.Run(f.name, func(b *testing.B) {
			var sum float64
			for i := 0; b.Loop(); i++ {
				sum += f.fn(xs[i&1023])
			}
			_ = sum
		})
	}
}

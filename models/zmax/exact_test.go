package zmax

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// referenceScore is Score as first written: one running maximum.
func referenceScore(d *Detector, x []float64) float64 {
	best := math.Inf(-1)
	for j, v := range x {
		best = max(best, (v-d.median[j])/d.spread[j])
	}
	return best
}

// TestScoreMatchesOneMaximum compares Score (four running maxima) with the
// single running maximum bit for bit, on every remainder of the dimension by
// four and on inputs with ties and signed zeros. A NaN input gives NaN in
// both, though not always the same NaN (amd64's max merges the operands'
// bits); the scorer rejects non-finite rows before any detector sees them.
func TestScoreMatchesOneMaximum(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, dim := range []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 45, 53} {
		X := make([][]float64, 300)
		for i := range X {
			X[i] = make([]float64, dim)
			for j := range X[i] {
				X[i][j] = rng.NormFloat64()
			}
		}
		d := New()
		require.NoError(t, d.Fit(X, nil))
		probes := [][]float64{make([]float64, dim)}
		for range 2000 {
			p := make([]float64, dim)
			for j := range p {
				p[j] = 4 * rng.NormFloat64()
			}
			probes = append(probes, p)
		}
		tie := make([]float64, dim) // every feature at the same z
		for j := range tie {
			tie[j] = d.median[j] + 2*d.spread[j]
		}
		zeros := make([]float64, dim) // every feature at −0 or +0
		for j := range zeros {
			zeros[j] = d.median[j]
			if j%2 == 0 {
				zeros[j] = math.Copysign(0, -1)*d.spread[j] + d.median[j]
			}
		}
		probes = append(probes, tie, zeros)
		for i, p := range probes {
			require.Equal(t, math.Float64bits(referenceScore(d, p)), math.Float64bits(d.Score(p)), "dim %d probe %d", dim, i)
		}
		nan := make([]float64, dim)
		nan[dim/2] = math.NaN()
		require.True(t, math.IsNaN(d.Score(nan)), "dim %d", dim)
	}
}

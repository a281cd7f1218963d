package drift

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func sample(rng *rand.Rand, n int, f func() float64) [][]float64 {
	X := make([][]float64, n)
	for i := range X {
		X[i] = []float64{f(), 0}
		if rng.Float64() < 0.1 {
			X[i][1] = 1 // a point mass at 0 with a few ones
		}
	}
	return X
}

func TestPSI(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ref, err := Fit([]string{"a", "b"}, sample(rng, 20000, rng.NormFloat64), 0)
	require.NoError(t, err)
	require.NoError(t, ref.Validate())
	require.Len(t, ref.Edges[0], DefaultBins-1)
	require.Equal(t, []float64{0}, ref.Edges[1], "a point mass at 0 with some ones: two bins, ≤ 0 and > 0")

	for _, tc := range []struct {
		name   string
		gen    func() float64
		lo, hi float64
	}{
		{"same distribution", rng.NormFloat64, 0, 0.02},
		{"shifted by half a sigma", func() float64 { return rng.NormFloat64() + 0.5 }, Moderate, Major},
		{"shifted by two sigma", func() float64 { return rng.NormFloat64() + 2 }, Major, math.Inf(1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ref.NewCounter()
			for _, x := range sample(rng, 10000, tc.gen) {
				c.Add(x)
			}
			psi := c.PSI()
			require.GreaterOrEqual(t, psi[0], tc.lo)
			require.Less(t, psi[0], tc.hi)
			require.Less(t, psi[1], 0.02, "feature b did not move")
		})
	}
}

func TestPSIEdgeCases(t *testing.T) {
	require.Zero(t, PSI([]float64{0.5, 0.5}, []float64{0, 0}))
	require.InDelta(t, 0, PSI([]float64{0.5, 0.5}, []float64{7, 7}), 1e-12)
	require.Greater(t, PSI([]float64{1, 0}, []float64{0, 5}), Major, "an empty reference bin is floored, not infinite")
	require.False(t, math.IsInf(PSI([]float64{1, 0}, []float64{0, 5}), 0))
	require.Panics(t, func() { PSI([]float64{1}, []float64{1, 2}) })
	require.Equal(t, "stable", Level(0.05))
	require.Equal(t, "moderate", Level(0.1))
	require.Equal(t, "major", Level(0.3))
	require.Equal(t, 2, Bin([]float64{0, 1}, math.NaN()))
	require.Equal(t, 0, Bin([]float64{0, 1}, 0))
	require.Equal(t, 1, Bin([]float64{0, 1}, 0.5))
	_, err := Fit([]string{"a"}, nil, 10)
	require.Error(t, err)
}

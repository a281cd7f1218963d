package detectortest

import (
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/escapement/escapement/models"
	"github.com/stretchr/testify/require"
)

// Data returns n seeded rows of dim standardised features: a correlated
// benign cloud.
func Data(seed uint64, n, dim int) [][]float64 {
	r := rand.New(rand.NewPCG(seed, 99))
	X := make([][]float64, n)
	for i := range X {
		a := r.NormFloat64()
		X[i] = make([]float64, dim)
		for j := range X[i] {
			X[i][j] = 0.7*a + 0.5*r.NormFloat64()
		}
	}
	return X
}

// Run runs the conformance suite on detectors made by newDet (each call
// must return a fresh, unfitted detector with the same settings).
func Run(t *testing.T, newDet func() models.Detector) {
	const dim = 5
	X := Data(1, 300, dim)
	probe := append(Data(2, 20, dim), []float64{6, -6, 6, -6, 6}, make([]float64, dim))

	fit := func(seed uint64) models.Detector {
		d := newDet()
		require.NoError(t, d.Fit(X, rand.New(rand.NewPCG(seed, 1))))
		return d
	}

	t.Run("name", func(t *testing.T) {
		d := newDet()
		require.NotEmpty(t, d.Name())
		same, err := models.NewDetector(d.Name())
		require.NoError(t, err, "register the detector in models.NewDetector")
		require.Equal(t, d.Name(), same.Name())
	})

	t.Run("determinism", func(t *testing.T) {
		a, b := fit(7), fit(7)
		ab, err := a.MarshalBinary()
		require.NoError(t, err)
		bb, err := b.MarshalBinary()
		require.NoError(t, err)
		require.Equal(t, ab, bb, "the same seed must give the same model bytes")
		for _, x := range probe {
			require.Equal(t, a.Score(x), b.Score(x))
		}
	})

	t.Run("round trip", func(t *testing.T) {
		a := fit(3)
		b, err := a.MarshalBinary()
		require.NoError(t, err)
		c, err := models.NewDetector(a.Name())
		require.NoError(t, err)
		require.NoError(t, c.UnmarshalBinary(b))
		cb, err := c.MarshalBinary()
		require.NoError(t, err)
		require.Equal(t, b, cb)
		for _, x := range probe {
			sa, sc := a.Score(x), c.Score(x)
			require.False(t, math.IsNaN(sa) || math.IsInf(sa, 0), "score of a finite vector must be finite")
			require.Equal(t, sa, sc)
		}
	})

	t.Run("outlier scores higher", func(t *testing.T) {
		a := fit(5)
		var mean float64
		for _, x := range probe[:20] {
			mean += a.Score(x) / 20
		}
		require.Greater(t, a.Score(probe[20]), mean)
	})

	t.Run("schema", func(t *testing.T) {
		require.Panics(t, func() { newDet().Score(make([]float64, dim)) }, "Score before Fit")
		a := fit(1)
		require.Panics(t, func() { a.Score(make([]float64, dim+1)) }, "vector too long")
		require.Panics(t, func() { a.Score(make([]float64, dim-1)) }, "vector too short")
		require.Panics(t, func() { _ = newDet().Fit([][]float64{{1, 2}, {1}}, rand.New(rand.NewPCG(1, 1))) }, "ragged matrix")
		bad := Data(1, 10, dim)
		bad[4][2] = math.NaN()
		require.ErrorIs(t, newDet().Fit(bad, rand.New(rand.NewPCG(1, 1))), models.ErrNonFinite)
		bad[4][2] = math.Inf(1)
		require.ErrorIs(t, newDet().Fit(bad, rand.New(rand.NewPCG(1, 1))), models.ErrNonFinite)
		require.ErrorIs(t, newDet().Fit(nil, rand.New(rand.NewPCG(1, 1))), models.ErrEmpty)
		_, err := newDet().MarshalBinary()
		require.Error(t, err, "marshal before Fit")
	})

	t.Run("corrupt data", func(t *testing.T) {
		b, err := fit(1).MarshalBinary()
		require.NoError(t, err)
		for _, bad := range [][]byte{nil, []byte("junk"), b[:len(b)/2], b[:len(b)-1], append(append([]byte{}, b...), 1)} {
			require.Error(t, newDet().UnmarshalBinary(bad))
		}
	})

	t.Run("concurrent score", func(t *testing.T) {
		a := fit(2)
		want := make([]float64, len(probe))
		for i, x := range probe {
			want[i] = a.Score(x)
		}
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for i, x := range probe {
					if a.Score(x) != want[i] {
						t.Errorf("concurrent Score of probe %d differs", i)
					}
				}
			})
		}
		wg.Wait()
	})
}

package models

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStandardizer(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	X := make([][]float64, 4001)
	for i := range X {
		// Feature 0: lognormal around e^3 − 1; feature 1: almost always 0;
		// feature 2: constant.
		X[i] = []float64{math.Expm1(3 + 0.5*rng.NormFloat64()), 0, 7}
		if i%10 == 0 {
			X[i][1] = 5
		}
	}
	var s Standardizer
	require.NoError(t, s.Fit(X))
	require.Equal(t, 3, s.Dim())
	require.InDelta(t, 3, s.Median[0], 0.05)
	require.InDelta(t, 0.5, s.Scale[0], 0.05, "MAD·1.4826 estimates σ")
	require.InDelta(t, math.Expm1(3), s.Baseline(0), 1.5)
	// MAD is 0 on feature 1: the mean absolute deviation takes over.
	require.InDelta(t, math.Log1p(5)*401/4001*MeanADScale, s.Scale[1], 1e-9)
	require.Equal(t, DefaultMinScale, s.Scale[2], "constant feature gets the floor")
	require.Equal(t, 7.0, math.Round(s.Baseline(2)))

	z := s.Transform([]float64{math.Expm1(4), 0, 7}, nil)
	require.InDelta(t, 2, z[0], 0.25)
	require.Equal(t, 0.0, z[1])
	require.Equal(t, 0.0, z[2])
	require.Equal(t, z[0], s.Z(0, math.Expm1(4)))
	require.Equal(t, 0.0, s.Z(1, -3), "negative rates are read as zero")
	require.Panics(t, func() { s.Transform([]float64{1}, nil) })

	b, err := json.Marshal(&s)
	require.NoError(t, err)
	var r Standardizer
	require.NoError(t, json.Unmarshal(b, &r))
	require.Equal(t, s, r)
	require.Error(t, json.Unmarshal([]byte(`{"median":[1],"scale":[0]}`), &r))
	require.Error(t, json.Unmarshal([]byte(`{"median":[1,2],"scale":[1]}`), &r))

	require.ErrorIs(t, s.Fit(nil), ErrEmpty)
	require.ErrorIs(t, s.Fit([][]float64{{math.Inf(1)}}), ErrNonFinite)
}

// TestTransformTableIsExact checks that the small-integer log1p table changes
// no z-score: Transform must equal the plain formula bit for bit on integers
// inside and outside the table, fractions, negatives, tiny and huge values.
func TestTransformTableIsExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	X := make([][]float64, 500)
	for i := range X {
		X[i] = []float64{math.Round(50 * rng.ExpFloat64()), rng.ExpFloat64(), float64(i % 3)}
	}
	var s Standardizer
	require.NoError(t, s.Fit(X))
	require.Len(t, s.logs, smallInts)
	plain := func(v float64, j int) float64 { return (log1p(v) - s.Median[j]) / s.Scale[j] }
	values := []float64{0, math.Copysign(0, -1), 1, 2, 3, 17, 1022, 1023, 1024, 1025, 1e6, 0.5, 1e-5, 3e-4,
		1023.5, -1, -1e-9, math.MaxFloat64, 1 << 62, 1 << 63, -(1 << 63), math.SmallestNonzeroFloat64}
	for range 2000 {
		values = append(values, math.Floor(rng.Float64()*2048), rng.Float64()*2048, math.Exp(30*rng.Float64()))
	}
	dst := make([]float64, 3)
	for _, v := range values {
		s.Transform([]float64{v, v, v}, dst)
		for j := range dst {
			require.Equal(t, math.Float64bits(plain(v, j)), math.Float64bits(dst[j]), "feature %d, value %v", j, v)
		}
	}
	// A literal without the table (as tests build them) takes the plain path.
	lit := Standardizer{Median: s.Median, Scale: s.Scale}
	for _, v := range values[:40] {
		require.Equal(t, s.Transform([]float64{v, v, v}, nil), lit.Transform([]float64{v, v, v}, nil), "value %v", v)
	}
	// Decoding rebuilds the table.
	b, err := json.Marshal(&s)
	require.NoError(t, err)
	var back Standardizer
	require.NoError(t, json.Unmarshal(b, &back))
	require.Len(t, back.logs, smallInts)
}

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

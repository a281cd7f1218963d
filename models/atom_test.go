package models

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCalibrateAtom covers a detector that scores nearly every held-out
// window exactly 0: too few exceedances for a shape, so an exponential tail
// of the exceedances is assumed, its scale floored by MinTailScale.
func TestCalibrateAtom(t *testing.T) {
	seqs := make([][]float64, 4)
	for v := range seqs {
		seqs[v] = make([]float64, 150)
	}
	excess := []float64{0.01, 0.02, 0.03, 0.05, 0.09} // k = 5 < 10
	for i, y := range excess {
		seqs[i%4][40+i*10] = y
	}
	n := 600.0
	tests := []struct {
		name     string
		minScale float64
		sigma    float64
	}{
		{"mean excess", 0, 0.04},
		{"floored", 0.5, 0.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Calibrate(seqs, CalibrationConfig{WindowSeconds: 1, MinTailScale: tt.minScale})
			require.NoError(t, err)
			require.Equal(t, 5, c.Tail.N)
			require.Zero(t, c.Tail.U, "u sits on the atom")
			require.Zero(t, c.Tail.Xi)
			require.InDelta(t, tt.sigma, c.Tail.Sigma, 1e-9)
			require.InDelta(t, 5/n, c.Tail.Zeta, 1e-12)
			// A score far past the held-out maximum is far rarer than
			// anything the quantile table alone could say (0.5/n).
			require.Less(t, c.TailProb(8), 1e-5*0.5/n)
			require.InDelta(t, 5/n, c.TailProb(1e-12), 1e-6)
			require.NoError(t, c.Validate())
		})
	}
	// A steeper tail (no floor) calls a small rise rarer than the floored one.
	bare, err := Calibrate(seqs, CalibrationConfig{WindowSeconds: 1})
	require.NoError(t, err)
	floored, err := Calibrate(seqs, CalibrationConfig{WindowSeconds: 1, MinTailScale: 0.5})
	require.NoError(t, err)
	require.Less(t, bare.TailProb(0.5), floored.TailProb(0.5)/100)

	// No exceedance at all: no tail, the quantile table alone.
	c, err := Calibrate([][]float64{make([]float64, 300)}, CalibrationConfig{WindowSeconds: 1, MinTailScale: 0.5})
	require.NoError(t, err)
	require.Zero(t, c.Tail.N)
}

// TestCalibrateLogScaleTail: for a TailScaler's scores (MinTailScale > 0)
// a heavy fitted tail becomes exponential, so one far benign outlier cannot
// make every larger score look ordinary.
func TestCalibrateLogScaleTail(t *testing.T) {
	n := 600
	seq := make([]float64, n)
	for i := range seq {
		u := (float64(i) + 0.5) / float64(n)
		seq[i] = math.Pow(1-u, -1/1.5) // Pareto quantiles: a heavy tail
	}
	heavy, err := Calibrate([][]float64{seq}, CalibrationConfig{WindowSeconds: 1})
	require.NoError(t, err)
	require.Greater(t, heavy.Tail.Xi, 0.2)
	light, err := Calibrate([][]float64{seq}, CalibrationConfig{WindowSeconds: 1, MinTailScale: 0.5})
	require.NoError(t, err)
	require.Zero(t, light.Tail.Xi)
	require.Less(t, light.TailProb(2000), heavy.TailProb(2000)/1e6)
}

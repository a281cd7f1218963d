package zmax

import (
	"math"
	"math/rand/v2"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSingleFeatureSpike(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	X := make([][]float64, 5000)
	for i := range X {
		X[i] = make([]float64, 10)
		for j := range X[i] {
			X[i][j] = rng.NormFloat64()
		}
		X[i][3] *= 5 // a noisy feature: its spikes are ordinary
	}
	d := New()
	require.NoError(t, d.Fit(X, nil))
	base := make([]float64, 10)
	tests := []struct {
		name string
		j    int
		v    float64
		hot  bool
	}{
		{"quiet feature spikes", 0, 8, true},
		{"noisy feature at the same level", 3, 8, false},
		{"noisy feature far out", 3, 40, true},
		{"drop is not an anomaly", 0, -8, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := append([]float64(nil), base...)
			x[tt.j] = tt.v
			require.Equal(t, tt.hot, d.Score(x) > 2, "score %v", d.Score(x))
		})
	}
}

func TestRoundTripAndErrors(t *testing.T) {
	d := New()
	require.ErrorIs(t, d.Fit(nil, nil), errEmpty())
	require.Error(t, d.Fit([][]float64{{math.NaN()}}, nil))
	require.Panics(t, func() { d.Score([]float64{1}) })
	X := [][]float64{{1, 2}, {2, 3}, {3, 9}, {4, 1}}
	require.NoError(t, d.Fit(X, nil))
	data, err := d.MarshalBinary()
	require.NoError(t, err)
	var e Detector
	require.NoError(t, e.UnmarshalBinary(data))
	for _, x := range append(X, []float64{10, -3}) {
		require.Equal(t, d.Score(x), e.Score(x))
	}
	require.Error(t, e.UnmarshalBinary(data[:len(data)-3]))
	require.Panics(t, func() { d.Score([]float64{1, 2, 3}) })
}

func FuzzUnmarshal(f *testing.F) {
	d := New()
	require.NoError(f, d.Fit([][]float64{{1, 2}, {2, 5}}, nil))
	data, _ := d.MarshalBinary()
	f.Add(data)
	f.Fuzz(func(t *testing.T, b []byte) {
		var e Detector
		if e.UnmarshalBinary(b) == nil {
			_ = e.Score(make([]float64, e.Dim()))
		}
	})
}

func BenchmarkScore(b *testing.B) {
	// 53 features, as the simulator's catalog has.
	const dim = 53
	rng := rand.New(rand.NewPCG(3, 3))
	X := make([][]float64, 4096)
	for i := range X {
		X[i] = make([]float64, dim)
		for j := range X[i] {
			X[i][j] = rng.NormFloat64()
		}
	}
	d := New()
	require.NoError(b, d.Fit(X, nil))
	var sink float64
	cpu := cpuSeconds()
	for i := 0; b.Loop(); i++ {
		sink += d.Score(X[i%len(X)])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "vectors/s")
	b.ReportMetric(float64(b.N)/(cpuSeconds()-cpu), "vectors/cpu-s")
	_ = sink
}

// cpuSeconds is the user+system CPU time of the process so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

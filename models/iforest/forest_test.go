package iforest

import (
	"math"
	"math/rand/v2"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// gaussian returns n rows of d standard normal features.
func gaussian(rng *rand.Rand, n, d int) [][]float64 {
	X := make([][]float64, n)
	for i := range X {
		X[i] = make([]float64, d)
		for j := range X[i] {
			X[i][j] = rng.NormFloat64()
		}
	}
	return X
}

func fitted(t testing.TB, seed uint64, n, d int) (*Forest, [][]float64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	X := gaussian(rng, n, d)
	f := New(0, 0)
	require.NoError(t, f.Fit(X, rand.New(rand.NewPCG(seed, 2))))
	return f, X
}

func TestC(t *testing.T) {
	// exact is the paper's formula with the exact harmonic number.
	exact := func(n int) float64 {
		h := 0.0
		for i := 1; i < n; i++ {
			h += 1 / float64(i)
		}
		return 2*h - 2*float64(n-1)/float64(n)
	}
	tests := []struct {
		n    int
		want float64
		tol  float64
	}{
		{0, 0, 0},
		{1, 0, 0},
		{2, 1, 0},
		// 2(ln 255 + γ) − 2·255/256, worked by hand.
		{256, 2*(5.541263545158426+0.5772156649015329) - 1.9921875, 1e-12},
		{3, 2*(math.Ln2+0.5772156649015329) - 4.0/3, 1e-12},
	}
	for _, tt := range tests {
		require.InDelta(t, tt.want, C(tt.n), tt.tol, "n=%d", tt.n)
	}
	// The ln+γ approximation of H(n−1) is within 1/(n−1) of the exact sum.
	for _, n := range []int{3, 10, 64, 256, 4096} {
		require.InDelta(t, exact(n), C(n), 1/float64(n-1), "n=%d", n)
	}
	require.InDelta(t, 10.2447, C(256), 1e-4)
}

func TestOutliersScoreHigher(t *testing.T) {
	f, X := fitted(t, 7, 2000, 8)
	var inlier float64
	for _, x := range X[:200] {
		inlier += f.Score(x)
	}
	inlier /= 200
	require.Less(t, inlier, 0.5, "inliers should score below 0.5")

	tests := []struct {
		name string
		x    []float64
	}{
		// An outlier on a single axis of eight is not isolated faster than
		// the inliers (axis-parallel splits are spread over all axes and the
		// point is central on the others): that is why the ensemble pairs
		// the forest with the per-feature zmax detector.
		{"far on half the axes", []float64{5, 5, 5, 5, 0, 0, 0, 0}},
		{"far on all axes", []float64{5, 5, 5, 5, 5, 5, 5, 5}},
		{"negative", []float64{0, -6, 0, -6, 0, -6, 0, -6}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := f.Score(tt.x)
			require.Greater(t, s, inlier+0.1)
			require.Greater(t, s, 0.6)
			require.LessOrEqual(t, s, 1.0)
		})
	}
	require.Greater(t, f.Score([]float64{9, 9, 9, 9, 9, 9, 9, 9}), f.Score([]float64{2, 0, 0, 0, 0, 0, 0, 0}))
}

func TestDeterministic(t *testing.T) {
	a, X := fitted(t, 11, 1000, 5)
	b, _ := fitted(t, 11, 1000, 5)
	c, _ := fitted(t, 12, 1000, 5)
	ba, err := a.MarshalBinary()
	require.NoError(t, err)
	bb, err := b.MarshalBinary()
	require.NoError(t, err)
	bc, err := c.MarshalBinary()
	require.NoError(t, err)
	require.Equal(t, ba, bb, "same seed must give the same forest")
	require.NotEqual(t, ba, bc, "another seed should give another forest")
	for _, x := range X[:50] {
		require.Equal(t, a.Score(x), b.Score(x))
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	f, X := fitted(t, 3, 500, 6)
	data, err := f.MarshalBinary()
	require.NoError(t, err)
	var g Forest
	require.NoError(t, g.UnmarshalBinary(data))
	require.Equal(t, f.Dim(), g.Dim())
	for _, x := range X {
		require.Equal(t, f.Score(x), g.Score(x))
	}
	again, err := g.MarshalBinary()
	require.NoError(t, err)
	require.Equal(t, data, again)

	// Corruption is detected, not scored.
	require.Error(t, g.UnmarshalBinary(data[:len(data)-1]))
	bad := append([]byte(nil), data...)
	bad[0] = 'X'
	require.Error(t, g.UnmarshalBinary(bad))
}

func TestFitErrorsAndPanics(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	f := New(10, 16)
	require.Error(t, f.Fit(nil, rng))
	require.Error(t, f.Fit([][]float64{{1, math.NaN()}}, rng))
	require.Error(t, f.Fit([][]float64{{1, math.Inf(1)}}, rng))
	require.Panics(t, func() { _ = f.Fit([][]float64{{1, 2}, {1}}, rng) })
	require.Panics(t, func() { New(0, 0).Score([]float64{1}) })
	require.NoError(t, f.Fit([][]float64{{1, 2}, {3, 4}, {5, 6}}, rng))
	require.Panics(t, func() { f.Score([]float64{1}) })
	_, err := New(0, 0).MarshalBinary()
	require.Error(t, err)
}

func TestSmallAndConstantData(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	// Identical rows cannot be split: every point gets the same score.
	X := [][]float64{{1, 1}, {1, 1}, {1, 1}, {1, 1}}
	f := New(5, 0)
	require.NoError(t, f.Fit(X, rng))
	require.Equal(t, f.Score(X[0]), f.Score([]float64{100, -100}))
	// A single row still yields a usable forest.
	require.NoError(t, f.Fit([][]float64{{1, 2}}, rng))
	require.Equal(t, 0.5, f.Score([]float64{1, 2}))
}

func FuzzUnmarshal(f *testing.F) {
	fo, _ := fitted(f, 5, 64, 3)
	fo.Trees = 3
	small := New(3, 8)
	rng := rand.New(rand.NewPCG(1, 1))
	require.NoError(f, small.Fit(gaussian(rng, 32, 3), rng))
	data, err := small.MarshalBinary()
	require.NoError(f, err)
	f.Add(data)
	f.Add([]byte("IFOR"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var g Forest
		if g.UnmarshalBinary(b) != nil {
			return
		}
		x := make([]float64, g.Dim())
		s := g.Score(x)
		if math.IsNaN(s) {
			t.Fatalf("NaN score from a model that decoded")
		}
	})
}

func BenchmarkScore(b *testing.B) {
	f, X := fitted(b, 1, 4096, 45)
	var sink float64
	cpu := cpuSeconds()
	for i := 0; b.Loop(); i++ {
		sink += f.Score(X[i%len(X)])
	}
	// vectors/s is wall-clock throughput; vectors/cpu-s divides by the CPU
	// time the process got, which is the per-core figure on a shared host.
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "vectors/s")
	b.ReportMetric(float64(b.N)/(cpuSeconds()-cpu), "vectors/cpu-s")
	_ = sink
}

func BenchmarkFit(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	X := gaussian(rng, 20000, 45)
	for b.Loop() {
		f := New(0, 0)
		_ = f.Fit(X, rng)
	}
}

// cpuSeconds is the user+system CPU time of the process so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// referencePathLength walks one tree at a time in the stored layout: the
// definition the interleaved walk of PathLength must match bit for bit.
func referencePathLength(f *Forest, x []float64) float64 {
	ni, nl := 1<<f.height-1, 1<<f.height
	var sum float64
	for t := range f.Trees {
		i := 0
		for range f.height {
			n := f.splits[t*ni+i]
			i = 2*i + 1 + b2i(x[n.feature] >= float64(n.value))
		}
		sum += float64(f.leaves[t*nl+i-ni])
	}
	return sum / float64(f.Trees)
}

func TestPathLengthMatchesOneTreeAtATime(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	X := gaussian(rng, 2000, 9)
	probes := append(gaussian(rng, 300, 9), make([]float64, 9))
	for _, p := range probes[:50] {
		for j := range p {
			p[j] *= 1e3 // outside the training range
		}
	}
	for _, trees := range []int{1, 7, lanes, lanes + 1, 2*lanes - 1, 100} {
		for _, psi := range []int{64, 1, 2, 3, 256} { // heights 6, 0, 1, 2, 8
			f := New(trees, psi)
			require.NoError(t, f.Fit(X, rand.New(rand.NewPCG(1, uint64(trees)))))
			for _, p := range append(probes, X[:200]...) {
				require.Equal(t, math.Float64bits(referencePathLength(f, p)), math.Float64bits(f.PathLength(p)), "%d trees, ψ = %d", trees, psi)
			}
		}
	}
}

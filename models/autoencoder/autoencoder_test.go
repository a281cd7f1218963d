package autoencoder

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// manifold returns rows near a 2-dimensional plane in 6 dimensions.
func manifold(seed uint64, n int) [][]float64 {
	r := rand.New(rand.NewPCG(seed, 1))
	X := make([][]float64, n)
	for i := range X {
		a, b := r.NormFloat64(), r.NormFloat64()
		X[i] = []float64{a, b, a + b, a - b, 0.5 * a, -b}
		for j := range X[i] {
			X[i][j] += 0.05 * r.NormFloat64()
		}
	}
	return X
}

func TestParityWithGorgonia(t *testing.T) {
	d := &Detector{Steps: 50}
	require.NoError(t, d.Fit(manifold(1, 200), rand.New(rand.NewPCG(1, 2))))
	rows := manifold(2, 17)
	rows = append(rows, []float64{5, -5, 3, 0, 1, 9})
	want, err := forward(d.net.layers, rows)
	require.NoError(t, err)
	for i, r := range rows {
		require.InDelta(t, want[i], d.Score(r), 1e-12*max(1, want[i]), "row %d", i)
	}
}

func TestLearnsTheManifold(t *testing.T) {
	d := New()
	rng := rand.New(rand.NewPCG(7, 7))
	X := manifold(1, 500)
	before := glorot(append(append([]int{6}, DefaultHidden...), 6), rand.New(rand.NewPCG(7, 7)))
	require.NoError(t, d.Fit(X, rng))
	held := manifold(3, 200)
	var fitted, untrained float64
	for _, x := range held {
		fitted += d.Score(x)
		untrained += newNet(before).reconstructionError(x)
	}
	require.Less(t, fitted, untrained/5, "training must cut the held-out reconstruction error at least five-fold")
	off := []float64{1, 1, -2, 3, -1, 1} // far off the plane, values of normal size
	require.Greater(t, d.Score(off), 10*fitted/float64(len(held)))
}

func TestFitSettings(t *testing.T) {
	X := manifold(1, 10)
	require.ErrorContains(t, (&Detector{LearnRate: -1}).Fit(X, rand.New(rand.NewPCG(1, 1))), "positive")
	require.ErrorContains(t, (&Detector{Hidden: []int{0}}).Fit(X, rand.New(rand.NewPCG(1, 1))), "layer size 0")
	require.Panics(t, func() { _ = New().Fit(X, nil) })
}

func BenchmarkScore(b *testing.B) {
	d := &Detector{Steps: 20}
	X := manifold(1, 256)
	if err := d.Fit(X, rand.New(rand.NewPCG(1, 1))); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		d.Score(X[i&255])
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "vectors/s")
}

func BenchmarkScore32(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 3))
	X := make([][]float64, 256)
	for i := range X {
		X[i] = make([]float64, 32)
		for j := range X[i] {
			X[i][j] = r.NormFloat64()
		}
	}
	d := &Detector{Steps: 20}
	if err := d.Fit(X, rand.New(rand.NewPCG(1, 1))); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		d.Score(X[i&255])
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "vectors/s")
}

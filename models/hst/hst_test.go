package hst_test

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/models/detectortest"
	"github.com/escapement/escapement/models/hst"
)

// TestMassAndUpdate checks the masses and the ordering of scores: the root
// holds every reference row; points far outside the data score higher than
// points inside; Update re-counts the masses on a new reference window.
func TestMassAndUpdate(t *testing.T) {
	X := detectortest.Data(1, 2000, 4)
	d := &hst.Detector{Trees: 20, Depth: 10}
	require.NoError(t, d.Fit(X, rand.New(rand.NewPCG(1, 1))))
	inside := d.Score([]float64{0, 0, 0, 0})
	far := d.Score([]float64{8, -8, 8, -8})
	require.Greater(t, far, inside+3, "a point outside the data lands in light, shallow nodes")

	// The fleet moves: after Update on shifted data, the old centre is
	// now the outlier.
	Y := detectortest.Data(2, 2000, 4)
	for _, y := range Y {
		for j := range y {
			y[j] += 3
		}
	}
	d.Update(Y)
	require.Greater(t, d.Score([]float64{0, 0, 0, 0}), d.Score([]float64{3, 3, 3, 3}))
	require.Panics(t, func() { d.Update([][]float64{{1}}) })
}

func BenchmarkScore(b *testing.B) {
	X := detectortest.Data(1, 5000, 53)
	d := hst.New()
	if err := d.Fit(X, rand.New(rand.NewPCG(1, 1))); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var sink float64
	i := 0
	for b.Loop() {
		sink += d.Score(X[i%len(X)])
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "vectors/s")
	_ = sink
}

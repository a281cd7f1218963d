package ngram_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/models/ngram"
	"github.com/escapement/escapement/models/stream"
)

func TestScoreAndExplain(t *testing.T) {
	// 10 000 windows: gram 2 in all of them, gram 4 in one.
	seq := make([]stream.Window, 10000)
	for i := range seq {
		seq[i] = stream.Window{Z: []float64{0}, Grams: []stream.Gram{{Hash: 2, Count: 3}}}
	}
	seq[7].Grams = append(seq[7].Grams, stream.Gram{Hash: 4, Count: 1})
	d := ngram.New()
	require.NoError(t, d.Fit([][]stream.Window{seq}, nil))
	require.Equal(t, 2, d.Grams())

	n := 10000.0
	for _, tc := range []struct {
		name  string
		grams []stream.Gram
		want  float64
	}{
		{"empty sketch", nil, 0},
		{"seen in every window", []stream.Gram{{Hash: 2, Count: 9}}, -math.Log((n + 0.5) / (n + 0.5))},
		{"seen once", []stream.Gram{{Hash: 2, Count: 9}, {Hash: 4, Count: 1}}, -math.Log(1.5 / (n + 0.5))},
		{"never seen", []stream.Gram{{Hash: 6, Count: 1}}, -math.Log(0.5/(n+0.5)) + math.Log(2)},
		{"three never seen", []stream.Gram{{Hash: 6, Count: 1}, {Hash: 8, Count: 1}, {Hash: 10, Count: 1}}, -math.Log(0.5/(n+0.5)) + math.Log(4)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := d.NewState()
			require.InDelta(t, tc.want, st.Score(stream.Window{Z: []float64{0}, Grams: tc.grams}), 1e-5)
		})
	}

	st := d.NewState()
	ev := st.(stream.Explainer).Explain(stream.Window{Z: []float64{0}, Grams: []stream.Gram{{Hash: 2, Count: 9}, {Hash: 4, Count: 1}, {Hash: 7, Count: 2}}}, nil)
	require.Len(t, ev, 2, "the common n-gram is not evidence")
	require.Equal(t, uint64(7), ev[0].Gram.Hash, "the unseen one first")
	require.Equal(t, uint8(1), ev[0].Gram.Stream())
	require.Zero(t, ev[0].Baseline)
	require.Equal(t, 2.0, ev[0].Observed)
	require.Equal(t, uint64(4), ev[1].Gram.Hash)
	require.InDelta(t, 100, ev[1].Baseline, 1e-9, "one window in 10 000 = 100 per million")
}

func BenchmarkScore(b *testing.B) {
	seq := make([]stream.Window, 1000)
	for i := range seq {
		gs := make([]stream.Gram, 64)
		for k := range gs {
			gs[k] = stream.Gram{Hash: uint64(2 + 2*((i*7+k*13)%3000)), Count: 1}
		}
		seq[i] = stream.Window{Z: []float64{0}, Grams: gs}
	}
	d := ngram.New()
	if err := d.Fit([][]stream.Window{seq}, nil); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var sink float64
	i := 0
	for b.Loop() {
		sink += d.ScoreGrams(seq[i%len(seq)].Grams)
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "windows/s")
	_ = sink
}

package seq

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/escapement/escapement/models/internal/check"
	"github.com/stretchr/testify/require"
)

// synth returns traces of a small seeded Markov process over calls 1..8.
func synth(seed uint64, n, length int) [][]int {
	r := rand.New(rand.NewPCG(seed, 0))
	out := make([][]int, n)
	for i := range out {
		c := 1
		for range length {
			if r.Float64() < 0.9 {
				c = c%8 + 1 // mostly a cycle 1→2→…→8→1
			} else {
				c = r.IntN(8) + 1
			}
			out[i] = append(out[i], c)
		}
	}
	return out
}

func TestLMProbabilitiesSumToOne(t *testing.T) {
	for _, n := range []int{1, 2, 3, 5} {
		m := &LM{N: n, Discount: 0.7}
		require.NoError(t, m.Fit(synth(1, 20, 50)))
		for _, hist := range [][]int{{}, {1}, {3, 4}, {8, 1, 2, 3}, {99, 98}} {
			ids := m.voc.encode(hist, n, nil)
			ids = ids[len(ids)-(n-1):]
			var sum float64
			for w := 1; w <= m.voc.size(); w++ { // unknown and every known call
				sum += m.prob(append(append([]int{}, ids...), w))
			}
			require.InDelta(t, 1, sum, 1e-9, "n=%d history %v", n, hist)
		}
	}
}

func TestLMScoresNovelHigher(t *testing.T) {
	train := synth(1, 50, 200)
	m := NewLM()
	require.NoError(t, m.Fit(train))
	normal := synth(2, 1, 200)[0]
	rev := make([]int, len(normal))
	for i, c := range normal {
		rev[len(normal)-1-i] = c // the cycle backwards: each transition is rare
	}
	novel := append(append([]int{}, normal[:100]...), 40, 41, 42, 40, 41, 42)
	require.Greater(t, m.Score(rev), m.Score(normal)+1)
	require.Greater(t, m.Score(novel), m.Score(normal))
	require.Zero(t, m.Score(nil))
	for _, v := range m.NLL(rev, nil) {
		require.False(t, math.IsNaN(v) || math.IsInf(v, 0))
	}
}

func TestAggregate(t *testing.T) {
	nll := []float64{1, 1, 1, 5, 5, 1}
	require.InDelta(t, 14.0/6, Aggregate(nll, AggMean, 2), 1e-12)
	require.InDelta(t, 5, Aggregate(nll, AggWindow, 2), 1e-12)
	require.InDelta(t, 14.0/6, Aggregate(nll, AggWindow, 10), 1e-12)
	require.Zero(t, Aggregate(nil, AggWindow, 3))
}

func TestStide(t *testing.T) {
	s := NewStide(3)
	require.NoError(t, s.Fit([][]int{{1, 2, 3, 4, 1, 2, 3, 4}}))
	require.Zero(t, s.Score([]int{1, 2, 3, 4, 1}))
	// Windows (with the start pads): [p p 4] [p 4 3] [4 3 2] [3 2 1] are all unseen.
	require.Equal(t, 1.0, s.Score([]int{4, 3, 2, 1}))
	require.InDelta(t, 2.0/5, s.Score([]int{1, 2, 3, 9, 4}), 1e-12, "[2 3 9] and [3 9 4] unseen, [9 4 ?] has no window")
	require.Equal(t, [][]int{{2, 3, -2}, {3, -2, 4}}, s.Unseen([]int{1, 2, 3, 9, 4}, 10))
}

func TestFitErrors(t *testing.T) {
	for _, m := range []interface{ Fit([][]int) error }{NewStide(0), NewLM()} {
		require.ErrorIs(t, m.Fit(nil), check.ErrEmpty)
		require.ErrorIs(t, m.Fit([][]int{{}, {}}), check.ErrEmpty)
		require.ErrorContains(t, m.Fit([][]int{{1, -3}}), "non-negative")
	}
	require.ErrorContains(t, (&LM{Discount: 1.5}).Fit([][]int{{1}}), "discount")
	require.ErrorContains(t, (&LM{Agg: "median"}).Fit([][]int{{1}}), "aggregation")
	require.ErrorContains(t, NewStide(40).Fit([][]int{{1, 2}}), "order 40")
}

func TestScoreBeforeFitPanics(t *testing.T) {
	require.Panics(t, func() { NewLM().Score([]int{1}) })
	require.Panics(t, func() { NewStide(0).Score([]int{1}) })
}

func TestUnmarshalCorrupt(t *testing.T) {
	m := NewLM()
	require.NoError(t, m.Fit(synth(1, 5, 50)))
	b, err := m.MarshalBinary()
	require.NoError(t, err)
	for _, bad := range [][]byte{nil, b[:10], b[:len(b)-3], append(append([]byte{}, b...), 0)} {
		require.Error(t, NewLM().UnmarshalBinary(bad))
		require.Error(t, NewStide(0).UnmarshalBinary(bad))
	}
	_, err = NewLM().MarshalBinary()
	require.ErrorContains(t, err, "call Fit first")
}

func FuzzUnmarshalLM(f *testing.F) {
	m := &LM{N: 3}
	if err := m.Fit(synth(1, 3, 30)); err != nil {
		f.Fatal(err)
	}
	b, _ := m.MarshalBinary()
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		var m LM
		if m.UnmarshalBinary(data) == nil {
			_ = m.Score([]int{1, 2, 3, 4})
		}
	})
}

func BenchmarkLMScore(b *testing.B) {
	m := NewLM()
	if err := m.Fit(synth(1, 100, 500)); err != nil {
		b.Fatal(err)
	}
	tr := synth(2, 1, 1000)[0]
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		m.Score(tr)
	}
	b.ReportMetric(float64(b.N*len(tr))/b.Elapsed().Seconds(), "calls/s")
}

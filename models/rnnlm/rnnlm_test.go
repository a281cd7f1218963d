package rnnlm

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// grammar returns n seeded traces of a small process with a long-range
// dependency: a trace opens with call 10 or 20, cycles through calls 1..5
// (each step repeats the call with probability 0.2) 4 to 8 times, and
// closes with 11 after 10, 21 after 20: a dependency on a call 5 to 9
// steps back.
func grammar(seed uint64, n int) [][]int {
	r := rand.New(rand.NewPCG(seed, 3))
	out := make([][]int, n)
	for i := range out {
		open := 10 + 10*r.IntN(2)
		t := []int{open}
		c := 1
		for range 4 + r.IntN(5) {
			t = append(t, c)
			if r.Float64() >= 0.2 {
				c = c%5 + 1
			}
		}
		out[i] = append(t, open+1)
	}
	return out
}

func meanNLL(m *LM, traces [][]int) float64 {
	var s float64
	var n int
	var buf []float64
	for _, t := range traces {
		buf = m.NLL(t, buf)
		for _, v := range buf {
			s += v
		}
		n += len(buf)
	}
	return s / float64(n)
}

func TestLearnsGrammar(t *testing.T) {
	m := &LM{Embed: 8, Hidden: 16, Unroll: 10, Batch: 8, Epochs: 30, LR: 0.02, Seed: 3}
	require.NoError(t, m.Fit(grammar(1, 150)))
	held := grammar(2, 50)
	uniform := math.Log(float64(m.voc.out()))
	got := meanNLL(m, held)
	t.Logf("held-out NLL %.3f nats/call, uniform %.3f", got, uniform)
	require.Less(t, got, 0.35*uniform, "held-out NLL well below uniform")
	// The closing call depends on the opening one, 5–9 calls back: the
	// wrong closing call must be much less likely than the right one.
	var margin float64
	for _, tr := range held {
		wrong := append([]int(nil), tr...)
		wrong[len(wrong)-1] = 31 - tr[0] // 21 after 10, 11 after 20
		a, b := m.NLL(tr, nil), m.NLL(wrong, nil)
		margin += b[len(b)-1] - a[len(a)-1]
	}
	margin /= float64(len(held))
	t.Logf("wrong minus right closing-call NLL %.3f nats", margin)
	require.Greater(t, margin, 2.0, "the closing call is predicted from the opening one")

	w := m.net.w
	untrained := &LM{Agg: AggMean, Window: 1, voc: m.voc, net: newNet(newWeights(w.vin, w.vout, w.e, w.h, 3))}
	require.Less(t, got, 0.5*meanNLL(untrained, held), "training at least halves the held-out NLL")
}

// forward runs gorgonia's forward pass of w on one trace and returns the
// NLL of each call: the reference of the plain-Go inference.
func forward(t *testing.T, w *weights, voc *vocab, trace []int) []float64 {
	out, err := graphNLL(w, voc, trace)
	require.NoError(t, err)
	return out
}

func TestParityWithGorgonia(t *testing.T) {
	train := grammar(1, 20)
	m := &LM{Embed: 5, Hidden: 7, Unroll: 6, Batch: 3, Epochs: 2, Seed: 9}
	require.NoError(t, m.Fit(train))
	for _, tr := range [][]int{train[0], {20, 1, 2, 99, 3, 21}, {5}} {
		want := forward(t, m.net.w, m.voc, tr)
		got := m.NLL(tr, nil)
		require.InDeltaSlice(t, want, got, 1e-9)
	}
}

// TestSelfCheckRefusesBrokenGraph: with 128 cells gorgonia's graph computes
// another function than the LSTM (the inference and a plain triple loop
// agree with each other); Fit must refuse rather than train it. Neighbouring
// sizes pass the check.
func TestSelfCheckRefusesBrokenGraph(t *testing.T) {
	train := grammar(1, 20)
	for _, h := range []int{127, 129} {
		m := &LM{Embed: 8, Hidden: h, Unroll: 4, Batch: 2, Epochs: 0}
		require.NoError(t, m.Fit(train), "hidden %d", h)
	}
	m := &LM{Embed: 8, Hidden: 128, Unroll: 4, Batch: 2, Epochs: 0}
	err := m.Fit(train)
	require.Error(t, err)
	require.Contains(t, err.Error(), "choose another hidden size")
}

func TestAggregate(t *testing.T) {
	nll := []float64{1, 1, 4, 4, 1}
	for _, tc := range []struct {
		agg    string
		window int
		want   float64
	}{
		{AggMean, 2, 11.0 / 5},
		{AggSum, 2, 11},
		{AggWindow, 2, 4},
		{AggWindow, 3, 3},
		{AggWindow, 9, 11.0 / 5},
	} {
		require.InDelta(t, tc.want, Aggregate(nll, tc.agg, tc.window), 1e-12, "%s/%d", tc.agg, tc.window)
	}
	require.Zero(t, Aggregate(nil, AggSum, 3))
}

// TestDecay: a decay of 1 is no decay (the default), and a decay below 1
// trains other weights from the second epoch on.
func TestDecay(t *testing.T) {
	train := grammar(1, 20)
	fit := func(decay float64) []float64 {
		m := &LM{Embed: 4, Hidden: 6, Unroll: 5, Batch: 2, Epochs: 2, Seed: 3, Decay: decay}
		require.NoError(t, m.Fit(train))
		return m.NLL(train[0], nil)
	}
	require.Equal(t, fit(0), fit(1))
	require.NotEqual(t, fit(1), fit(0.5))
}

func TestProbeTrace(t *testing.T) {
	tr := [][]int{{1, 2}, {}, {3, 4, 5}, {6}}
	require.Equal(t, []int{1, 2, 3}, probeTrace(tr, 3))
	require.Equal(t, []int{1, 2, 3, 4, 5, 6}, probeTrace(tr, 24))
}

func TestConfigErrors(t *testing.T) {
	tr := [][]int{{1, 2, 3}}
	for _, m := range []*LM{{Hidden: -1}, {Hidden: 1}, {Batch: 1}, {Unroll: -2}, {LR: 2}, {Agg: "median"}, {Window: -1}, {Epochs: -1}, {Decay: 1.5}, {Decay: -0.5}} {
		require.Error(t, m.Fit(tr))
	}
}

func TestPackBalancesStreams(t *testing.T) {
	s := pack([][]int{{2, 3, 4}, {5}, {6, 7}}, 2, []int{0, 1, 2})
	require.Equal(t, [][]int{{0, 2, 3, 4}, {0, 5, 0, 6, 7}}, s)
}

// BenchmarkScore scores a 1000-call trace with the default sizes and an
// ADFA-LD-sized vocabulary of 150 calls.
func BenchmarkScore(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	train := make([][]int, 4)
	for i := range train {
		for range 200 {
			train[i] = append(train[i], r.IntN(150))
		}
	}
	m := &LM{Epochs: 1, Seed: 1}
	require.NoError(b, m.Fit(train))
	tr := make([]int, 1000)
	for i := range tr {
		tr[i] = r.IntN(150)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		m.Score(tr)
	}
	b.ReportMetric(float64(b.N*len(tr))/b.Elapsed().Seconds(), "calls/s")
}

func BenchmarkTrain(b *testing.B) {
	traces := grammar(1, 400)
	calls := 0
	for _, t := range traces {
		calls += len(t)
	}
	for range b.N {
		m := &LM{Embed: DefaultEmbed, Hidden: DefaultHidden, Epochs: 1, Seed: 1}
		require.NoError(b, m.Fit(traces))
	}
	b.ReportMetric(float64(b.N*calls)/b.Elapsed().Seconds(), "calls/s")
}

func TestFitContextStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	m := &LM{Embed: 4, Hidden: 4, Epochs: 1}
	require.ErrorIs(t, m.FitContext(ctx, grammar(1, 10)), context.Canceled)
	require.Panics(t, func() { m.Score([]int{1}) }, "still unfitted")
}

package scoring

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/features"
	"github.com/escapement/escapement/models/drift"
	"github.com/escapement/escapement/training"
)

// benign returns n windows from window from on, drawn like the fixture's
// training data, with feature f multiplied by mult.
func benign(seed uint64, from, n, f int, mult float64) []features.Row {
	rng := rand.New(rand.NewPCG(seed, 7))
	rows := make([]features.Row, n)
	for i := range rows {
		x := make([]float64, len(base))
		level := math.Exp(0.3 * rng.NormFloat64())
		for j, b := range base {
			x[j] = math.Round(b * level * math.Exp(0.4*rng.NormFloat64()))
		}
		x[f] *= mult
		s := t0 + int64(from+i)*sec
		rows[i] = features.Row{VMID: "vm-" + string(rune('a'+i%6)), Start: s, End: s + sec, Values: x}
	}
	return rows
}

func TestFeaturePSIGauges(t *testing.T) {
	require.NotNil(t, fixture.Drift, "training stores a drift reference")
	reg := prometheus.NewPedanticRegistry()
	sc := NewScorer(fixture, Config{DriftWindow: 1000}, nil, reg)
	psi := func(f string) float64 { return testutil.ToFloat64(sc.drift.gauge.WithLabelValues(f)) }

	for _, r := range benign(21, 0, 4000, 0, 1) {
		_, err := sc.Score(r)
		require.NoError(t, err)
	}
	for _, f := range names {
		require.Less(t, psi(f), 0.1, "benign traffic like the training data: %s", f)
	}
	// The sliding window forgets: 4 000 shifted rows replace the benign ones.
	for _, r := range benign(22, 4000, 4000, 0, 3) {
		_, err := sc.Score(r)
		require.NoError(t, err)
	}
	require.Greater(t, psi(names[0]), 0.25, "tripled %s", names[0])
	for _, f := range names[1:] {
		require.Less(t, psi(f), 0.1, "%s did not move", f)
	}
	require.Equal(t, len(names), testutil.CollectAndCount(reg, "escapement_feature_psi"))

	// The model is swapped in place (hot reload) for one trained on the
	// shifted traffic: the window starts afresh on the new reference.
	shifted := benign(23, 8000, 6000, 0, 3)
	next, err := training.Fit(shifted, names, training.TrainConfig{Seed: 6, Trees: 20})
	require.NoError(t, err)
	sc.a = next
	for _, r := range benign(24, 14000, 4000, 0, 3) {
		_, err := sc.Score(r)
		require.NoError(t, err)
	}
	require.Same(t, next.Drift, sc.drift.ref)
	for _, f := range names {
		require.Less(t, psi(f), 0.1, "traffic like the new model's training data: %s", f)
	}

	// A model without a reference exports nothing.
	old := *fixture
	old.Drift = nil
	sc.a = &old
	_, err = sc.Score(benign(25, 20000, 1, 0, 1)[0])
	require.NoError(t, err)
	require.Zero(t, testutil.CollectAndCount(reg, "escapement_feature_psi"))

	// A second monitor in the same process shares the gauges; a negative
	// window disables monitoring.
	require.NotNil(t, newDriftMonitor(0, reg))
	require.Nil(t, NewScorer(fixture, Config{DriftWindow: -1}, nil, prometheus.NewRegistry()).drift)
}

// TestBinLinearMatchesBin compares the scorer's branch-free bin count with
// drift.Bin on references fitted by drift.Fit, at the edges themselves,
// between them, beyond them and on NaN and infinities.
func TestBinLinearMatchesBin(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	X := make([][]float64, 5000)
	for i := range X {
		X[i] = []float64{
			math.Round(20 * math.Exp(rng.NormFloat64())), // counts
			rng.NormFloat64(),    // continuous
			float64(rng.IntN(3)), // three values: few edges
			0,                    // constant: no edges
		}
	}
	ref, err := drift.Fit([]string{"a", "b", "c", "d"}, X, 0)
	require.NoError(t, err)
	require.NoError(t, ref.Validate())
	for j, edges := range ref.Edges {
		probes := []float64{math.NaN(), math.Inf(1), math.Inf(-1), 0, math.Copysign(0, -1), -1e300, 1e300}
		for _, e := range edges {
			probes = append(probes, e, math.Nextafter(e, math.Inf(1)), math.Nextafter(e, math.Inf(-1)))
		}
		for _, x := range X {
			probes = append(probes, x[j])
		}
		for _, v := range probes {
			require.Equal(t, drift.Bin(edges, v), binLinear(edges, v), "feature %d value %v", j, v)
		}
	}
}

func BenchmarkDriftObserve(b *testing.B) {
	rows := benign(1, 0, 1024, 0, 1)
	m := newDriftMonitor(0, nil)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.observe(fixture.Drift, rows[i%len(rows)].Values)
	}
}

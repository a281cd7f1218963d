package scoring

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/features"
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

	// A monitor for another model in the same process (hot reload) reuses
	// the gauges.
	again := newDriftMonitor(fixture.Drift, 0, reg)
	require.NotNil(t, again)
	require.Zero(t, testutil.CollectAndCount(reg, "escapement_feature_psi"), "reset until the new scorer publishes")

	// Artifacts without a reference, or a negative window: no monitor.
	old := *fixture
	old.Drift = nil
	require.Nil(t, NewScorer(&old, Config{}, nil, prometheus.NewRegistry()).drift)
	require.Nil(t, NewScorer(fixture, Config{DriftWindow: -1}, nil, prometheus.NewRegistry()).drift)
}

func BenchmarkDriftObserve(b *testing.B) {
	rows := benign(1, 0, 1024, 0, 1)
	m := newDriftMonitor(fixture.Drift, 0, nil)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.observe(rows[i%len(rows)].Values)
	}
}

package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/anomaly"
	"github.com/escapement/escapement/events"
	"github.com/escapement/escapement/features"
)

// TestKafkaPipeline runs sim → escapement.events.v1 → featurize stage →
// escapement.features.v1 → score stage → escapement.anomalies.v1 on a real
// Apache Kafka with at least 3 partitions per topic, and checks the output
// against the featurizer and the scorer run directly on the same events:
// every window arrives, every flood scenario's VM gets an incident, and after
// de-duplicating by (id, revision) the incidents are exactly the reference's.
// Then kcat, a client we did not write, reads the same records.
func TestKafkaPipeline(t *testing.T) {
	cfg := realKafka(t)
	began := time.Now()
	f := newITFleet(t, 8, 4, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	groups := map[string]string{}
	for _, topic := range []string{"feat", "score", "check-features", "check-anomalies"} {
		groups[topic] = "escapement-it-" + f.runID + "-" + topic
	}
	startAtEnd(t, cfg, groups["feat"], events.Topic)
	startAtEnd(t, cfg, groups["score"], features.Topic)
	startAtEnd(t, cfg, groups["check-features"], features.Topic)
	startAtEnd(t, cfg, groups["check-anomalies"], anomaly.Topic)

	// Publish everything first, so the featurizer's watermark runs on event
	// time while it catches up and never closes a window early.
	f.publish(ctx, t, cfg, 0, nil)
	published := time.Since(began)

	startFeaturizer(ctx, t, cfg, groups["feat"], "feat")
	startScorer(ctx, t, cfg, groups["score"], "score", nil)
	rowsOut := consume(ctx, t, cfg, groups["check-features"], features.Topic)
	anomOut := consume(ctx, t, cfg, groups["check-anomalies"], anomaly.Topic)

	wantRows := f.windowKeys()
	var ft featureTally
	var at anomalyTally
	done := waitUntil(60*time.Second, "every window and incident", func() bool {
		ft = tallyFeatures(t, rowsOut.snapshot(), f.vms)
		at = tallyAnomalies(t, anomOut.snapshot(), f.vms)
		return len(ft.rows) >= len(wantRows) && len(at.recs) >= len(f.want)
	})
	t.Logf("%d/%d windows, %d/%d (id, revision) pairs after %s (published in %s)",
		len(ft.rows), len(wantRows), len(at.recs), len(f.want), time.Since(began).Round(time.Millisecond), published.Round(time.Millisecond))
	// A late duplicate is still counted: give the topic a moment to settle.
	time.Sleep(time.Second)
	ft = tallyFeatures(t, rowsOut.snapshot(), f.vms)
	at = tallyAnomalies(t, anomOut.snapshot(), f.vms)

	for k := range wantRows {
		require.Contains(t, ft.rows, k, "window of %s at %d lost", k.vm, k.start)
	}
	require.Len(t, ft.rows, len(wantRows), "windows that the featurizer run directly does not produce")
	for _, r := range f.rows {
		require.InDeltaSlice(t, r.Values, ft.rows[rowKey{r.VMID, r.Start}], 1e-9, "features of %s at %d", r.VMID, r.Start)
	}
	flagged := at.vmsWithIncidents()
	for vm := range f.floods {
		require.True(t, flagged[vm], "flood scenario VM %s has no incident", vm)
	}
	requireSameIncidents(t, f.want, at.recs)
	require.True(t, done)
	t.Logf("real Kafka pipeline: %d events, %d windows (%d duplicate rows), %d incidents in %d (id, revision) pairs from %d records (%d duplicates), %s",
		f.nev, len(ft.rows), ft.dups, len(at.ids), len(at.recs), at.msgs, at.dups, time.Since(began).Round(time.Millisecond))

	t.Run("kcat", func(t *testing.T) { kcatReadsAnomalies(t, cfg, f.vms, at.recs) })
}

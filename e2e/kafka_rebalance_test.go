package e2e

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/anomaly"
	"github.com/escapement/escapement/events"
	"github.com/escapement/escapement/features"
	"github.com/escapement/escapement/transport"
)

// TestKafkaScorerRebalance runs two score stages in one consumer group on a
// real Apache Kafka, feeds them this run's feature rows window by window and
// crashes the one that holds partitions a third of the way in: the other
// takes every partition over, no window goes unscored, and the incidents,
// de-duplicated by (id, revision), are exactly those of one scorer on the same
// rows (the new owner replays open incidents and reproduces their ids).
func TestKafkaScorerRebalance(t *testing.T) {
	cfg := realKafka(t)
	began := time.Now()
	f := newITFleet(t, 8, 4, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	group := "escapement-it-" + f.runID + "-score"
	check := "escapement-it-" + f.runID + "-check-anomalies"
	startAtEnd(t, cfg, group, features.Topic)
	startAtEnd(t, cfg, check, anomaly.Topic)
	parts := partitionsOf(ctx, t, cfg, features.Topic)

	handled := newHandledLog(f.vms)
	a := startScorer(ctx, t, cfg, group, "score-a", handled)
	waitFor(t, 30*time.Second, "score-a to own every partition", func() bool { return len(a.h.assignment()) == len(parts) })
	b := startScorer(ctx, t, cfg, group, "score-b", handled)
	waitFor(t, 30*time.Second, "the group to split the partitions", func() bool {
		na, nb := len(a.h.assignment()), len(b.h.assignment())
		return na > 0 && nb > 0 && na+nb == len(parts)
	})
	t.Logf("split after %s: score-a %v, score-b %v", time.Since(began).Round(time.Millisecond), a.h.assignment(), b.h.assignment())
	anomOut := consume(ctx, t, cfg, check, anomaly.Topic)

	// Feed the rows one window at a time, as the featurizer emits them.
	windows := map[int64][]features.Row{}
	for _, r := range f.rows {
		windows[r.Start] = append(windows[r.Start], r)
	}
	starts := make([]int64, 0, len(windows))
	for s := range windows {
		starts = append(starts, s)
	}
	slices.Sort(starts)
	prod, err := transport.NewProducer(withID(cfg, "rows-"+f.runID), testLog(), nil)
	require.NoError(t, err)
	defer prod.Close()
	var crashedAt time.Duration
	for i, s := range starts {
		var msgs []transport.Message
		for _, r := range windows[s] {
			data, err := features.EncodeRows([]features.Row{r})
			require.NoError(t, err)
			msgs = append(msgs, transport.Message{Topic: features.Topic, Key: []byte(r.VMID), Value: data,
				Headers: []transport.Header{{Key: events.HeaderContentType, Value: []byte(features.ContentType)},
					{Key: events.HeaderSchema, Value: []byte(features.SchemaVersion)}}})
		}
		require.NoError(t, prod.Produce(ctx, msgs...))
		if i == len(starts)/3 {
			// Scenarios start 10 s into the run: a third of the way in,
			// incidents are open and their rows held uncommitted.
			crashedAt = time.Since(began)
			a.stop(true)
			t.Logf("score-a crashed at window %d/%d (%s)", i+1, len(starts), crashedAt.Round(time.Millisecond))
		}
		time.Sleep(120 * time.Millisecond)
	}
	waitFor(t, 30*time.Second, "score-b to own every partition", func() bool { return len(b.h.assignment()) == len(parts) })

	wantRows := f.windowKeys()
	var at anomalyTally
	ok := waitUntil(45*time.Second, "every window scored and every incident", func() bool {
		covered, _ := handled.counts(wantRows)
		at = tallyAnomalies(t, anomOut.snapshot(), f.vms)
		return covered == len(wantRows) && len(at.recs) >= len(f.want)
	})
	time.Sleep(time.Second)
	at = tallyAnomalies(t, anomOut.snapshot(), f.vms)
	covered, again := handled.counts(wantRows)
	require.Equal(t, len(wantRows), covered, "feature windows never scored (ok=%v)", ok)
	requireSameIncidents(t, f.want, at.recs)
	wantIDs := map[string]bool{}
	for k := range f.want {
		wantIDs[k.id] = true
	}
	require.Equal(t, wantIDs, at.ids, "incident ids differ from one scorer's")
	require.Equal(t, len(parts), len(b.h.assignment()), "score-b did not take score-a's partitions over")
	t.Logf("rebalance: %d windows over %d partitions, %d scored again after the handover, %d incidents in %d (id, revision) pairs from %d records (%d duplicates), %s",
		len(wantRows), len(parts), again, len(at.ids), len(at.recs), at.msgs, at.dups, time.Since(began).Round(time.Millisecond))
}

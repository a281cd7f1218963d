package e2e

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/anomaly"
	"github.com/escapement/escapement/events"
	"github.com/escapement/escapement/features"
	"github.com/escapement/escapement/transport"
)

// scriptBroker returns the environment that addresses the broker of
// KAFKA_BROKERS through scripts/kafka, or skips the test when that broker is
// not one scripts/kafka runs (the test must not restart someone else's).
func scriptBroker(t *testing.T, cfg transport.Config) []string {
	t.Helper()
	if len(cfg.Brokers) != 1 {
		t.Skipf("KAFKA_BROKERS names %d brokers: the restart test restarts the single broker of scripts/kafka", len(cfg.Brokers))
	}
	host, port, err := net.SplitHostPort(cfg.Brokers[0])
	require.NoError(t, err)
	if host != "127.0.0.1" && host != "localhost" {
		t.Skipf("KAFKA_BROKERS=%s is not the local broker of scripts/kafka (127.0.0.1): not restarting it", cfg.Brokers[0])
	}
	env := append(os.Environ(), "KAFKA_PORT="+port)
	cmd := exec.Command("bash", "../scripts/kafka", "status")
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "running at 127.0.0.1:"+port) {
		t.Skipf("scripts/kafka does not run the broker at %s (%s): start it with `KAFKA_PORT=%s bash scripts/kafka start` to run the restart test",
			cfg.Brokers[0], strings.TrimSpace(string(out)), port)
	}
	return env
}

// supervise keeps one stage member running until ctx ends, starting a new
// one when it fails, as a container's restart policy does, and counts the
// restarts.
func supervise(ctx context.Context, t *testing.T, start func(ctx context.Context) *stageMember) (restarts *atomic.Int32, wait func()) {
	restarts = &atomic.Int32{}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			m := start(tolerating(ctx))
			<-m.done
			m.stop(false)
			if ctx.Err() != nil {
				return
			}
			restarts.Add(1)
			t.Logf("%s failed (%v); starting it again", m.name, m.err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	}()
	return restarts, wg.Wait
}

// TestKafkaBrokerRestart restarts the Apache Kafka broker (scripts/kafka
// restart) while the collector publishes and the featurize and score stages
// run: producers retry, groups rejoin, members that fail are started again,
// and afterwards every window is on the features topic and every flood
// scenario's VM has an incident. Duplicates are counted.
func TestKafkaBrokerRestart(t *testing.T) {
	cfg := realKafka(t)
	env := scriptBroker(t, cfg)
	began := time.Now()
	f := newITFleet(t, 8, 4, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	groups := map[string]string{}
	for _, g := range []string{"feat", "score", "check-features", "check-anomalies"} {
		groups[g] = "escapement-it-" + f.runID + "-" + g
	}
	startAtEnd(t, cfg, groups["feat"], events.Topic)
	startAtEnd(t, cfg, groups["score"], features.Topic)
	startAtEnd(t, cfg, groups["check-features"], features.Topic)
	startAtEnd(t, cfg, groups["check-anomalies"], anomaly.Topic)

	sctx, stopStages := context.WithCancel(ctx)
	featRestarts, waitFeat := supervise(sctx, t, func(ctx context.Context) *stageMember {
		return startFeaturizer(ctx, t, cfg, groups["feat"], "feat")
	})
	scoreRestarts, waitScore := supervise(sctx, t, func(ctx context.Context) *stageMember {
		return startScorer(ctx, t, cfg, groups["score"], "score", nil)
	})
	rowsOut := consumeAcrossFailures(sctx, t, cfg, groups["check-features"], features.Topic)
	anomOut := consumeAcrossFailures(sctx, t, cfg, groups["check-anomalies"], anomaly.Topic)

	// Publish at twice real time; restart the broker 4 s of data in.
	restarted := make(chan error, 1)
	var outage time.Duration
	f.publish(ctx, t, cfg, 250*time.Millisecond, func(i int) {
		if i != 8 {
			return
		}
		go func() {
			t0 := time.Now()
			cmd := exec.CommandContext(ctx, "bash", "../scripts/kafka", "restart")
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			outage = time.Since(t0)
			if err != nil {
				t.Logf("scripts/kafka restart: %s", out)
			}
			restarted <- err
		}()
	})
	require.NoError(t, <-restarted, "restart the broker")
	t.Logf("broker restarted in %s; everything published after %s", outage.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))

	wantRows := f.windowKeys()
	var ft featureTally
	var at anomalyTally
	waitUntil(60*time.Second, "every window and every flood incident", func() bool {
		ft = tallyFeatures(t, rowsOut.snapshot(), f.vms)
		at = tallyAnomalies(t, anomOut.snapshot(), f.vms)
		flagged := at.vmsWithIncidents()
		for vm := range f.floods {
			if !flagged[vm] {
				return false
			}
		}
		return len(ft.rows) >= len(wantRows) && len(at.recs) >= len(f.want)
	})
	time.Sleep(time.Second)
	stopStages()
	waitFeat()
	waitScore()
	ft = tallyFeatures(t, rowsOut.snapshot(), f.vms)
	at = tallyAnomalies(t, anomOut.snapshot(), f.vms)

	lost := 0
	for k := range wantRows {
		if _, ok := ft.rows[k]; !ok {
			lost++
			if lost <= 5 {
				t.Logf("window of %s at %d lost", k.vm, k.start)
			}
		}
	}
	require.Zero(t, lost, "of %d windows lost across the broker restart", len(wantRows))
	// Windows open when the featurizer's partitions were revoked are
	// flushed then and finished by the next owner (two partial rows), and
	// the next owner starts the VMs' n-gram and novelty history afresh, so
	// feature values after the restart differ from one uninterrupted
	// featurizer's: report how many.
	differ := 0
	for _, r := range f.rows {
		got := ft.rows[rowKey{r.VMID, r.Start}]
		for i := range r.Values {
			if d := got[i] - r.Values[i]; d > 1e-9 || d < -1e-9 {
				differ++
				break
			}
		}
	}
	same := 0
	for k := range f.want {
		if _, ok := at.recs[k]; ok {
			same++
		}
	}
	t.Logf("broker restart: %d windows (%d duplicate rows, %d differing from the reference), %d incidents in %d (id, revision) pairs (%d of the reference's %d) from %d records (%d duplicates); featurizer restarts %d, scorer restarts %d; %s",
		len(ft.rows), ft.dups, differ, len(at.ids), len(at.recs), same, len(f.want), at.msgs, at.dups,
		featRestarts.Load(), scoreRestarts.Load(), time.Since(began).Round(time.Millisecond))
	flagged := at.vmsWithIncidents()
	for vm := range f.floods {
		if !flagged[vm] {
			for k, r := range f.want {
				if r.VM.ID == vm {
					t.Logf("reference incident of %s: %s rev %d first window %s", vm, k.id, k.rev, r.FirstSeen)
				}
			}
		}
		require.True(t, flagged[vm], "flood scenario VM %s has no incident after the broker restart", vm)
	}
	if differ == 0 {
		requireSameIncidents(t, f.want, at.recs)
	}
}

// consumeAcrossFailures is consume with a new group member whenever the
// group fails (a partition reader that cannot reach the broker ends Run).
func consumeAcrossFailures(ctx context.Context, t *testing.T, cfg transport.Config, group, topic string) *collector {
	t.Helper()
	c := &collector{}
	go func() {
		for ctx.Err() == nil {
			g, err := transport.NewGroup(cfg, fastGroup(group, topic), testLog(), nil)
			if err == nil {
				err = g.Run(ctx, c)
				_ = g.Close()
			}
			if err != nil && ctx.Err() == nil {
				t.Logf("checking consumer of %s failed (%v); starting it again", topic, err)
				time.Sleep(time.Second)
			}
		}
	}()
	return c
}

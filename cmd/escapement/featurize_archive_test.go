package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/collectors/sim"
	"github.com/escapement/escapement/datasets"
	"github.com/escapement/escapement/datasets/archive"
	"github.com/escapement/escapement/events"
	"github.com/escapement/escapement/features"
	"github.com/escapement/escapement/transport"
	"github.com/escapement/escapement/transport/embedded"
)

func testLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestFeaturizeArchives runs `escapement featurize --archive DIR
// --archive-events DIR` against an embedded broker: the featurizer and both
// archivers share the process (and its metrics registry), and both
// archives fill with what flowed through.
func TestFeaturizeArchives(t *testing.T) {
	b, err := embedded.Start(embedded.Config{DataDir: t.TempDir(), Partitions: 2})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// 20 s of a 3-VM fleet, published before the featurizer starts.
	fleet, err := sim.New(sim.Config{Seed: 5, VMs: 3, Duration: 20 * time.Second})
	require.NoError(t, err)
	var evs []events.Event
	require.NoError(t, fleet.Step(fleet.End(), func(batch []events.Event) error {
		evs = append(evs, batch...)
		return nil
	}))
	kcfg := transport.Config{Brokers: []string{b.Addr()}}.WithDefaults()
	require.NoError(t, ensureTopics(ctx, kcfg, 2, testLogger()))
	prod, err := transport.NewProducer(kcfg, nil, nil)
	require.NoError(t, err)
	defer prod.Close()
	enc := events.NewEncoder()
	var msgs []transport.Message
	for i := 0; i < len(evs); i += 5000 {
		batch := evs[i:min(i+5000, len(evs))]
		v, err := enc.Encode(batch)
		require.NoError(t, err)
		msgs = append(msgs, transport.Message{Topic: events.Topic, Key: []byte(batch[0].VMID), Value: v})
	}
	require.NoError(t, prod.Produce(ctx, msgs...))

	featDir, evDir := t.TempDir(), t.TempDir()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	var stderr bytes.Buffer
	go func() {
		done <- cmdFeaturize(runCtx, []string{"--brokers", b.Addr(), "--partitions", "2", "--archive", featDir, "--archive-events", evDir,
			"--archive-roll-interval", "500ms", "--lateness", "0s", "--log-level", "warn"}, nil, &stderr)
	}()
	countEvents := func() int {
		n := 0
		paths, _ := archive.Files(evDir, time.Time{}, time.Time{})
		for _, p := range paths {
			_ = datasets.ReadEvents(p, func(e []events.Event) error { n += len(e); return nil })
		}
		return n
	}
	countRows := func() int {
		n := 0
		_ = archive.Read(featDir, time.Time{}, time.Time{}, func(_ []string, rows []features.Row) error { n += len(rows); return nil })
		return n
	}
	deadline := time.Now().Add(45 * time.Second)
	for (countEvents() < len(evs) || countRows() == 0) && time.Now().Before(deadline) {
		select {
		case err := <-done:
			t.Fatalf("featurize stopped: %v\n%s", err, stderr.String())
		case <-time.After(200 * time.Millisecond):
		}
	}
	stop()
	err = <-done
	require.True(t, err == nil || errors.Is(err, context.Canceled), "featurize: %v\n%s", err, stderr.String())
	require.Equal(t, len(evs), countEvents(), "every event archived once")
	require.Positive(t, countRows(), "feature rows archived")
	require.True(t, archive.IsArchive(featDir))
}

package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/collectors"
	"github.com/escapement/escapement/collectors/sim"
	"github.com/escapement/escapement/events"
	"github.com/escapement/escapement/features"
	"github.com/escapement/escapement/transport"
)

type rowKey struct {
	vm    string
	start int64
}

// TestSimThroughKafkaToFeatures runs sim → events topic → featurize stage →
// features topic on the embedded broker across 3 partitions and checks every
// feature row against the featurizer run directly on the same events.
func TestSimThroughKafkaToFeatures(t *testing.T) {
	cfg := startBroker(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	fleet, err := sim.New(sim.Config{Seed: 42, VMs: 6, Duration: 40 * time.Second, Scenarios: 4, Placebos: 1})
	require.NoError(t, err)
	// Collect the fleet's events in 500 ms steps, as the realtime collector
	// hands them to the publisher, flushing after each step.
	var steps [][]events.Event
	for now := fleet.Now(); now < fleet.End(); {
		now = min(now+int64(500*time.Millisecond), fleet.End())
		var step []events.Event
		require.NoError(t, fleet.Step(now, func(evs []events.Event) error {
			step = append(step, evs...)
			return nil
		}))
		steps = append(steps, step)
	}
	var all []events.Event
	for _, st := range steps {
		all = append(all, st...)
	}
	require.NotEmpty(t, all)

	// Expected rows: the featurizer run directly on the events.
	fc := features.Config{Window: time.Second}
	want := map[rowKey][]float64{}
	ref := features.New(fc)
	ref.Add(all, func(r features.Row) { want[rowKey{r.VMID, r.Start}] = r.Values })
	ref.Flush(func(r features.Row) { want[rowKey{r.VMID, r.Start}] = r.Values })

	// Publish everything before the featurizer starts, so its wall-clock
	// watermark never closes a window early.
	prod, err := transport.NewProducer(cfg, testLog(), nil)
	require.NoError(t, err)
	defer prod.Close()
	pub, err := collectors.NewPublisher(prod, collectors.PublisherConfig{}, testLog(), nil)
	require.NoError(t, err)
	for _, st := range steps {
		require.NoError(t, pub.Publish(ctx, st))
		require.NoError(t, pub.Flush(ctx))
	}

	fprod, err := transport.NewProducer(withID(cfg, "feat"), testLog(), nil)
	require.NoError(t, err)
	defer fprod.Close()
	stage := features.NewStage(features.StageConfig{Featurizer: fc, Producer: fprod,
		DeadLetter: func(ctx context.Context, m *transport.Message, err error) error {
			return fmt.Errorf("unexpected dead letter: %w", err)
		}}, testLog(), nil)
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = stage.Run(sctx) }()
	g, err := transport.NewGroup(cfg, fastGroup("feat", events.Topic), testLog(), nil)
	require.NoError(t, err)
	go func() { _ = g.Run(sctx, stage); _ = g.Close() }()

	out := consume(ctx, t, cfg, "check", features.Topic)
	got := map[rowKey][]float64{}
	dups := 0
	waitUntil(60*time.Second, fmt.Sprintf("%d feature rows", len(want)), func() bool {
		got, dups = map[rowKey][]float64{}, 0
		for _, m := range out.snapshot() {
			rows, err := features.DecodeRows(m.Value, nil)
			require.NoError(t, err)
			for _, r := range rows {
				require.Equal(t, r.VMID, string(m.Key), "rows are keyed by vm_id")
				k := rowKey{r.VMID, r.Start}
				if _, ok := got[k]; ok {
					dups++
				}
				got[k] = r.Values
			}
		}
		return len(got) >= len(want)
	})
	missing := 0
	for k := range want {
		if _, ok := got[k]; !ok {
			missing++
			if missing < 5 {
				t.Logf("missing row %s @ %d", k.vm, k.start)
			}
		}
	}
	require.Len(t, got, len(want), "%d rows missing", missing)
	for k, w := range want {
		require.Contains(t, got, k)
		require.InDeltaSlice(t, w, got[k], 1e-9, "features of %s at %d", k.vm, k.start)
	}
	t.Logf("%d events, %d feature rows over 3 partitions, %d duplicate rows", len(all), len(got), dups)
}

func withID(cfg transport.Config, id string) transport.Config {
	cfg.ClientID += "-" + id
	return cfg
}

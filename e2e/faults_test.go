package e2e

import (
	"context"

	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/anomaly"
	"github.com/escapement/escapement/api"
	"github.com/escapement/escapement/collectors"
	"github.com/escapement/escapement/collectors/sim"
	"github.com/escapement/escapement/events"
	"github.com/escapement/escapement/features"
	"github.com/escapement/escapement/models"
	"github.com/escapement/escapement/models/defaultmodel"
	"github.com/escapement/escapement/scoring"
	"github.com/escapement/escapement/transport"
)

func dlq(p transport.Producer, stage string) func(context.Context, *transport.Message, error) error {
	return func(ctx context.Context, m *transport.Message, err error) error {
		return transport.DeadLetter(ctx, p, stage, m, err)
	}
}

// runStage runs h as a member of group on topic until ctx is done.
func runStage(ctx context.Context, t *testing.T, cfg transport.Config, group, topic string, h transport.Handler) {
	t.Helper()
	g, err := transport.NewGroup(cfg, fastGroup(group, topic), testLog(), nil)
	require.NoError(t, err)
	go func() { _ = g.Run(ctx, h); _ = g.Close() }()
}

// TestMalformedMessagesAreDeadLettered puts a malformed message on each of
// the events, features and anomalies topics, followed by good input, and
// checks that each stage dead-letters the bad one with its error and origin
// and goes on with the good one.
func TestMalformedMessagesAreDeadLettered(t *testing.T) {
	cfg := startBroker(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	prod, err := transport.NewProducer(cfg, testLog(), nil)
	require.NoError(t, err)
	defer prod.Close()

	for _, tp := range []string{events.Topic, features.Topic, anomaly.Topic} {
		require.NoError(t, prod.Produce(ctx, transport.Message{Topic: tp, Key: []byte("vm-bad"), Value: []byte("not what this topic holds")}))
	}
	// Good input behind the bad: a short fleet with a flood, so every stage
	// has real work after the bad message.
	now := time.Now().Add(-20 * time.Second)
	fleet, err := sim.New(sim.Config{Seed: 3, VMs: 3, Start: now, Duration: 40 * time.Second, Scenarios: 1})
	require.NoError(t, err)
	pub, err := collectors.NewPublisher(prod, collectors.PublisherConfig{}, testLog(), nil)
	require.NoError(t, err)
	require.NoError(t, fleet.Step(fleet.End(), func(evs []events.Event) error { return pub.Publish(ctx, evs) }))
	require.NoError(t, pub.Flush(ctx))

	model, err := defaultmodel.Load(models.SchemaHash(features.Names()), features.Names())
	require.NoError(t, err)
	fstage := features.NewStage(features.StageConfig{Producer: prod, DeadLetter: dlq(prod, "featurize")}, testLog(), nil)
	go func() { _ = fstage.Run(ctx) }()
	runStage(ctx, t, cfg, "featurize", events.Topic, fstage)
	sstage := scoring.NewStage(scoring.StageConfig{Scorer: scoring.NewScorer(model, scoring.Config{}, nil, nil), Producer: prod, DeadLetter: dlq(prod, "score")}, testLog(), nil)
	go func() { _ = sstage.Run(ctx) }()
	runStage(ctx, t, cfg, "score", features.Topic, sstage)
	store, err := api.OpenSQLite(filepath.Join(t.TempDir(), "a.db"), testLog(), nil)
	require.NoError(t, err)
	defer store.Close()
	stored := make(chan anomaly.Record, 100)
	feed := api.NewFeed(api.FeedConfig{Store: store, DeadLetter: dlq(prod, "serve"), OnStored: func(r anomaly.Record) { stored <- r }}, testLog(), nil)
	runStage(ctx, t, cfg, "serve", anomaly.Topic, feed)

	dead := consume(ctx, t, cfg, "dlq-check", transport.DeadLetterTopic)
	waitFor(t, 60*time.Second, "three dead letters", func() bool { return len(dead.snapshot()) >= 3 })
	byTopic := map[string]transport.Message{}
	for _, m := range dead.snapshot() {
		byTopic[string(m.Header(transport.HeaderDLQTopic))] = m
	}
	for _, tp := range []string{events.Topic, features.Topic, anomaly.Topic} {
		m, ok := byTopic[tp]
		require.True(t, ok, "no dead letter from %s", tp)
		require.Equal(t, "not what this topic holds", string(m.Value))
		require.NotEmpty(t, m.Header(transport.HeaderDLQError))
		require.NotEmpty(t, m.Header(transport.HeaderDLQStage))
		require.NotEmpty(t, m.Header(transport.HeaderDLQOffset))
		t.Logf("dead letter from %s by %s: %s", tp, m.Header(transport.HeaderDLQStage), m.Header(transport.HeaderDLQError))
	}
	// The stages went on: the flood behind the bad messages became an
	// incident in the store.
	select {
	case r := <-stored:
		require.Equal(t, fleet.Truth()[0].VMID, r.VM.ID)
	case <-ctx.Done():
		t.Fatal("no anomaly reached the store after the malformed messages")
	}
}

// TestFeaturizerCrashLosesNoWindow kills a featurizer between producing rows
// and committing (it drops its state without flushing, as a crashed process
// would) and checks that a second member of the group, starting from the
// committed offsets, produces every window the crash left out. Duplicates
// are allowed and counted.
func TestFeaturizerCrashLosesNoWindow(t *testing.T) {
	cfg := startBroker(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	fleet, err := sim.New(sim.Config{Seed: 11, VMs: 6, Duration: 30 * time.Second})
	require.NoError(t, err)
	prod, err := transport.NewProducer(cfg, testLog(), nil)
	require.NoError(t, err)
	defer prod.Close()
	pub, err := collectors.NewPublisher(prod, collectors.PublisherConfig{}, testLog(), nil)
	require.NoError(t, err)
	want := map[rowKey]bool{}
	ref := features.New(features.Config{})
	for now := fleet.Now(); now < fleet.End(); {
		now = min(now+int64(500*time.Millisecond), fleet.End())
		require.NoError(t, fleet.Step(now, func(evs []events.Event) error {
			ref.Add(evs, func(r features.Row) { want[rowKey{r.VMID, r.Start}] = true })
			return pub.Publish(ctx, evs)
		}))
		require.NoError(t, pub.Flush(ctx))
	}
	ref.Flush(func(r features.Row) { want[rowKey{r.VMID, r.Start}] = true })

	out := consume(ctx, t, cfg, "check", features.Topic)
	count := func() (map[rowKey]int, int) {
		got, n := map[rowKey]int{}, 0
		for _, m := range out.snapshot() {
			rows, err := features.DecodeRows(m.Value, nil)
			require.NoError(t, err)
			for _, r := range rows {
				got[rowKey{r.VMID, r.Start}]++
				n++
			}
		}
		return got, n
	}

	// Member A: handles about half the input, then "crashes": its Revoked
	// neither flushes nor releases, so the open windows' offsets stay
	// uncommitted.
	actx, crash := context.WithCancel(ctx)
	a := &crashing{Stage: features.NewStage(features.StageConfig{Producer: prod, DeadLetter: dlq(prod, "a")}, testLog(), nil), after: 25}
	runStage(actx, t, cfg, "featurize", events.Topic, a)
	waitFor(t, 60*time.Second, "member A to handle its share", func() bool { return a.handled() >= a.after })
	crash()
	time.Sleep(time.Second)
	gotA, _ := count()
	require.Less(t, len(gotA), len(want), "member A must not have finished the stream")

	// Member B takes over from the committed offsets and finishes.
	b := features.NewStage(features.StageConfig{Producer: prod, DeadLetter: dlq(prod, "b")}, testLog(), nil)
	go func() { _ = b.Run(ctx) }()
	runStage(ctx, t, cfg, "featurize", events.Topic, b)
	var got map[rowKey]int
	var n int
	ok := waitUntil(60*time.Second, "every window", func() bool {
		got, n = count()
		for k := range want {
			if got[k] == 0 {
				return false
			}
		}
		return true
	})
	missing := 0
	for k := range want {
		if got[k] == 0 {
			missing++
		}
	}
	require.True(t, ok, "%d of %d windows lost after the crash", missing, len(want))
	t.Logf("%d windows expected, all present; %d rows produced, %d duplicates (A produced %d windows before the crash)", len(want), n, n-len(want), len(gotA))
}

// crashing wraps the featurize stage: after `after` messages it stops
// handling (a dead process handles nothing) and its Revoked does nothing.
type crashing struct {
	*features.Stage
	after int
	n     chan struct{}
}

func (c *crashing) handled() int { return len(c.counter()) }

func (c *crashing) counter() chan struct{} {
	if c.n == nil {
		c.n = make(chan struct{}, 1<<20)
	}
	return c.n
}

func (c *crashing) Handle(ctx context.Context, d transport.Delivery) error {
	ch := c.counter()
	if len(ch) >= c.after {
		<-ctx.Done() // dead: never returns normally, never releases
		return ctx.Err()
	}
	ch <- struct{}{}
	return c.Stage.Handle(ctx, d)
}

func (c *crashing) Revoked(context.Context, []transport.TopicPartition) {}

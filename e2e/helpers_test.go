package e2e

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/anomaly"
	"github.com/escapement/escapement/events"
	"github.com/escapement/escapement/features"
	"github.com/escapement/escapement/transport"
	"github.com/escapement/escapement/transport/embedded"
)

// testLog logs to stderr when E2E_VERBOSE is set.
func testLog() *slog.Logger {
	if os.Getenv("E2E_VERBOSE") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// startBroker starts an embedded broker for the test with the pipeline's
// topics at the given partition count.
func startBroker(t *testing.T, partitions int) transport.Config {
	t.Helper()
	b, err := embedded.Start(embedded.Config{DataDir: t.TempDir(), Partitions: partitions, Logger: testLog()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	cfg := transport.Config{Brokers: []string{b.Addr()}}.WithDefaults()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var specs []transport.TopicSpec
	for _, tp := range []string{events.Topic, features.Topic, anomaly.Topic, transport.DeadLetterTopic} {
		specs = append(specs, transport.TopicSpec{Name: tp, Partitions: partitions})
	}
	require.NoError(t, transport.EnsureTopics(ctx, cfg, specs))
	return cfg
}

// fastGroup is a group config with short timings for tests.
func fastGroup(id string, topics ...string) transport.GroupConfig {
	return transport.GroupConfig{
		GroupID: id, Topics: topics, StartOffset: transport.StartFirst,
		CommitInterval: 200 * time.Millisecond, SessionTimeout: 6 * time.Second,
		HeartbeatInterval: 500 * time.Millisecond, RebalanceTimeout: 6 * time.Second,
		JoinGroupBackoff: 200 * time.Millisecond, MaxWait: 100 * time.Millisecond,
		ReadBackoffMin: 20 * time.Millisecond, ReadBackoffMax: 100 * time.Millisecond,
	}
}

// collector is a Handler that records every message of a topic.
type collector struct {
	mu   sync.Mutex
	msgs []transport.Message
}

func (c *collector) Assigned(context.Context, []transport.TopicPartition) {}
func (c *collector) Revoked(context.Context, []transport.TopicPartition)  {}
func (c *collector) Handle(_ context.Context, d transport.Delivery) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, *d.Message())
	return nil
}

func (c *collector) snapshot() []transport.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]transport.Message(nil), c.msgs...)
}

// consume runs a group reading topic into a collector until ctx is done.
func consume(ctx context.Context, t *testing.T, cfg transport.Config, group, topic string) *collector {
	t.Helper()
	c := &collector{}
	g, err := transport.NewGroup(cfg, fastGroup(group, topic), testLog(), nil)
	require.NoError(t, err)
	go func() {
		_ = g.Run(ctx, c)
		_ = g.Close()
	}()
	return c
}

// waitUntil polls cond until it holds or the timeout passes and reports whether it held.
func waitUntil(timeout time.Duration, what string, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = what
	return false
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", timeout, what)
}

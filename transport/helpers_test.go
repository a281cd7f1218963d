package transport_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/transport"
	"github.com/escapement/escapement/transport/embedded"
)

// startBroker starts an in-memory embedded broker for one test.
func startBroker(t *testing.T) transport.Config {
	t.Helper()
	b, err := embedded.Start(embedded.Config{Partitions: 3})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return transport.Config{Brokers: []string{b.Addr()}, BatchTimeout: 5 * time.Millisecond}
}

// groupConfig has timeouts short enough for rebalances within seconds.
func groupConfig(id string, topics ...string) transport.GroupConfig {
	return transport.GroupConfig{
		GroupID:           id,
		Topics:            topics,
		CommitInterval:    100 * time.Millisecond,
		SessionTimeout:    6 * time.Second,
		RebalanceTimeout:  3 * time.Second,
		HeartbeatInterval: 300 * time.Millisecond,
		JoinGroupBackoff:  200 * time.Millisecond,
		RevokeTimeout:     2 * time.Second,
		MaxWait:           100 * time.Millisecond,
		ReadBackoffMin:    10 * time.Millisecond,
		ReadBackoffMax:    50 * time.Millisecond,
	}
}

func ensure(t *testing.T, cfg transport.Config, topic string, partitions int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, transport.EnsureTopics(ctx, cfg, []transport.TopicSpec{{Name: topic, Partitions: partitions, ReplicationFactor: 1}}))
}

func produce(t *testing.T, cfg transport.Config, topic string, n int, key func(i int) string) {
	t.Helper()
	p, err := transport.NewProducer(cfg, nil, nil)
	require.NoError(t, err)
	defer p.Close()
	msgs := make([]transport.Message, n)
	for i := range msgs {
		msgs[i] = transport.Message{Topic: topic, Key: []byte(key(i)), Value: []byte(fmt.Sprint(i))}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, p.Produce(ctx, msgs...))
}

// recorder is a Handler that records what it sees; onHandle decides what
// to do with each delivery (nil: nothing, the group releases it).
type recorder struct {
	mu       sync.Mutex
	msgs     []transport.Message
	assigned [][]transport.TopicPartition
	revoked  [][]transport.TopicPartition
	onHandle func(d transport.Delivery)
	onRevoke func(parts []transport.TopicPartition)
}

func (r *recorder) Assigned(_ context.Context, parts []transport.TopicPartition) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.assigned = append(r.assigned, parts)
}

func (r *recorder) Handle(_ context.Context, d transport.Delivery) error {
	r.mu.Lock()
	r.msgs = append(r.msgs, *d.Message())
	f := r.onHandle
	r.mu.Unlock()
	if f != nil {
		f(d)
	}
	return nil
}

func (r *recorder) Revoked(_ context.Context, parts []transport.TopicPartition) {
	r.mu.Lock()
	r.revoked = append(r.revoked, parts)
	f := r.onRevoke
	r.mu.Unlock()
	if f != nil {
		f(parts)
	}
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}

func (r *recorder) snapshot() (msgs []transport.Message, assigned, revoked [][]transport.TopicPartition) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]transport.Message(nil), r.msgs...), append([][]transport.TopicPartition(nil), r.assigned...),
		append([][]transport.TopicPartition(nil), r.revoked...)
}

// member runs a group member in the background; stop closes it and returns
// Run's error.
type member struct {
	g    transport.Group
	done chan error
}

func runMember(t *testing.T, cfg transport.Config, gc transport.GroupConfig, h transport.Handler) *member {
	t.Helper()
	g, err := transport.NewGroup(cfg, gc, nil, nil)
	require.NoError(t, err)
	m := &member{g: g, done: make(chan error, 1)}
	go func() { m.done <- g.Run(context.Background(), h) }()
	t.Cleanup(func() { _ = g.Close() })
	return m
}

func (m *member) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, m.g.Close())
	select {
	case err := <-m.done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Group.Run did not return within 10s of Close")
	}
}

// committed fetches the group's committed offset of topic/partition (-1: none).
func committed(t *testing.T, cfg transport.Config, group, topic string, partition int) int64 {
	t.Helper()
	cl := &kafka.Client{Addr: kafka.TCP(cfg.Brokers...)}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cl.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: {partition}}})
	require.NoError(t, err)
	for _, p := range resp.Topics[topic] {
		if p.Partition == partition {
			require.NoError(t, p.Error)
			return p.CommittedOffset
		}
	}
	return -1
}

package embedded_test

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/transport"
	"github.com/escapement/escapement/transport/embedded"
)

func produce(t *testing.T, addr, topic string, from, to int) {
	t.Helper()
	p, err := transport.NewProducer(transport.Config{Brokers: []string{addr}, BatchTimeout: 5 * time.Millisecond}, nil, nil)
	require.NoError(t, err)
	defer p.Close()
	var msgs []transport.Message
	for i := from; i < to; i++ {
		msgs = append(msgs, transport.Message{Topic: topic, Key: []byte("vm-1"), Value: []byte(fmt.Sprint(i))})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, p.Produce(ctx, msgs...))
}

// counter is a Handler counting messages.
type counter struct{ n atomic.Int64 }

func (c *counter) Assigned(context.Context, []transport.TopicPartition) {}
func (c *counter) Revoked(context.Context, []transport.TopicPartition)  {}
func (c *counter) Handle(context.Context, transport.Delivery) error {
	c.n.Add(1)
	return nil
}

// consumeAll consumes n messages of topic in group "keeper" and commits them.
func consumeAll(t *testing.T, cfg transport.Config, topic string, n int64) {
	t.Helper()
	g, err := transport.NewGroup(cfg, transport.GroupConfig{
		GroupID: "keeper", Topics: []string{topic}, CommitInterval: 50 * time.Millisecond,
		SessionTimeout: 6 * time.Second, HeartbeatInterval: time.Second, MaxWait: 100 * time.Millisecond,
	}, nil, nil)
	require.NoError(t, err)
	c := &counter{}
	done := make(chan error, 1)
	go func() { done <- g.Run(context.Background(), c) }()
	require.Eventually(t, func() bool { return c.n.Load() == n }, 10*time.Second, 20*time.Millisecond)
	require.NoError(t, g.Close())
	require.NoError(t, <-done)
}

// readAll reads partition 0 of topic from the start until n messages arrive.
func readAll(t *testing.T, addr, topic string, n int) []string {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: topic, Partition: 0, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []string
	for len(out) < n {
		m, err := r.ReadMessage(ctx)
		require.NoError(t, err)
		out = append(out, string(m.Value))
	}
	return out
}

func TestDataSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	b, err := embedded.Start(embedded.Config{DataDir: dir})
	require.NoError(t, err)
	cfg := transport.Config{Brokers: []string{b.Addr()}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, transport.EnsureTopics(ctx, cfg, []transport.TopicSpec{{Name: "kept", Partitions: 1}}))
	produce(t, b.Addr(), "kept", 0, 10)
	consumeAll(t, cfg, "kept", 10)
	require.NoError(t, b.Close())

	b, err = embedded.Start(embedded.Config{DataDir: dir})
	require.NoError(t, err)
	defer b.Close()
	cl := &kafka.Client{Addr: kafka.TCP(b.Addr())}
	resp, err := cl.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: "keeper", Topics: map[string][]int{"kept": {0}}})
	require.NoError(t, err)
	require.Equal(t, int64(10), resp.Topics["kept"][0].CommittedOffset, "group commits survive a restart")
	produce(t, b.Addr(), "kept", 10, 12)
	got := readAll(t, b.Addr(), "kept", 12)
	want := make([]string, 12)
	for i := range want {
		want[i] = fmt.Sprint(i)
	}
	require.Equal(t, want, got)
}

func TestAutoCreatedTopicsUseDefaultPartitions(t *testing.T) {
	b, err := embedded.Start(embedded.Config{Partitions: 4})
	require.NoError(t, err)
	defer b.Close()
	cfg := transport.Config{Brokers: []string{b.Addr()}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Partitions 0 asks the broker for its default.
	require.NoError(t, transport.EnsureTopics(ctx, cfg, []transport.TopicSpec{{Name: "defaulted"}}))
	require.NoError(t, transport.EnsureTopics(ctx, cfg, []transport.TopicSpec{{Name: "defaulted"}}), "existing topics are fine")
	conn, err := kafka.DialContext(ctx, "tcp", b.Addr())
	require.NoError(t, err)
	defer conn.Close()
	parts, err := conn.ReadPartitions("defaulted")
	require.NoError(t, err)
	require.Len(t, parts, 4)
}

func TestRetentionBytesTrimsOldData(t *testing.T) {
	b, err := embedded.Start(embedded.Config{RetentionBytes: 2000, RetentionCheck: 50 * time.Millisecond})
	require.NoError(t, err)
	defer b.Close()
	cfg := transport.Config{Brokers: []string{b.Addr()}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, transport.EnsureTopics(ctx, cfg, []transport.TopicSpec{{Name: "trimmed", Partitions: 1}}))
	for i := range 20 { // 20 separate batches, so there is something to drop
		produce(t, b.Addr(), "trimmed", i*10, i*10+10)
	}
	cl := &kafka.Client{Addr: kafka.TCP(b.Addr())}
	require.Eventually(t, func() bool {
		resp, err := cl.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{"trimmed": {kafka.FirstOffsetOf(0)}}})
		require.NoError(t, err)
		return resp.Topics["trimmed"][0].FirstOffset > 0
	}, 5*time.Second, 50*time.Millisecond, "retention drops the oldest batches")
}

func TestStartValidatesAddr(t *testing.T) {
	for _, addr := range []string{"nonsense", "127.0.0.1:99999", "127.0.0.1:x"} {
		_, err := embedded.Start(embedded.Config{Addr: addr})
		require.Error(t, err, addr)
	}
	b, err := embedded.Start(embedded.Config{})
	require.NoError(t, err)
	defer b.Close()
	host, port, err := net.SplitHostPort(b.Addr())
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1", host)
	require.NotEqual(t, "0", port)
}

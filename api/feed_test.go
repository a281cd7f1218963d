package api

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/anomaly"
	"github.com/escapement/escapement/transport"
	"github.com/escapement/escapement/transport/embedded"
)

func produceRecords(t *testing.T, cfg transport.Config, values ...[]byte) {
	t.Helper()
	p, err := transport.NewProducer(cfg, nil, nil)
	require.NoError(t, err)
	defer p.Close()
	var msgs []transport.Message
	for _, v := range values {
		msgs = append(msgs, transport.Message{Topic: anomaly.Topic, Key: []byte("vm-1"), Value: v})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, p.Produce(ctx, msgs...))
}

func recJSON(t *testing.T, id string, rev int) []byte {
	b, err := json.Marshal(rec(id, rev, "high", time.Unix(1000, 0).UTC()))
	require.NoError(t, err)
	return b
}

// runFeed consumes the anomalies topic into the store at path until want
// records were stored, then stops (committing) and returns the feed.
func runFeed(t *testing.T, cfg transport.Config, path string, want int, dead *atomic.Int64) *Feed {
	t.Helper()
	s, err := OpenSQLite(path, nil, nil)
	require.NoError(t, err)
	defer s.Close()
	f := NewFeed(FeedConfig{Store: s, DeadLetter: func(context.Context, *transport.Message, error) error {
		dead.Add(1)
		return nil
	}}, nil, nil)
	g, err := transport.NewGroup(cfg, transport.GroupConfig{
		GroupID: "escapement-serve-" + s.Instance(), Topics: []string{anomaly.Topic}, StartOffset: transport.StartFirst,
		CommitInterval: 50 * time.Millisecond, SessionTimeout: 6 * time.Second, HeartbeatInterval: time.Second, MaxWait: 100 * time.Millisecond,
	}, nil, nil)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx, f) }()
	require.Eventually(t, func() bool { return testutil.ToFloat64(f.stored) >= float64(want) }, 20*time.Second, 20*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	require.NoError(t, g.Close())
	return f
}

// TestFeedResumesFromCommittedOffsets: a restarted serve with the same store
// file reads on from where it stopped; duplicates on the topic collapse.
func TestFeedResumesFromCommittedOffsets(t *testing.T) {
	b, err := embedded.Start(embedded.Config{Partitions: 1})
	require.NoError(t, err)
	defer b.Close()
	cfg := transport.Config{Brokers: []string{b.Addr()}, BatchTimeout: 5 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, transport.EnsureTopics(ctx, cfg, []transport.TopicSpec{{Name: anomaly.Topic, Partitions: 1}}))
	path := filepath.Join(t.TempDir(), "anomalies.db")
	var dead atomic.Int64

	produceRecords(t, cfg, recJSON(t, "a", 1), recJSON(t, "a", 1), []byte("{not json"), recJSON(t, "b", 1), recJSON(t, "a", 2))
	f := runFeed(t, cfg, path, 3, &dead)
	require.Equal(t, 3.0, testutil.ToFloat64(f.stored))
	require.Equal(t, 1.0, testutil.ToFloat64(f.dups), "the topic duplicate collapsed")
	require.EqualValues(t, 1, dead.Load(), "the bad message was dead-lettered")

	produceRecords(t, cfg, recJSON(t, "c", 1), recJSON(t, "b", 2))
	f = runFeed(t, cfg, path, 2, &dead)
	require.Equal(t, 2.0, testutil.ToFloat64(f.stored))
	require.Equal(t, 0.0, testutil.ToFloat64(f.dups), "resumed after the committed offsets, not from the start")
	require.EqualValues(t, 1, dead.Load())

	s, err := OpenSQLite(path, nil, nil)
	require.NoError(t, err)
	defer s.Close()
	all, _, err := s.List(context.Background(), Query{Limit: 10})
	require.NoError(t, err)
	revs := map[string]int{}
	for _, a := range all {
		revs[a.ID] = a.Revision
	}
	require.Equal(t, map[string]int{"a": 2, "b": 2, "c": 1}, revs)
}

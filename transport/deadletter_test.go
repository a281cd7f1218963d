package transport_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/transport"
)

func TestDeadLetterCarriesOriginAndError(t *testing.T) {
	cfg := startBroker(t)
	ensure(t, cfg, transport.DeadLetterTopic, 1)
	reg := prometheus.NewRegistry()
	p, err := transport.NewProducer(cfg, nil, reg)
	require.NoError(t, err)
	defer p.Close()

	orig := &transport.Message{
		Topic: "escapement.events.v1", Partition: 4, Offset: 1234,
		Key: []byte("vm-7"), Value: []byte{0xde, 0xad},
		Headers: []transport.Header{{Key: "schema", Value: []byte("v1")}},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, transport.DeadLetter(ctx, p, "featurize", orig, errors.New("arrow: bad magic")))
	require.Equal(t, 1.0, testutil.ToFloat64(mustCounter(t, reg, "escapement_kafka_dead_letters_total")))

	rec := &recorder{}
	m := runMember(t, cfg, groupConfig("dlq-reader", transport.DeadLetterTopic), rec)
	require.Eventually(t, func() bool { return rec.count() == 1 }, 10*time.Second, 20*time.Millisecond)
	m.stop(t)
	msgs, _, _ := rec.snapshot()
	got := msgs[0]
	require.Equal(t, orig.Key, got.Key)
	require.Equal(t, orig.Value, got.Value)
	for _, tc := range []struct{ header, want string }{
		{transport.HeaderDLQError, "arrow: bad magic"},
		{transport.HeaderDLQTopic, "escapement.events.v1"},
		{transport.HeaderDLQPartition, "4"},
		{transport.HeaderDLQOffset, "1234"},
		{transport.HeaderDLQStage, "featurize"},
		{"schema", "v1"},
	} {
		require.Equal(t, tc.want, string(got.Header(tc.header)), tc.header)
	}
}

// mustCounter returns the single series of a counter family as a collector.
func mustCounter(t *testing.T, g prometheus.Gatherer, name string) prometheus.Collector {
	t.Helper()
	mfs, err := g.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			require.Len(t, mf.GetMetric(), 1, name)
			c := prometheus.NewCounter(prometheus.CounterOpts{Name: "x"})
			c.Add(mf.GetMetric()[0].GetCounter().GetValue())
			return c
		}
	}
	t.Fatalf("metric %s not gathered", name)
	return nil
}

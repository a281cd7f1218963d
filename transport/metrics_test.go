package transport_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/transport"
)

func TestMetricsExportKafkaStats(t *testing.T) {
	cfg := startBroker(t)
	const topic = "metrics"
	ensure(t, cfg, topic, 2)
	reg := prometheus.NewRegistry()
	p, err := transport.NewProducer(cfg, nil, reg)
	require.NoError(t, err)
	msgs := make([]transport.Message, 25)
	for i := range msgs {
		msgs[i] = transport.Message{Topic: topic, Key: []byte{byte(i)}, Value: []byte("v")}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, p.Produce(ctx, msgs...))

	g, err := transport.NewGroup(cfg, groupConfig("metrics", topic), nil, reg)
	require.NoError(t, err)
	rec := &recorder{}
	done := make(chan error, 1)
	go func() { done <- g.Run(context.Background(), rec) }()
	require.Eventually(t, func() bool { return rec.count() == 25 }, 10*time.Second, 20*time.Millisecond)

	values := gather(t, reg)
	require.Equal(t, 25.0, values["escapement_kafka_writer_messages_total"])
	require.Equal(t, 25.0, values["escapement_kafka_produced_messages_total"])
	require.Equal(t, 25.0, values["escapement_kafka_handled_messages_total"])
	require.Equal(t, 25.0, values["escapement_kafka_reader_messages_total"])
	require.Equal(t, 2.0, values["escapement_kafka_assigned_partitions"])
	require.Contains(t, values, "escapement_kafka_reader_lag")

	// A second scrape does not double count: kafka-go resets Stats on read.
	require.Equal(t, 25.0, gather(t, reg)["escapement_kafka_writer_messages_total"])

	require.NoError(t, g.Close())
	require.NoError(t, <-done)
	require.NoError(t, p.Close())
	_, err = transport.NewProducer(cfg, nil, reg)
	require.NoError(t, err, "Close unregisters, so a new producer may register again")
	require.Equal(t, transport.ErrClosed, p.Produce(ctx, msgs...))
}

func TestDuplicateRegistrationSaysWhatToDo(t *testing.T) {
	cfg := transport.Config{Brokers: []string{"127.0.0.1:1"}}
	reg := prometheus.NewRegistry()
	p, err := transport.NewProducer(cfg, nil, reg)
	require.NoError(t, err)
	defer p.Close()
	_, err = transport.NewProducer(cfg, nil, reg)
	require.ErrorContains(t, err, "distinct ClientID")
}

// gather sums every series of each family.
func gather(t *testing.T, g prometheus.Gatherer) map[string]float64 {
	t.Helper()
	mfs, err := g.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch {
			case m.Counter != nil:
				out[mf.GetName()] += m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[mf.GetName()] += m.GetGauge().GetValue()
			case m.Summary != nil:
				out[mf.GetName()] += float64(m.GetSummary().GetSampleCount())
			}
		}
	}
	return out
}

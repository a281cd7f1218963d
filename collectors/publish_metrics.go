package collectors

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type publisherMetrics struct {
	events   prometheus.Counter
	bytes    prometheus.Counter
	messages *prometheus.CounterVec
	errors   prometheus.Counter
	pending  prometheus.Gauge
}

func newPublisherMetrics(reg prometheus.Registerer) (*publisherMetrics, error) {
	m := &publisherMetrics{
		events: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "escapement_publisher_events_total",
			Help: "Events produced to Kafka by the collector publisher.",
		}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "escapement_publisher_bytes_total",
			Help: "Encoded message value bytes produced by the collector publisher.",
		}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "escapement_publisher_messages_total",
			Help: "Messages (one per VM batch) produced, by the bound that closed the batch: count, bytes or latency.",
		}, []string{"reason"}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "escapement_publisher_produce_errors_total",
			Help: "Failed produce attempts; each is retried with backoff.",
		}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "escapement_publisher_pending_events",
			Help: "Events accepted by the publisher and not yet acknowledged by the broker.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.events, m.bytes, m.messages, m.errors, m.pending} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("collectors: register publisher metrics (use one registry per publisher or a prometheus.WrapRegistererWith label): %w", err)
		}
	}
	return m, nil
}

package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
)

// producer is the Producer on a kafka-go Writer.
type producer struct {
	w      *kafka.Writer
	m      *producerMetrics
	closed atomic.Bool
	unreg  func()
}

// NewProducer returns a Producer writing to the brokers of cfg. Messages are
// partitioned by the murmur2 hash of their key, as the Java client does, so
// one vm_id always lands on the same partition; every message must name its
// Topic. Produce waits for all in-sync replicas (acks=all) and retries a
// batch up to cfg.MaxAttempts times. reg may be nil.
func NewProducer(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (Producer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	tr, err := cfg.transport()
	if err != nil {
		return nil, err
	}
	codec, err := cfg.compression()
	if err != nil {
		return nil, err
	}
	logger = orDiscard(logger)
	w := &kafka.Writer{
		Addr:         kafka.TCP(cfg.Brokers...),
		Balancer:     kafka.Murmur2Balancer{},
		MaxAttempts:  cfg.MaxAttempts,
		BatchSize:    cfg.BatchSize,
		BatchBytes:   cfg.BatchBytes,
		BatchTimeout: cfg.BatchTimeout,
		WriteTimeout: cfg.WriteTimeout,
		ReadTimeout:  cfg.WriteTimeout,
		RequiredAcks: kafka.RequireAll,
		Compression:  codec,
		Transport:    tr,
		Logger:       kafkaLogger(logger, slog.LevelDebug),
		ErrorLogger:  kafkaLogger(logger, slog.LevelWarn),
	}
	m := newProducerMetrics(cfg.ClientID)
	stats := newStatsCollector(prometheus.Labels{"client_id": cfg.ClientID})
	stats.setWriter(w)
	cs := append(m.collectors(), stats)
	if err := register(reg, cs...); err != nil {
		return nil, err
	}
	return &producer{w: w, m: m, unreg: func() { unregister(reg, cs...) }}, nil
}

// Produce writes msgs and returns once every one is acknowledged.
func (p *producer) Produce(ctx context.Context, msgs ...Message) error {
	if p.closed.Load() {
		return ErrClosed
	}
	if len(msgs) == 0 {
		return nil
	}
	kms := make([]kafka.Message, len(msgs))
	for i := range msgs {
		m := &msgs[i]
		if m.Topic == "" {
			return fmt.Errorf("transport: produce: message %d has no Topic: set Message.Topic", i)
		}
		kms[i] = toKafka(m)
	}
	err := p.w.WriteMessages(ctx, kms...)
	var werrs kafka.WriteErrors
	for i := range msgs {
		failed := err != nil && (!asWriteErrors(err, &werrs) || i >= len(werrs) || werrs[i] != nil)
		if failed {
			p.m.failed.WithLabelValues(msgs[i].Topic).Inc()
			continue
		}
		p.m.produced.WithLabelValues(msgs[i].Topic).Inc()
		if msgs[i].Topic == DeadLetterTopic {
			p.m.deadLetters.WithLabelValues(string(msgs[i].Header(HeaderDLQStage))).Inc()
		}
	}
	if err != nil {
		return fmt.Errorf("transport: produce %d messages (after retries; check broker health and topic existence): %w", len(msgs), err)
	}
	return nil
}

// Close flushes pending batches and closes the writer.
func (p *producer) Close() error {
	if p.closed.Swap(true) {
		return nil
	}
	err := p.w.Close()
	p.unreg()
	if err != nil {
		return fmt.Errorf("transport: close producer: %w", err)
	}
	return nil
}

// asWriteErrors reports whether err carries kafka-go's per-message errors.
func asWriteErrors(err error, werrs *kafka.WriteErrors) bool {
	return errors.As(err, werrs)
}

func toKafka(m *Message) kafka.Message {
	km := kafka.Message{Topic: m.Topic, Key: m.Key, Value: m.Value, Time: m.Time}
	if len(m.Headers) > 0 {
		km.Headers = make([]kafka.Header, len(m.Headers))
		for i, h := range m.Headers {
			km.Headers[i] = kafka.Header{Key: h.Key, Value: h.Value}
		}
	}
	return km
}

func fromKafka(km *kafka.Message) Message {
	m := Message{
		Topic: km.Topic, Partition: km.Partition, Offset: km.Offset,
		Key: km.Key, Value: km.Value, Time: km.Time,
	}
	if len(km.Headers) > 0 {
		m.Headers = make([]Header, len(km.Headers))
		for i, h := range km.Headers {
			m.Headers[i] = Header{Key: h.Key, Value: h.Value}
		}
	}
	return m
}

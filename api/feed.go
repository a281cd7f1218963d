package api

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/escapement/escapement/anomaly"
	"github.com/escapement/escapement/transport"
)

// Feed is the transport.Handler that fills a Store from escapement.anomalies.v1.
// A record is committed once it is in the store; an undecodable message goes
// to the dead-letter topic and the feed carries on.
type Feed struct {
	store      Store
	deadLetter func(ctx context.Context, m *transport.Message, err error) error
	onNew      func(anomaly.Record)
	log        *slog.Logger

	stored, dups, bad, suppressed prometheus.Counter
}

// FeedConfig configures a Feed.
type FeedConfig struct {
	Store Store
	// DeadLetter receives undecodable messages; required.
	DeadLetter func(ctx context.Context, m *transport.Message, err error) error
	// OnStored, if set, is called with every record the store took (not
	// with duplicates), in partition order, as stored: a record a
	// suppression rule matched has status suppressed (push outputs skip
	// it). The offset is committed after OnStored returns.
	OnStored func(anomaly.Record)
}

// NewFeed returns a Feed.
func NewFeed(cfg FeedConfig, log *slog.Logger, reg prometheus.Registerer) *Feed {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Feed{store: cfg.Store, deadLetter: cfg.DeadLetter, onNew: cfg.OnStored, log: log}
	c := func(name, help string) prometheus.Counter {
		ctr := prometheus.NewCounter(prometheus.CounterOpts{Namespace: "escapement", Subsystem: "api_feed", Name: name, Help: help})
		if reg != nil {
			reg.MustRegister(ctr)
		}
		return ctr
	}
	f.stored = c("records_stored_total", "Anomaly revisions stored.")
	f.dups = c("records_duplicate_total", "Anomaly revisions ignored because the same or a newer revision was stored (topic duplicates).")
	f.suppressed = c("records_suppressed_total", "Anomaly revisions stored as suppressed because a suppression rule matched.")
	f.bad = c("records_dead_lettered_total", "Undecodable anomaly messages sent to the dead-letter topic.")
	return f
}

// Assigned implements transport.Handler.
func (f *Feed) Assigned(context.Context, []transport.TopicPartition) {}

// Revoked implements transport.Handler.
func (f *Feed) Revoked(context.Context, []transport.TopicPartition) {}

// Handle implements transport.Handler.
func (f *Feed) Handle(ctx context.Context, d transport.Delivery) error {
	m := d.Message()
	var rec anomaly.Record
	err := json.Unmarshal(m.Value, &rec)
	if err == nil && rec.ID == "" {
		err = fmt.Errorf("anomaly record without id")
	}
	if err != nil {
		f.bad.Inc()
		f.log.Warn("undecodable anomaly message dead-lettered", "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "err", err)
		if dlErr := f.deadLetter(ctx, m, fmt.Errorf("decode anomaly JSON: %w", err)); dlErr != nil {
			return fmt.Errorf("dead-letter anomaly message at %s/%d@%d: %w", m.Topic, m.Partition, m.Offset, dlErr)
		}
		return nil
	}
	in, err := f.store.Ingest(ctx, rec)
	if err != nil {
		return fmt.Errorf("store anomaly %s rev %d: %w", rec.ID, rec.Revision, err)
	}
	if !in.Stored {
		f.dups.Inc()
		return nil
	}
	f.stored.Inc()
	if in.SuppressedBy != "" {
		f.suppressed.Inc()
		f.log.Info("anomaly suppressed", "id", rec.ID, "revision", rec.Revision, "rule", in.SuppressedBy)
	}
	if f.onNew != nil {
		f.onNew(in.Record)
	}
	return nil
}

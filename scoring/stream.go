package scoring

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/escapement/escapement/anomaly"
	"github.com/escapement/escapement/features"
	"github.com/escapement/escapement/transport"
)

// DefaultMaxHeld bounds the feature messages one VM's open incident keeps
// uncommitted. An incident longer than this loses replay-exactness after a
// partition handover (the new owner starts inside it and opens a new ID);
// it never loses windows.
const DefaultMaxHeld = 3600

// StageConfig configures the score stage.
type StageConfig struct {
	Scorer *Scorer
	// Producer writes anomaly records to anomaly.Topic. Required.
	Producer transport.Producer
	// DeadLetter receives undecodable or invalid input. Required.
	DeadLetter func(ctx context.Context, m *transport.Message, err error) error
	// ExpireInterval is how often idle VMs' incidents are resolved on wall
	// time (default 1s).
	ExpireInterval time.Duration
	// MaxHeld: see DefaultMaxHeld.
	MaxHeld int
}

// Stage is the score stage: a transport.Handler turning
// escapement.features.v1 into escapement.anomalies.v1.
//
// Commit rule: a feature message is released once the records it caused are
// acknowledged, unless a VM it carries has an open incident; then it stays
// held until the incident resolves. A new owner of the partition therefore
// replays every open incident from its first window and, the scorer being
// deterministic in event time, reproduces the same IDs and revisions.
type Stage struct {
	cfg StageConfig
	log *slog.Logger

	mu   sync.Mutex // guards the scorer and held (the scorer is not concurrent)
	held map[string][]transport.Delivery
	part map[string]transport.TopicPartition // vm → partition it came from

	pending []anomaly.Record // expiry records not yet acknowledged (Run only)

	records, bad prometheus.Counter
}

// NewStage returns a score stage. logger and reg may be nil.
func NewStage(cfg StageConfig, logger *slog.Logger, reg prometheus.Registerer) *Stage {
	if cfg.Scorer == nil || cfg.Producer == nil || cfg.DeadLetter == nil {
		panic("scoring: NewStage needs a Scorer, a Producer and a DeadLetter")
	}
	if cfg.ExpireInterval <= 0 {
		cfg.ExpireInterval = time.Second
	}
	if cfg.MaxHeld <= 0 {
		cfg.MaxHeld = DefaultMaxHeld
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Stage{cfg: cfg, log: logger, held: map[string][]transport.Delivery{}, part: map[string]transport.TopicPartition{}}
	s.records = prometheus.NewCounter(prometheus.CounterOpts{Name: "escapement_scoring_records_produced_total", Help: "Anomaly records produced to the anomalies topic."})
	s.bad = prometheus.NewCounter(prometheus.CounterOpts{Name: "escapement_scoring_dead_letters_total", Help: "Feature messages sent to the dead-letter topic."})
	if reg != nil {
		reg.MustRegister(s.records, s.bad)
	}
	return s
}

// Assigned implements transport.Handler.
func (s *Stage) Assigned(context.Context, []transport.TopicPartition) {}

// Revoked implements transport.Handler: the partitions' VMs are forgotten and
// their held deliveries are left unreleased, so the next owner replays their
// open incidents.
func (s *Stage) Revoked(_ context.Context, parts []transport.TopicPartition) {
	s.mu.Lock()
	defer s.mu.Unlock()
	gone := map[transport.TopicPartition]bool{}
	for _, p := range parts {
		gone[p] = true
	}
	for vm, p := range s.part {
		if gone[p] {
			s.cfg.Scorer.Forget(vm)
			delete(s.held, vm)
			delete(s.part, vm)
		}
	}
}

// Handle implements transport.Handler.
func (s *Stage) Handle(ctx context.Context, d transport.Delivery) error {
	m := d.Message()
	rows, err := features.DecodeRows(m.Value, nil)
	if err == nil {
		for _, r := range rows {
			if r.VMID != string(m.Key) {
				err = fmt.Errorf("row of VM %q in a message keyed %q", r.VMID, m.Key)
				break
			}
		}
	}
	if err != nil {
		return s.deadLetter(ctx, m, fmt.Errorf("decode feature rows: %w", err))
	}
	tp := transport.TopicPartition{Topic: m.Topic, Partition: m.Partition}
	s.mu.Lock()
	var recs []anomaly.Record
	var invalid error
	for _, r := range rows {
		out, err := s.cfg.Scorer.Score(r)
		if err != nil {
			invalid = errors.Join(invalid, err)
			continue
		}
		recs = append(recs, out...)
	}
	s.mu.Unlock()
	if err := s.produce(ctx, recs); err != nil {
		return err // not acknowledged: the message is not committed, the group stops
	}
	if invalid != nil {
		// The valid rows were scored; the message is kept for inspection.
		if err := s.deadLetter(ctx, m, invalid); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range rows {
		s.part[r.VMID] = tp
		if s.cfg.Scorer.Open(r.VMID) {
			h := s.held[r.VMID]
			if len(h) >= s.cfg.MaxHeld {
				h[0].Release()
				h = h[1:]
			}
			d.Retain()
			s.held[r.VMID] = append(h, d)
		} else {
			s.releaseLocked(r.VMID)
		}
	}
	return nil
}

func (s *Stage) releaseLocked(vm string) {
	for _, h := range s.held[vm] {
		h.Release()
	}
	delete(s.held, vm)
}

func (s *Stage) deadLetter(ctx context.Context, m *transport.Message, cause error) error {
	s.bad.Inc()
	s.log.Warn("feature message dead-lettered", "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "err", cause)
	if err := s.cfg.DeadLetter(ctx, m, cause); err != nil {
		return fmt.Errorf("dead-letter %s/%d@%d: %w", m.Topic, m.Partition, m.Offset, err)
	}
	return nil
}

// produce writes records (JSON, keyed by vm_id) and waits for the broker.
func (s *Stage) produce(ctx context.Context, recs []anomaly.Record) error {
	if len(recs) == 0 {
		return nil
	}
	msgs := make([]transport.Message, 0, len(recs))
	for i := range recs {
		b, err := json.Marshal(&recs[i])
		if err != nil {
			return fmt.Errorf("scoring: encode record %s: %w", recs[i].ID, err)
		}
		msgs = append(msgs, transport.Message{Topic: anomaly.Topic, Key: []byte(recs[i].VM.ID), Value: b,
			Headers: []transport.Header{{Key: "content-type", Value: []byte(anomaly.ContentType)}, {Key: "escapement-schema", Value: []byte(anomaly.SchemaVersion)}}})
	}
	if err := s.cfg.Producer.Produce(ctx, msgs...); err != nil {
		return fmt.Errorf("scoring: produce %d anomaly records: %w", len(msgs), err)
	}
	s.records.Add(float64(len(msgs)))
	return nil
}

// Run resolves the incidents of VMs gone quiet every ExpireInterval (wall
// time) and releases what they held, until ctx is done.
func (s *Stage) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.ExpireInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			s.mu.Lock()
			s.pending = s.cfg.Scorer.Expire(now, s.pending)
			s.mu.Unlock()
			if err := s.produce(ctx, s.pending); err != nil {
				s.log.Warn("produce resolved incidents; retrying next tick", "records", len(s.pending), "err", err)
				continue
			}
			s.pending = s.pending[:0]
			s.mu.Lock()
			for vm := range s.held {
				if !s.cfg.Scorer.Open(vm) {
					s.releaseLocked(vm)
				}
			}
			s.mu.Unlock()
		}
	}
}

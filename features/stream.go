package features

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/escapement/escapement/events"
	"github.com/escapement/escapement/transport"
	"github.com/prometheus/client_golang/prometheus"
)

// DefaultFlushInterval is how often a Stage advances idle windows.
const DefaultFlushInterval = 200 * time.Millisecond

// StageConfig configures the featurize stage.
type StageConfig struct {
	Featurizer Config
	// Producer writes feature rows to Topic. Required.
	Producer transport.Producer
	// DeadLetter receives undecodable input with the reason. When it returns
	// an error, Handle returns it and the group stops (the message is not
	// committed). Nil makes undecodable input fatal.
	DeadLetter func(ctx context.Context, m *transport.Message, err error) error
	// FlushInterval is how often Run advances the watermark. Default 200ms.
	FlushInterval time.Duration
}

// Log field names.
const (
	logPartition = "partition"
	logTopic     = "topic"
	logOffset    = "offset"
	logErr       = "err"
	logRows      = "rows"
)

// Stage is the featurize stage: a transport.Handler that turns
// escapement.events.v1 into escapement.features.v1. It keeps one Featurizer
// per partition; calls for different partitions may run concurrently, and
// Run advances every partition under that partition's lock.
type Stage struct {
	cfg   StageConfig
	log   *slog.Logger
	m     stageMetrics
	mu    sync.Mutex
	parts map[transport.TopicPartition]*partition
}

type stageMetrics struct {
	events, rows, late, deadLetters, produceErrors prometheus.Counter
	vms                                            prometheus.Gauge
}

// held is a retained delivery waiting for its VM's rows through end.
type held struct {
	d   transport.Delivery
	end int64
}

// partition is the stage's state for one input partition.
type partition struct {
	tp       transport.TopicPartition
	mu       sync.Mutex
	f        *Featurizer
	pending  []Row
	emit     func(Row)
	held     map[string][]held
	decoded  []events.Event // Handle's decode buffer (Handle is sequential per partition)
	maxEvent int64          // greatest event time seen
	seenAt   time.Time      // wall time maxEvent was seen
	vms      int            // VMs last reported to the gauge
	late     uint64         // late drops last reported
}

// NewStage returns the featurize stage. logger and reg may be nil.
func NewStage(cfg StageConfig, logger *slog.Logger, reg prometheus.Registerer) *Stage {
	if cfg.Producer == nil {
		panic("features: NewStage needs a Producer")
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = DefaultFlushInterval
	}
	cfg.Featurizer = cfg.Featurizer.withDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "escapement", Subsystem: "featurize", Name: name, Help: help})
	}
	m := stageMetrics{
		events:        counter("events_total", "Events decoded from the events topic."),
		rows:          counter("rows_total", "Feature rows produced and acknowledged."),
		late:          counter("late_drops_total", "Events dropped because their window had closed."),
		deadLetters:   counter("dead_letters_total", "Messages sent to the dead-letter handler."),
		produceErrors: counter("produce_errors_total", "Failed attempts to produce feature rows (retried)."),
		vms: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "escapement", Subsystem: "featurize", Name: "vms",
			Help: "VMs whose state the stage holds."}),
	}
	if reg != nil {
		reg.MustRegister(m.events, m.rows, m.late, m.deadLetters, m.produceErrors, m.vms)
	}
	return &Stage{cfg: cfg, log: logger, m: m, parts: make(map[transport.TopicPartition]*partition)}
}

// Assigned prepares state for parts.
func (s *Stage) Assigned(_ context.Context, parts []transport.TopicPartition) {
	for _, tp := range parts {
		s.partition(tp)
	}
}

func (s *Stage) partition(tp transport.TopicPartition) *partition {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.parts[tp]
	if p == nil {
		p = &partition{tp: tp, f: New(s.cfg.Featurizer), held: make(map[string][]held)}
		p.emit = func(r Row) { p.pending = append(p.pending, r) }
		s.parts[tp] = p
	}
	return p
}

// Handle decodes one events message, folds it into its partition's windows,
// produces the rows of windows that closed, and retains the delivery while
// a window it contributed to is open.
func (s *Stage) Handle(ctx context.Context, d transport.Delivery) error {
	m := d.Message()
	p := s.partition(transport.TopicPartition{Topic: m.Topic, Partition: m.Partition})
	if v := m.Header(events.HeaderSchema); v != nil && string(v) != events.SchemaVersion {
		return s.deadLetter(ctx, m, fmt.Errorf("%w: header %s is %q, want %q", events.ErrSchema, events.HeaderSchema, v, events.SchemaVersion))
	}
	evs, err := events.Decode(m.Value, p.decoded[:0])
	if err != nil {
		return s.deadLetter(ctx, m, err)
	}
	p.decoded = evs
	s.m.events.Add(float64(len(evs)))

	p.mu.Lock()
	defer p.mu.Unlock()
	p.f.Add(evs, p.emit)
	// Retain d once per VM it holds events of, while that VM has an open
	// window; batches are per VM, so the VM list is almost always one long.
	var vms []string
	for i := range evs {
		id := evs[i].VMID
		if (i > 0 && id == evs[i-1].VMID) || slices.Contains(vms, id) {
			continue
		}
		vms = append(vms, id)
		if end := p.f.OpenEnd(id); end > 0 {
			d.Retain()
			p.held[id] = append(p.held[id], held{d: d, end: end})
		}
	}
	for i := range evs {
		if evs[i].TimeNs > p.maxEvent {
			p.maxEvent, p.seenAt = evs[i].TimeNs, time.Now()
		}
	}
	clear(p.decoded) // drop string references until the next message
	return s.flush(ctx, p)
}

func (s *Stage) deadLetter(ctx context.Context, m *transport.Message, err error) error {
	s.m.deadLetters.Inc()
	s.log.Warn("undecodable events message", logTopic, m.Topic, logPartition, m.Partition, logOffset, m.Offset, logErr, err)
	if s.cfg.DeadLetter == nil {
		return fmt.Errorf("features: %s[%d]@%d: %w (configure a dead-letter handler to skip bad messages)", m.Topic, m.Partition, m.Offset, err)
	}
	if dlErr := s.cfg.DeadLetter(ctx, m, err); dlErr != nil {
		return fmt.Errorf("features: dead-lettering %s[%d]@%d: %w", m.Topic, m.Partition, m.Offset, dlErr)
	}
	return nil
}

// flush produces p's pending rows, one message per VM, and releases the
// deliveries whose windows are now all produced. On error the rows stay
// pending for the next flush. p.mu is held.
func (s *Stage) flush(ctx context.Context, p *partition) error {
	defer s.report(p)
	if len(p.pending) == 0 {
		return nil
	}
	var order []string
	byVM := make(map[string][]Row)
	for _, r := range p.pending {
		if _, ok := byVM[r.VMID]; !ok {
			order = append(order, r.VMID)
		}
		byVM[r.VMID] = append(byVM[r.VMID], r)
	}
	msgs := make([]transport.Message, 0, len(order))
	for _, vm := range order {
		data, err := EncodeRows(byVM[vm])
		if err != nil {
			return err
		}
		msgs = append(msgs, transport.Message{
			Topic: Topic,
			Key:   []byte(vm),
			Value: data,
			Headers: []transport.Header{
				{Key: events.HeaderContentType, Value: []byte(ContentType)},
				{Key: events.HeaderSchema, Value: []byte(SchemaVersion)},
			},
		})
	}
	if err := s.cfg.Producer.Produce(ctx, msgs...); err != nil {
		s.m.produceErrors.Inc()
		return fmt.Errorf("features: producing %d rows to %s: %w", len(p.pending), Topic, err)
	}
	s.m.rows.Add(float64(len(p.pending)))
	clear(p.pending)
	p.pending = p.pending[:0]
	for _, vm := range order {
		rows := byVM[vm]
		through := rows[len(rows)-1].End
		hs := p.held[vm]
		n := 0
		for _, h := range hs {
			if h.end <= through {
				h.d.Release()
			} else {
				hs[n] = h
				n++
			}
		}
		clear(hs[n:])
		if n == 0 {
			delete(p.held, vm)
		} else {
			p.held[vm] = hs[:n]
		}
	}
	return nil
}

// report brings the gauges and drop counter up to date with p. p.mu is held.
func (s *Stage) report(p *partition) {
	st := p.f.Stats()
	s.m.vms.Add(float64(st.VMs - p.vms))
	p.vms = st.VMs
	s.m.late.Add(float64(st.LateDrops - p.late))
	p.late = st.LateDrops
}

// Revoked produces the rows of the partitions' closed windows and forgets
// their open windows without releasing the deliveries those hold: the
// next owner consumes them again and emits every window once, complete.
// A soft stop therefore leaves the open windows to the next start (or to
// another member); `escapement run` drains them before it stops.
func (s *Stage) Revoked(ctx context.Context, parts []transport.TopicPartition) {
	for _, tp := range parts {
		s.mu.Lock()
		p := s.parts[tp]
		delete(s.parts, tp)
		s.mu.Unlock()
		if p == nil {
			continue
		}
		p.mu.Lock()
		// Rows of windows that already closed are produced. Windows still
		// open are dropped, not flushed: their deliveries stay unreleased,
		// so the partition's next owner reads their events again and emits
		// each window once and complete (a flushed partial window would be
		// followed by a second row for the same window with the rest).
		if err := s.flush(ctx, p); err != nil {
			s.log.Error("rows of a revoked partition not produced; its input will be consumed again",
				logTopic, tp.Topic, logPartition, tp.Partition, logRows, len(p.pending), logErr, err)
		}
		s.m.vms.Sub(float64(p.vms))
		p.vms = 0
		p.mu.Unlock()
	}
}

// Run advances every partition's watermark each FlushInterval until ctx is
// done, so that windows of VMs that went quiet close and their offsets are
// released. A partition's watermark is its greatest event time plus the
// wall time since that event was seen: event time while data flows (so a
// consumer catching up on a backlog drops nothing), wall time when quiet.
// Produce errors are logged and retried on the next tick. Run returns nil
// when ctx is done.
func (s *Stage) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			s.tick(ctx, now)
		}
	}
}

func (s *Stage) tick(ctx context.Context, now time.Time) {
	s.mu.Lock()
	parts := make([]*partition, 0, len(s.parts))
	for _, p := range s.parts {
		parts = append(parts, p)
	}
	s.mu.Unlock()
	for _, p := range parts {
		p.mu.Lock()
		if p.maxEvent != 0 {
			p.f.Advance(p.maxEvent+int64(now.Sub(p.seenAt)), p.emit)
		}
		if err := s.flush(ctx, p); err != nil && !errors.Is(err, context.Canceled) {
			s.log.Error("producing feature rows failed; retrying on the next tick",
				logTopic, p.tp.Topic, logPartition, p.tp.Partition, logRows, len(p.pending), logErr, err)
		}
		p.mu.Unlock()
	}
}

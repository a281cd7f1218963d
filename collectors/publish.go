package collectors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/escapement/escapement/events"
	"github.com/escapement/escapement/transport"
)

// PublisherConfig bounds the per-VM batches of a Publisher. Zero values take
// the defaults.
type PublisherConfig struct {
	Topic      string        // default events.Topic
	MaxEvents  int           // events per message; default 4096
	MaxBytes   int           // approximate encoded bytes per message; default 1 MiB
	MaxLatency time.Duration // longest an event waits before it is produced; default 100 ms
	RetryMin   time.Duration // first backoff after a failed produce; default 100 ms
	RetryMax   time.Duration // longest backoff; default 5 s
	// DrainTimeout bounds the final flush of Run after its context is done;
	// default 10 s.
	DrainTimeout time.Duration
}

func (c *PublisherConfig) setDefaults() {
	if c.Topic == "" {
		c.Topic = events.Topic
	}
	if c.MaxEvents <= 0 {
		c.MaxEvents = 4096
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = 1 << 20
	}
	if c.MaxLatency <= 0 {
		c.MaxLatency = 100 * time.Millisecond
	}
	if c.RetryMin <= 0 {
		c.RetryMin = 100 * time.Millisecond
	}
	if c.RetryMax < c.RetryMin {
		c.RetryMax = max(5*time.Second, c.RetryMin)
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 10 * time.Second
	}
}

// eventOverhead approximates the encoded size of an event's fixed-width
// columns (time, vcpu, tid, source, kind, code, four args, string offsets).
const eventOverhead = 8 + 4 + 4 + 1 + 1 + 8 + 8*events.NumArgs + 3*4

func approxSize(ev *events.Event) int {
	return eventOverhead + len(ev.Host) + len(ev.VMID) + len(ev.Detail)
}

type vmBatch struct {
	vm     string
	evs    []events.Event
	bytes  int
	reason string // why the batch was closed
}

// Publisher groups event batches per VM and produces one message per VM
// batch. Publish and Flush are safe for concurrent use; messages of one VM
// are produced in the order their events were published.
type Publisher struct {
	prod transport.Producer
	cfg  PublisherConfig
	log  *slog.Logger
	m    *publisherMetrics

	bufMu   sync.Mutex
	open    map[string]*vmBatch // batches still accepting events
	ready   []*vmBatch          // closed batches waiting to be produced, in order
	pending int                 // events in open and ready

	sendMu sync.Mutex // serialises produce calls and guards enc
	enc    *events.Encoder
}

// NewPublisher returns a Publisher producing to prod. log and reg may be nil.
func NewPublisher(prod transport.Producer, cfg PublisherConfig, log *slog.Logger, reg prometheus.Registerer) (*Publisher, error) {
	if prod == nil {
		return nil, errors.New("collectors: NewPublisher needs a transport.Producer")
	}
	cfg.setDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, err := newPublisherMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &Publisher{
		prod: prod, cfg: cfg, log: log, m: m,
		open: make(map[string]*vmBatch),
		enc:  events.NewEncoder(),
	}, nil
}

// Publish adds evs (any mix of VMs) to the per-VM batches and produces the
// batches that reached their count or byte bound. It has the signature of a
// collector's emit function. It blocks while earlier batches are being
// produced (back-pressure) and returns an error only when ctx ends before
// full batches could be produced; those stay queued for the next Flush.
func (p *Publisher) Publish(ctx context.Context, evs []events.Event) error {
	p.bufMu.Lock()
	for i := range evs {
		ev := &evs[i]
		b := p.open[ev.VMID]
		if b == nil {
			b = &vmBatch{vm: ev.VMID}
			p.open[ev.VMID] = b
		}
		b.evs = append(b.evs, *ev)
		b.bytes += approxSize(ev)
		p.pending++
		switch {
		case len(b.evs) >= p.cfg.MaxEvents:
			b.reason = "count"
		case b.bytes >= p.cfg.MaxBytes:
			b.reason = "bytes"
		default:
			continue
		}
		p.ready = append(p.ready, b)
		delete(p.open, ev.VMID)
	}
	full := len(p.ready) > 0
	p.m.pending.Set(float64(p.pending))
	p.bufMu.Unlock()
	if !full {
		return nil
	}
	return p.send(ctx, false)
}

// Flush produces every batch, full or not.
func (p *Publisher) Flush(ctx context.Context) error { return p.send(ctx, true) }

// send produces the ready batches and, when all is set, the open ones too.
func (p *Publisher) send(ctx context.Context, all bool) error {
	p.sendMu.Lock()
	defer p.sendMu.Unlock()
	p.bufMu.Lock()
	batches := p.ready
	p.ready = nil
	if all && len(p.open) > 0 {
		vms := make([]string, 0, len(p.open))
		for vm := range p.open {
			vms = append(vms, vm)
		}
		slices.Sort(vms) // deterministic message order
		for _, vm := range vms {
			b := p.open[vm]
			b.reason = "latency"
			batches = append(batches, b)
		}
		clear(p.open)
	}
	p.bufMu.Unlock()
	if len(batches) == 0 {
		return nil
	}
	msgs := make([]transport.Message, 0, len(batches))
	nev := 0
	for _, b := range batches {
		val, err := p.enc.Encode(b.evs)
		if err != nil {
			// Encoding plain values cannot fail short of a bug in Arrow;
			// keep the events queued and report it.
			p.requeue(batches)
			return fmt.Errorf("collectors: encode batch of VM %q: %w", b.vm, err)
		}
		msgs = append(msgs, transport.Message{
			Topic: p.cfg.Topic,
			Key:   []byte(b.vm),
			Value: val,
			Headers: []transport.Header{
				{Key: events.HeaderContentType, Value: []byte(events.ContentType)},
				{Key: events.HeaderSchema, Value: []byte(events.SchemaVersion)},
			},
		})
		nev += len(b.evs)
	}
	if err := p.produce(ctx, msgs, nev); err != nil {
		p.requeue(batches)
		return err
	}
	bytes := 0
	for i, b := range batches {
		p.m.messages.WithLabelValues(b.reason).Inc()
		bytes += len(msgs[i].Value)
	}
	p.m.events.Add(float64(nev))
	p.m.bytes.Add(float64(bytes))
	p.bufMu.Lock()
	p.pending -= nev
	p.m.pending.Set(float64(p.pending))
	p.bufMu.Unlock()
	return nil
}

// requeue puts batches that could not be produced back at the head of the
// ready queue so that the next send retries them first.
func (p *Publisher) requeue(batches []*vmBatch) {
	p.bufMu.Lock()
	p.ready = append(batches, p.ready...)
	p.bufMu.Unlock()
}

// produce retries with exponential backoff until the broker acknowledges
// msgs or ctx ends.
func (p *Publisher) produce(ctx context.Context, msgs []transport.Message, nev int) error {
	wait := p.cfg.RetryMin
	for attempt := 1; ; attempt++ {
		err := p.prod.Produce(ctx, msgs...)
		if err == nil {
			return nil
		}
		p.m.errors.Inc()
		if ctx.Err() != nil {
			return fmt.Errorf("collectors: %d events in %d messages not produced, still queued (context ended after %d attempts): %w", nev, len(msgs), attempt, err)
		}
		p.log.Warn("produce failed, retrying", "topic", p.cfg.Topic, "messages", len(msgs), "events", nev, "attempt", attempt, "backoff", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("collectors: %d events in %d messages not produced, still queued (context ended after %d attempts): %w", nev, len(msgs), attempt, err)
		case <-t.C:
		}
		wait = min(2*wait, p.cfg.RetryMax)
	}
}

// Pending reports how many published events have not been produced yet.
func (p *Publisher) Pending() int {
	p.bufMu.Lock()
	defer p.bufMu.Unlock()
	return p.pending
}

// Run runs c with Publish as its emit function, flushes every MaxLatency
// while it runs, and flushes once more when it returns (for at most
// DrainTimeout after ctx is done). It returns the collector's error, or the
// error of the final flush when events could not be produced.
func (p *Publisher) Run(ctx context.Context, c Collector) error {
	tickCtx, stop := context.WithCancel(ctx)
	tickDone := make(chan struct{})
	go func() {
		defer close(tickDone)
		t := time.NewTicker(p.cfg.MaxLatency)
		defer t.Stop()
		for {
			select {
			case <-tickCtx.Done():
				return
			case <-t.C:
				if err := p.Flush(tickCtx); err != nil && tickCtx.Err() == nil {
					p.log.Error("flush failed", "collector", c.Name(), "err", err)
				}
			}
		}
	}()
	runErr := c.Run(ctx, p.Publish)
	stop()
	<-tickDone
	drainCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.DrainTimeout)
	defer cancel()
	flushErr := p.Flush(drainCtx)
	if runErr != nil {
		return fmt.Errorf("collectors: collector %s: %w", c.Name(), runErr)
	}
	return flushErr
}

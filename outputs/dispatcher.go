package outputs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/escapement/escapement/anomaly"
)

// Defaults of a Config.
const (
	DefaultMinBackoff    = time.Second
	DefaultMaxBackoff    = time.Minute
	DefaultSendTimeout   = 30 * time.Second
	DefaultKeepDelivered = 30 * 24 * time.Hour
)

// Config configures a Dispatcher.
type Config struct {
	// SpoolDir holds the spool (SpoolFile); required.
	SpoolDir string
	Targets  []Target
	// MinBackoff and MaxBackoff bound the wait after a failed send; it
	// doubles from MinBackoff on each failure in a row.
	MinBackoff, MaxBackoff time.Duration
	// SendTimeout bounds one Send.
	SendTimeout time.Duration
	// KeepDelivered is how long a delivery is remembered (to skip a
	// duplicate of the same id and revision).
	KeepDelivered time.Duration
}

// Dispatcher spools records for its outputs and delivers them.
type Dispatcher struct {
	cfg   Config
	spool *spool
	log   *slog.Logger
	wake  map[string]chan struct{}
	now   func() time.Time

	sent, failures *prometheus.CounterVec
	queued         *prometheus.GaugeVec
}

// New opens the spool in cfg.SpoolDir and returns a Dispatcher; call Run to
// deliver and Close when done.
func New(cfg Config, log *slog.Logger, reg prometheus.Registerer) (*Dispatcher, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.SpoolDir == "" {
		return nil, errors.New("outputs: no spool directory; give --spool-dir")
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(DefaultMaxBackoff, cfg.MinBackoff)
	}
	if cfg.SendTimeout <= 0 {
		cfg.SendTimeout = DefaultSendTimeout
	}
	if cfg.KeepDelivered <= 0 {
		cfg.KeepDelivered = DefaultKeepDelivered
	}
	d := &Dispatcher{cfg: cfg, log: log, wake: map[string]chan struct{}{}, now: time.Now}
	for _, t := range cfg.Targets {
		if t.MinSeverity != "" && anomaly.SeverityRank(t.MinSeverity) < 0 {
			return nil, fmt.Errorf("output %s: minimum severity %q: want one of %v", t.Output.Name(), t.MinSeverity, anomaly.Severities)
		}
		if _, dup := d.wake[t.Output.Name()]; dup {
			return nil, fmt.Errorf("two outputs named %s: give each output its own name", t.Output.Name())
		}
		d.wake[t.Output.Name()] = make(chan struct{}, 1)
	}
	sp, err := openSpool(cfg.SpoolDir)
	if err != nil {
		return nil, err
	}
	d.spool = sp
	d.sent = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "escapement", Subsystem: "outputs",
		Name: "sent_total", Help: "Anomaly revisions a receiver accepted, by output."}, []string{"output"})
	d.failures = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "escapement", Subsystem: "outputs",
		Name: "send_failures_total", Help: "Failed sends (retried with backoff), by output."}, []string{"output"})
	d.queued = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "escapement", Subsystem: "outputs",
		Name: "spooled", Help: "Anomaly revisions waiting in the spool, by output."}, []string{"output"})
	if reg != nil {
		reg.MustRegister(d.sent, d.failures, d.queued)
	}
	return d, nil
}

// Enqueue spools rec for every output whose filter it passes and which has
// not delivered or queued the same (id, revision). It returns once the
// spool is on disk.
func (d *Dispatcher) Enqueue(ctx context.Context, rec anomaly.Record) error {
	var names []string
	for _, t := range d.cfg.Targets {
		if t.passes(&rec) {
			names = append(names, t.Output.Name())
		}
	}
	if len(names) == 0 {
		return nil
	}
	body, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	n, err := d.spool.add(ctx, names, rec.ID, rec.Revision, body)
	if err != nil {
		return fmt.Errorf("spool anomaly %s rev %d: %w", rec.ID, rec.Revision, err)
	}
	if n > 0 {
		for _, name := range names {
			select {
			case d.wake[name] <- struct{}{}:
			default:
			}
		}
	}
	return nil
}

// Pending returns how many records wait in output's spool.
func (d *Dispatcher) Pending(ctx context.Context, output string) (int, error) {
	return d.spool.pending(ctx, output)
}

// Run delivers every output's spool until ctx is done.
func (d *Dispatcher) Run(ctx context.Context) error {
	if n, err := d.spool.forget(ctx, d.now().Add(-d.cfg.KeepDelivered)); err != nil {
		d.log.Warn("output spool: forgetting old deliveries failed", "err", err)
	} else if n > 0 {
		d.log.Info("output spool: forgot old deliveries", "deliveries", n)
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, t := range d.cfg.Targets {
		g.Go(func() error { return d.deliver(gctx, t.Output) })
	}
	return g.Wait()
}

// deliver sends out's queue in order until ctx is done.
func (d *Dispatcher) deliver(ctx context.Context, out Output) error {
	name := out.Name()
	backoff := time.Duration(0)
	for {
		if n, err := d.spool.pending(ctx, name); err == nil {
			d.queued.WithLabelValues(name).Set(float64(n))
		}
		it, ok, err := d.spool.next(ctx, name)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("output %s: read the spool: %w", name, err)
		}
		if !ok {
			select {
			case <-ctx.Done():
				return nil
			case <-d.wake[name]:
				continue
			}
		}
		var rec anomaly.Record
		if err := json.Unmarshal(it.body, &rec); err != nil {
			return fmt.Errorf("output %s: spooled record %s rev %d is corrupt: %w", name, it.id, it.revision, err)
		}
		sctx, cancel := context.WithTimeout(ctx, d.cfg.SendTimeout)
		err = out.Send(sctx, rec)
		cancel()
		if err == nil {
			if err := d.spool.done(context.WithoutCancel(ctx), name, it, d.now()); err != nil {
				return fmt.Errorf("output %s: record the delivery of %s rev %d: %w", name, it.id, it.revision, err)
			}
			d.sent.WithLabelValues(name).Inc()
			backoff = 0
			continue
		}
		if ctx.Err() != nil {
			return nil
		}
		d.failures.WithLabelValues(name).Inc()
		_ = d.spool.failed(ctx, it)
		backoff = min(max(2*backoff, d.cfg.MinBackoff), d.cfg.MaxBackoff)
		d.log.Warn("output send failed; retrying", "output", name, "id", it.id, "revision", it.revision, "retry_in", backoff.String(), "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
	}
}

// Close closes the spool and the outputs that hold connections.
func (d *Dispatcher) Close() error {
	errs := []error{d.spool.close()}
	for _, t := range d.cfg.Targets {
		if c, ok := t.Output.(io.Closer); ok {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}

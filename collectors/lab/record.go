package lab

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/escapement/escapement/collectors"
	"github.com/escapement/escapement/events"
)

// Version identifies the lab's workloads, payloads and label semantics in
// dataset manifests; it changes when a recording of the same plan would
// mean something else.
const Version = "lab.v1"

// Capture defaults.
const (
	DefaultCaptureLead  = time.Second
	DefaultCaptureDrain = 1500 * time.Millisecond
)

// CaptureConfig tunes Capture. Zero values select the defaults.
type CaptureConfig struct {
	// Exe is the VMM binary, as in Spec.Exe.
	Exe string
	// Lead is how long the collector runs before the first VMM starts, so
	// its tracefs instance is capturing when the guests begin.
	Lead time.Duration
	// Drain is how long the collector keeps running after the last VMM
	// ended, so events still in the kernel's buffers are read.
	Drain time.Duration
}

// Capture runs plan p while collector c captures, and hands emit the events
// of the plan's VMs only (events whose VMID is one of p's VM names; every
// other VM and VMM on the host is dropped). The collector starts Lead before
// the VMMs and stops Drain after they end. Capture returns the plan's result
// (labels with the VMMs' actual window times); an error of the collector
// (not root, no tracefs) stops the plan and is returned. emit is called from
// the collector's goroutine only.
func Capture(ctx context.Context, p Plan, c collectors.Collector, cfg CaptureConfig,
	emit func(context.Context, []events.Event) error) (PlanResult, error) {
	if err := p.Validate(); err != nil {
		return PlanResult{}, err
	}
	if cfg.Lead <= 0 {
		cfg.Lead = DefaultCaptureLead
	}
	if cfg.Drain <= 0 {
		cfg.Drain = DefaultCaptureDrain
	}
	keep := make(map[string]bool, len(p.VMs))
	for _, v := range p.VMs {
		keep[v.Name] = true
	}
	filter := VMFilter(keep, emit)

	cctx, stopCollector := context.WithCancel(ctx)
	defer stopCollector()
	collected := make(chan error, 1)
	go func() { collected <- c.Run(cctx, filter) }()

	pctx, stopPlan := context.WithCancel(ctx)
	defer stopPlan()
	select {
	case err := <-collected:
		return PlanResult{}, collectorEnded(c, err)
	case <-time.After(cfg.Lead):
	case <-ctx.Done():
		stopCollector()
		<-collected //nolint:errcheck // the context's end is the error to report
		return PlanResult{}, ctx.Err()
	}

	type planOut struct {
		res PlanResult
		err error
	}
	planned := make(chan planOut, 1)
	go func() {
		r, err := RunPlan(pctx, p, cfg.Exe)
		planned <- planOut{r, err}
	}()
	var out planOut
	select {
	case out = <-planned:
	case err := <-collected:
		stopPlan()
		<-planned
		return PlanResult{}, collectorEnded(c, err)
	}
	if out.err != nil {
		stopCollector()
		<-collected //nolint:errcheck // the plan's error is the one to report
		return out.res, out.err
	}
	select {
	case err := <-collected:
		return out.res, collectorEnded(c, err)
	case <-time.After(cfg.Drain):
	case <-ctx.Done():
	}
	stopCollector()
	if err := <-collected; err != nil && !errors.Is(err, context.Canceled) {
		return out.res, fmt.Errorf("lab: collector %s: %w", c.Name(), err)
	}
	return out.res, ctx.Err()
}

// collectorEnded turns a collector that stopped before the plan ended into
// an error.
func collectorEnded(c collectors.Collector, err error) error {
	if err == nil {
		err = errors.New("it returned before the plan ended")
	}
	return fmt.Errorf("lab: collector %s stopped: %w", c.Name(), err)
}

// VMFilter wraps emit so it only receives events whose VMID is in keep.
// Batches with nothing kept are not passed on; a batch with everything kept
// is passed as is, otherwise emit gets a new slice (it may keep it).
func VMFilter(keep map[string]bool, emit func(context.Context, []events.Event) error) func(context.Context, []events.Event) error {
	return func(ctx context.Context, evs []events.Event) error {
		n := 0
		for i := range evs {
			if keep[evs[i].VMID] {
				n++
			}
		}
		switch n {
		case 0:
			return nil
		case len(evs):
			return emit(ctx, evs)
		}
		kept := make([]events.Event, 0, n)
		for i := range evs {
			if keep[evs[i].VMID] {
				kept = append(kept, evs[i])
			}
		}
		return emit(ctx, kept)
	}
}

// PlanSource is a collectors.Collector that runs a plan under another
// collector (see Capture): its Run starts the collector, runs the plan's
// VMMs, passes on the events of the plan's VMs only and returns when the
// plan has ended and been drained. It lets a plan feed anything that runs a
// Collector, such as collectors.Publisher.
type PlanSource struct {
	plan Plan
	c    collectors.Collector
	cfg  CaptureConfig

	mu  sync.Mutex
	res PlanResult
}

// NewPlanSource returns a collector running plan p under c.
func NewPlanSource(p Plan, c collectors.Collector, cfg CaptureConfig) *PlanSource {
	return &PlanSource{plan: p, c: c, cfg: cfg}
}

// Name is "lab+" and the wrapped collector's name.
func (s *PlanSource) Name() string { return "lab+" + s.c.Name() }

// Run runs Capture; it returns nil when the plan ended normally.
func (s *PlanSource) Run(ctx context.Context, emit func(context.Context, []events.Event) error) error {
	res, err := Capture(ctx, s.plan, s.c, s.cfg, emit)
	s.mu.Lock()
	s.res = res
	s.mu.Unlock()
	return err
}

// Result is the plan's result (labels and VMM results) once Run returned.
func (s *PlanSource) Result() PlanResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.res
}

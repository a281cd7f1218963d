package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/escapement/escapement/events"
)

// Collector runs a Fleet as a collectors.Collector.
type Collector struct {
	f        *Fleet
	realtime bool
	log      *slog.Logger
	chunk    time.Duration
}

// NewCollector wraps f. In realtime mode Run paces generation to the wall
// clock (build the fleet with Start = time.Now() so that event time is wall
// time); otherwise it generates as fast as it can, in chunks of one
// simulated second, which needs a bounded run (Config.Duration > 0). log may
// be nil.
func NewCollector(f *Fleet, realtime bool, log *slog.Logger) *Collector {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Collector{f: f, realtime: realtime, log: log, chunk: time.Second}
}

// Name implements collectors.Collector.
func (c *Collector) Name() string { return "sim" }

// Run implements collectors.Collector: it returns nil at the end of the run
// or when ctx is done, and emit's error otherwise.
func (c *Collector) Run(ctx context.Context, emit func(context.Context, []events.Event) error) error {
	stepEmit := func(evs []events.Event) error { return emit(ctx, evs) }
	end := c.f.End()
	c.log.Info("simulator started", "vms", len(c.f.vms), "realtime", c.realtime, "scenarios", len(c.f.truth))
	if !c.realtime {
		if end == 0 {
			return errors.New("sim: an offline run needs Config.Duration > 0; use realtime mode for an unbounded run")
		}
		for c.f.Now() < end {
			if ctx.Err() != nil {
				return nil
			}
			if err := c.f.Step(c.f.Now()+int64(c.chunk), stepEmit); err != nil {
				if ctx.Err() != nil {
					return nil // stopped mid-batch: what was emitted stays queued downstream
				}
				return fmt.Errorf("sim: emit: %w", err)
			}
		}
		return nil
	}
	t := time.NewTicker(Tick * 5)
	defer t.Stop()
	for end == 0 || c.f.Now() < end {
		// Catch up in bounded chunks so a fleet started in the past does not
		// build one huge batch.
		now := time.Now().UnixNano()
		target := min(now, c.f.Now()+int64(c.chunk))
		if err := c.f.Step(target, stepEmit); err != nil {
			if ctx.Err() != nil {
				return nil // stopped mid-batch: what was emitted stays queued downstream
			}
			return fmt.Errorf("sim: emit: %w", err)
		}
		if target < now {
			if ctx.Err() != nil {
				return nil
			}
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
	return nil
}

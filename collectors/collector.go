package collectors

import (
	"context"

	"github.com/escapement/escapement/events"
)

// Emit hands a batch of events to the next stage. The slice is only valid
// for the duration of the call: an Emit that keeps events copies them. A
// returned error stops the collector, which returns it.
type Emit func(ctx context.Context, evs []events.Event) error

// Collector is a source of canonical events: live KVM telemetry, the lab,
// the fleet simulator, replay of recordings.
//
// Run produces events until its input ends or ctx is done, handing them to
// emit in batches (a batch may mix VMs; timestamps increase within each VM).
// It returns nil at the end of its input and when ctx is done, and the error
// of emit, wrapped, when emit fails. A Collector is run at most once at a time.
type Collector interface {
	// Name identifies the collector in logs and metrics ("sim", "tracefs").
	Name() string
	Run(ctx context.Context, emit func(context.Context, []events.Event) error) error
}

package kvm

import (
	"context"
	"fmt"
	"os"
	"sync"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/ipc"

	"github.com/escapement/escapement/events"
)

// MetaPlatform is the Arrow schema metadata key naming a recording's
// platform (pvm, vmx, svm).
const MetaPlatform = "escapement.platform"

// recordingSchema is events.Schema with the platform added to its metadata.
func recordingSchema(platform string) *arrow.Schema {
	md := events.Schema.Metadata()
	keys := append(md.Keys(), MetaPlatform)
	vals := append(md.Values(), platform)
	m := arrow.NewMetadata(keys, vals)
	return arrow.NewSchema(events.Schema.Fields(), &m)
}

// Recorder writes events to an Arrow IPC file (events.v1 schema, platform
// in the metadata). Write is safe for concurrent use.
type Recorder struct {
	mu     sync.Mutex
	f      *os.File
	w      *ipc.FileWriter
	schema *arrow.Schema
	enc    *events.Encoder
}

// NewRecorder creates path and writes its header. platform is noted in the
// file (DetectPlatform("/sys/module", "/proc/cpuinfo") on a live host).
func NewRecorder(path, platform string) (*Recorder, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("kvm: create recording %s: %w", path, err)
	}
	s := recordingSchema(platform)
	w, err := ipc.NewFileWriter(f, ipc.WithSchema(s))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("kvm: start recording %s: %w", path, err)
	}
	return &Recorder{f: f, w: w, schema: s, enc: events.NewEncoder()}, nil
}

// Write appends evs as one record batch.
func (r *Recorder) Write(evs []events.Event) error {
	if len(evs) == 0 {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := r.enc.Record(evs)
	defer rec.Release()
	out := array.NewRecord(r.schema, rec.Columns(), rec.NumRows())
	defer out.Release()
	if err := r.w.Write(out); err != nil {
		return fmt.Errorf("kvm: write recording %s: %w", r.f.Name(), err)
	}
	return nil
}

// Tee returns an emit function that records each batch, then passes it to
// next (nil: record only).
func (r *Recorder) Tee(next func(context.Context, []events.Event) error) func(context.Context, []events.Event) error {
	return func(ctx context.Context, evs []events.Event) error {
		if err := r.Write(evs); err != nil {
			return err
		}
		if next == nil {
			return nil
		}
		return next(ctx, evs)
	}
}

// Close writes the file footer; a recording is readable only once closed.
func (r *Recorder) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	err := r.w.Close()
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("kvm: close recording %s: %w", r.f.Name(), err)
	}
	return nil
}

// collector is the subset of collectors.Collector a recording wraps.
type collector interface {
	Name() string
	Run(ctx context.Context, emit func(context.Context, []events.Event) error) error
}

// Recording wraps c so that every batch it emits is written to r before it
// goes on; pass the result to collectors.Publisher.Run for --record with
// --brokers. The caller closes r after Run returns.
func Recording(c collector, r *Recorder) collector { return &recording{c: c, r: r} }

type recording struct {
	c collector
	r *Recorder
}

func (w *recording) Name() string { return w.c.Name() }

func (w *recording) Run(ctx context.Context, emit func(context.Context, []events.Event) error) error {
	return w.c.Run(ctx, w.r.Tee(emit))
}

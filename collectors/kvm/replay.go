package kvm

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/escapement/escapement/events"
)

// openRecording opens an Arrow IPC file written by Recorder.
func openRecording(path string) (*os.File, *ipc.FileReader, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, "", fmt.Errorf("kvm: open recording %s: %w", path, err)
	}
	r, err := ipc.NewFileReader(f, ipc.WithAllocator(memory.DefaultAllocator))
	if err != nil {
		f.Close()
		return nil, nil, "", fmt.Errorf("kvm: %s is not an Arrow IPC file written by --record: %w", path, err)
	}
	if err := events.CheckSchema(r.Schema()); err != nil {
		r.Close()
		f.Close()
		return nil, nil, "", fmt.Errorf("kvm: recording %s: %w", path, err)
	}
	platform, _ := r.Schema().Metadata().GetValue(MetaPlatform)
	return f, r, platform, nil
}

// Replay is a collector streaming a recording back (collectors.Collector).
type Replay struct {
	path     string
	realtime bool
}

// NewReplay returns a collector replaying path: at the recorded pace when
// realtime, else as fast as emit takes the batches. Events keep their
// recorded time, host and vm_id; their Source becomes events.SourceReplay.
func NewReplay(path string, realtime bool) *Replay { return &Replay{path: path, realtime: realtime} }

// Name implements collectors.Collector.
func (r *Replay) Name() string { return "replay" }

// Platform returns the platform noted in the recording ("" if none).
func (r *Replay) Platform() (string, error) {
	f, rd, p, err := openRecording(r.path)
	if err != nil {
		return "", err
	}
	rd.Close()
	f.Close()
	return p, nil
}

// Run implements collectors.Collector: it returns nil at the end of the
// file or when ctx is done.
func (r *Replay) Run(ctx context.Context, emit func(context.Context, []events.Event) error) error {
	f, rd, _, err := openRecording(r.path)
	if err != nil {
		return err
	}
	defer f.Close()
	defer rd.Close()
	var evs []events.Event
	var first int64
	start := time.Now()
	for i := 0; i < rd.NumRecords(); i++ {
		rec, err := rd.Record(i)
		if err != nil {
			return fmt.Errorf("kvm: read batch %d of %s: %w", i, r.path, err)
		}
		evs, err = events.AppendRecord(rec, evs[:0])
		if err != nil {
			return fmt.Errorf("kvm: batch %d of %s: %w", i, r.path, err)
		}
		for j := range evs {
			evs[j].Source = events.SourceReplay
		}
		if len(evs) == 0 {
			continue
		}
		if r.realtime {
			if first == 0 {
				first = evs[0].TimeNs
			}
			wait := time.Duration(evs[0].TimeNs-first) - time.Since(start)
			if wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					return nil
				case <-t.C:
				}
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		if err := emit(ctx, evs); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("kvm: replay %s: %w", r.path, err)
		}
	}
	return nil
}

// Inspection summarises a recording.
type Inspection struct {
	Platform string                    `json:"platform,omitempty"`
	VMs      map[string]map[string]int `json:"vms"` // vm_id → kind name → events
}

// Inspect counts the events of a recording per VM and kind; its JSON form
// is what `escapement dataset inspect FILE --json` prints.
func Inspect(path string) (*Inspection, error) {
	f, rd, platform, err := openRecording(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	defer rd.Close()
	out := &Inspection{Platform: platform, VMs: make(map[string]map[string]int)}
	var evs []events.Event
	for i := 0; i < rd.NumRecords(); i++ {
		rec, err := rd.Record(i)
		if err != nil {
			return nil, fmt.Errorf("kvm: read batch %d of %s: %w", i, path, err)
		}
		if evs, err = events.AppendRecord(rec, evs[:0]); err != nil {
			return nil, fmt.Errorf("kvm: batch %d of %s: %w", i, path, err)
		}
		for j := range evs {
			m := out.VMs[evs[j].VMID]
			if m == nil {
				m = make(map[string]int)
				out.VMs[evs[j].VMID] = m
			}
			m[evs[j].Kind.String()]++
		}
	}
	return out, nil
}

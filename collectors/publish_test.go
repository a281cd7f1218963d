package collectors

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/events"
	"github.com/escapement/escapement/transport"
)

// recorder is a transport.Producer that keeps what it is given; failN makes
// its first failN Produce calls fail.
type recorder struct {
	mu    sync.Mutex
	msgs  []transport.Message
	failN int
	calls int
}

func (r *recorder) Produce(ctx context.Context, msgs ...transport.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.failN > 0 {
		r.failN--
		return errors.New("broker unavailable")
	}
	r.msgs = append(r.msgs, msgs...)
	return nil
}

func (r *recorder) Close() error { return nil }

func (r *recorder) messages() []transport.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]transport.Message(nil), r.msgs...)
}

// decodeAll checks every message's key and headers and returns the events
// per VM in message order, and the size of each message.
func decodeAll(t *testing.T, msgs []transport.Message) (map[string][]events.Event, []int) {
	t.Helper()
	out := map[string][]events.Event{}
	var sizes []int
	for _, m := range msgs {
		require.Equal(t, events.Topic, m.Topic)
		require.Equal(t, events.ContentType, string(m.Header(events.HeaderContentType)))
		require.Equal(t, events.SchemaVersion, string(m.Header(events.HeaderSchema)))
		evs, err := events.Decode(m.Value, nil)
		require.NoError(t, err)
		require.NotEmpty(t, evs)
		for _, ev := range evs {
			require.Equal(t, string(m.Key), ev.VMID, "a message holds one VM's events")
		}
		out[string(m.Key)] = append(out[string(m.Key)], evs...)
		sizes = append(sizes, len(evs))
	}
	return out, sizes
}

func mixedEvents(n, vms int, detail string) []events.Event {
	evs := make([]events.Event, n)
	for i := range evs {
		evs[i] = events.Event{
			TimeNs: int64(1_700_000_000_000_000_000 + i),
			Host:   "host-a",
			VMID:   fmt.Sprintf("vm-%02d", i%vms),
			VCPU:   int32(i % 3),
			TID:    int32(1000 + i%3),
			Source: events.SourceSim,
			Kind:   events.KindIO,
			Code:   0x3F8,
			Args:   [events.NumArgs]uint64{events.DirWrite, 1, uint64(i), 1},
			Detail: detail,
		}
	}
	return evs
}

func TestPublisherBounds(t *testing.T) {
	long := string(make([]byte, 1000))
	tests := []struct {
		name      string
		cfg       PublisherConfig
		n, vms    int
		detail    string
		maxPerMsg int
		minMsgs   int
	}{
		{"count bound", PublisherConfig{MaxEvents: 100}, 1000, 3, "", 100, 12},
		{"byte bound", PublisherConfig{MaxBytes: 20_000}, 300, 2, long, 20, 15},
		{"defaults, one message per VM", PublisherConfig{}, 500, 5, "", 4096, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			reg := prometheus.NewRegistry()
			p, err := NewPublisher(rec, tt.cfg, nil, reg)
			require.NoError(t, err)
			in := mixedEvents(tt.n, tt.vms, tt.detail)
			ctx := context.Background()
			// Publish in uneven chunks; the caller's slice is reused.
			buf := make([]events.Event, 0, 37)
			for i := 0; i < len(in); i += 37 {
				buf = append(buf[:0], in[i:min(i+37, len(in))]...)
				require.NoError(t, p.Publish(ctx, buf))
				clear(buf)
			}
			require.NoError(t, p.Flush(ctx))
			require.Zero(t, p.Pending())
			got, sizes := decodeAll(t, rec.messages())
			require.GreaterOrEqual(t, len(sizes), tt.minMsgs)
			for _, s := range sizes {
				require.LessOrEqual(t, s, tt.maxPerMsg)
			}
			want := map[string][]events.Event{}
			for _, ev := range in {
				want[ev.VMID] = append(want[ev.VMID], ev)
			}
			require.Equal(t, want, got, "every event arrives once, in order per VM")
			require.Equal(t, float64(tt.n), testutil.ToFloat64(p.m.events))
			require.Equal(t, float64(len(sizes)), testutil.ToFloat64(p.m.messages.WithLabelValues("count"))+
				testutil.ToFloat64(p.m.messages.WithLabelValues("bytes"))+testutil.ToFloat64(p.m.messages.WithLabelValues("latency")))
		})
	}
}

func TestPublisherRetriesAndNeverDrops(t *testing.T) {
	rec := &recorder{failN: 3}
	p, err := NewPublisher(rec, PublisherConfig{MaxEvents: 10, RetryMin: time.Millisecond, RetryMax: 4 * time.Millisecond}, nil, nil)
	require.NoError(t, err)
	in := mixedEvents(25, 1, "")
	require.NoError(t, p.Publish(context.Background(), in))
	require.NoError(t, p.Flush(context.Background()))
	got, _ := decodeAll(t, rec.messages())
	require.Equal(t, in, got["vm-00"])
	require.Equal(t, 3.0, testutil.ToFloat64(p.m.errors))
}

func TestPublisherKeepsEventsWhenContextEnds(t *testing.T) {
	rec := &recorder{failN: 1 << 30}
	p, err := NewPublisher(rec, PublisherConfig{RetryMin: time.Millisecond}, nil, nil)
	require.NoError(t, err)
	in := mixedEvents(40, 4, "")
	require.NoError(t, p.Publish(context.Background(), in))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err = p.Flush(ctx)
	require.Error(t, err)
	require.Contains(t, err.Error(), "still queued")
	require.Equal(t, 40, p.Pending())

	rec.mu.Lock()
	rec.failN = 0
	rec.mu.Unlock()
	require.NoError(t, p.Flush(context.Background()))
	require.Zero(t, p.Pending())
	got, _ := decodeAll(t, rec.messages())
	require.Len(t, got, 4)
}

// trickle emits a few events and then waits for the end of its context, so
// only the latency bound can get them out.
type trickle struct{ evs []events.Event }

func (trickle) Name() string { return "trickle" }

func (c trickle) Run(ctx context.Context, emit func(context.Context, []events.Event) error) error {
	if err := emit(ctx, c.evs); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

func TestPublisherLatencyFlushAndDrain(t *testing.T) {
	rec := &recorder{}
	p, err := NewPublisher(rec, PublisherConfig{MaxLatency: 10 * time.Millisecond}, nil, nil)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	in := mixedEvents(6, 2, "")
	go func() { done <- p.Run(ctx, trickle{evs: in}) }()
	require.Eventually(t, func() bool { return len(rec.messages()) == 2 }, 2*time.Second, 5*time.Millisecond,
		"the ticker flushes batches below the count bound")
	cancel()
	require.NoError(t, <-done)
	got, _ := decodeAll(t, rec.messages())
	require.Len(t, got["vm-00"], 3)
	require.Len(t, got["vm-01"], 3)
}

func TestNewPublisherNeedsProducer(t *testing.T) {
	_, err := NewPublisher(nil, PublisherConfig{}, nil, nil)
	require.Error(t, err)
}

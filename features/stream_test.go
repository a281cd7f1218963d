package features

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/escapement/escapement/events"
	"github.com/escapement/escapement/transport"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

// recorder is a transport.Producer that keeps what it is given and fails
// while fail is set.
type recorder struct {
	mu   sync.Mutex
	msgs []transport.Message
	fail error
}

func (r *recorder) Produce(_ context.Context, msgs ...transport.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.msgs = append(r.msgs, msgs...)
	return nil
}

func (r *recorder) Close() error { return nil }

func (r *recorder) rows(t *testing.T) []Row {
	r.mu.Lock()
	defer r.mu.Unlock()
	var rows []Row
	for _, m := range r.msgs {
		require.Equal(t, Topic, m.Topic)
		require.Equal(t, ContentType, string(m.Header(events.HeaderContentType)))
		require.Equal(t, SchemaVersion, string(m.Header(events.HeaderSchema)))
		got, err := DecodeRows(m.Value, nil)
		require.NoError(t, err)
		for _, row := range got {
			require.Equal(t, string(m.Key), row.VMID)
		}
		rows = append(rows, got...)
	}
	return rows
}

// delivery counts references like a Group does: one held while Handle runs.
type delivery struct {
	msg              transport.Message
	retains, release int
}

func (d *delivery) Message() *transport.Message { return &d.msg }
func (d *delivery) Retain()                     { d.retains++ }
func (d *delivery) Release()                    { d.release++ }
func (d *delivery) held() int                   { return d.retains - d.release }

func message(t *testing.T, offset int64, evs ...events.Event) *delivery {
	data, err := events.NewEncoder().Encode(evs)
	require.NoError(t, err)
	return &delivery{msg: transport.Message{
		Topic: events.Topic, Partition: 3, Offset: offset, Key: []byte(evs[0].VMID), Value: data,
		Headers: []transport.Header{{Key: events.HeaderSchema, Value: []byte(events.SchemaVersion)}},
	}}
}

type deadLetters struct {
	msgs []*transport.Message
	errs []error
}

func (dl *deadLetters) handle(_ context.Context, m *transport.Message, err error) error {
	dl.msgs, dl.errs = append(dl.msgs, m), append(dl.errs, err)
	return nil
}

func newTestStage(t *testing.T) (*Stage, *recorder, *deadLetters, *prometheus.Registry) {
	prod, dl, reg := &recorder{}, &deadLetters{}, prometheus.NewRegistry()
	s := NewStage(StageConfig{Producer: prod, DeadLetter: dl.handle}, nil, reg)
	s.Assigned(context.Background(), []transport.TopicPartition{{Topic: events.Topic, Partition: 3}})
	return s, prod, dl, reg
}

func TestStageRetainsUntilWindowProduced(t *testing.T) {
	ctx := context.Background()
	s, prod, _, _ := newTestStage(t)

	d1 := message(t, 10, ev("a", t0+sec/10, events.KindHLT, 0), ev("a", t0+sec/5, events.KindIO, 0x3F5, 1))
	require.NoError(t, s.Handle(ctx, d1))
	require.Equal(t, 1, d1.held(), "window [t0, t0+1s) is open: d1 holds its offset")
	require.Empty(t, prod.rows(t))

	// Event time moves past t0+1s+lateness: the window closes, its row is
	// produced and d1 is released; d2 opens a new window and is held.
	d2 := message(t, 11, ev("a", t0+3*sec+sec/2, events.KindHLT, 0))
	require.NoError(t, s.Handle(ctx, d2))
	rows := prod.rows(t)
	require.Len(t, rows, 1)
	require.Equal(t, t0, rows[0].Start)
	require.Equal(t, 2.0, val(rows[0], "exits_total"))
	require.Equal(t, 0, d1.held())
	require.Equal(t, 1, d1.release)
	require.Equal(t, 1, d2.held())

	// The VM goes quiet: the wall-clock watermark closes its window.
	s.tick(ctx, time.Now().Add(time.Second))
	require.Equal(t, 1, d2.held(), "1s of quiet is less than the lateness")
	s.tick(ctx, time.Now().Add(3*time.Second))
	require.Len(t, prod.rows(t), 2)
	require.Equal(t, 0, d2.held())
}

func TestStageMixedBatchAndRevoke(t *testing.T) {
	ctx := context.Background()
	s, prod, _, reg := newTestStage(t)
	d := message(t, 1, ev("a", t0, events.KindHLT, 0), ev("b", t0, events.KindHLT, 0), ev("a", t0+1, events.KindHLT, 0))
	require.NoError(t, s.Handle(ctx, d))
	require.Equal(t, 2, d.held(), "one reference per VM with an open window")
	require.Equal(t, 2.0, testutil.ToFloat64(s.m.vms))
	s.Revoked(ctx, []transport.TopicPartition{{Topic: events.Topic, Partition: 3}})
	// Open windows are dropped, not flushed: the delivery stays held, so
	// the next owner reads it again and emits each window once, complete.
	require.Equal(t, 2, d.held())
	require.Empty(t, prod.rows(t))
	require.Equal(t, 0.0, testutil.ToFloat64(s.m.vms))
	require.Equal(t, 0.0, testutil.ToFloat64(s.m.rows))
	require.Equal(t, 3.0, testutil.ToFloat64(s.m.events))
	n, err := testutil.GatherAndCount(reg)
	require.NoError(t, err)
	require.Equal(t, 6, n)
}

func TestStageDeadLetters(t *testing.T) {
	ctx := context.Background()
	s, prod, dl, _ := newTestStage(t)
	garbage := &delivery{msg: transport.Message{Topic: events.Topic, Partition: 3, Offset: 7, Value: []byte("not arrow")}}
	require.NoError(t, s.Handle(ctx, garbage))
	wrong := message(t, 8, ev("a", t0, events.KindHLT, 0))
	wrong.msg.Headers[0].Value = []byte("events.v0")
	require.NoError(t, s.Handle(ctx, wrong))
	require.Len(t, dl.msgs, 2)
	require.Equal(t, int64(7), dl.msgs[0].Offset)
	require.Error(t, dl.errs[0])
	require.ErrorIs(t, dl.errs[1], events.ErrSchema)
	require.Zero(t, garbage.retains)
	require.Zero(t, wrong.retains)
	require.Equal(t, 2.0, testutil.ToFloat64(s.m.deadLetters))
	require.Empty(t, prod.rows(t))

	// Without a dead-letter handler a bad message is fatal.
	s2 := NewStage(StageConfig{Producer: prod}, nil, nil)
	require.Error(t, s2.Handle(ctx, garbage))
}

func TestStageProduceFailureKeepsOffsets(t *testing.T) {
	ctx := context.Background()
	s, prod, _, _ := newTestStage(t)
	d1 := message(t, 1, ev("a", t0, events.KindHLT, 0))
	require.NoError(t, s.Handle(ctx, d1))
	prod.fail = errors.New("broker down")
	d2 := message(t, 2, ev("a", t0+5*sec, events.KindHLT, 0))
	err := s.Handle(ctx, d2)
	require.ErrorContains(t, err, "broker down")
	require.Equal(t, 1, d1.held(), "row not acknowledged: d1 stays retained")
	s.tick(ctx, time.Now())
	require.Equal(t, 1, d1.held())
	prod.fail = nil
	s.tick(ctx, time.Now())
	require.Equal(t, 0, d1.held())
	require.Len(t, prod.rows(t), 1)
	require.Zero(t, testutil.ToFloat64(s.m.late))
}

func TestStageRun(t *testing.T) {
	prod := &recorder{}
	s := NewStage(StageConfig{Producer: prod, DeadLetter: (&deadLetters{}).handle, FlushInterval: 10 * time.Millisecond,
		Featurizer: Config{Window: 10 * time.Millisecond, Lateness: 10 * time.Millisecond}}, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	d := message(t, 1, ev("a", time.Now().UnixNano(), events.KindHLT, 0))
	require.NoError(t, s.Handle(ctx, d))
	require.Eventually(t, func() bool {
		prod.mu.Lock()
		defer prod.mu.Unlock()
		return len(prod.msgs) == 1
	}, 5*time.Second, 5*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
}

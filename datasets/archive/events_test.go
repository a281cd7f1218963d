package archive

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/datasets"
	"github.com/escapement/escapement/events"
	"github.com/escapement/escapement/transport"
)

// eventStream returns n messages of events.v1 on partition 0, 50 events
// each a second apart per message, crossing 06:00.
func eventStream(t *testing.T, n int) ([]*delivery, int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	enc := events.NewEncoder()
	var out []*delivery
	total := 0
	for i := range n {
		evs := make([]events.Event, 50)
		for k := range evs {
			evs[k] = events.Event{
				TimeNs: base.Add(time.Duration(i)*time.Second*10 + time.Duration(k)*time.Millisecond).UnixNano(),
				Host:   "h1", VMID: "vm-a", VCPU: 0, TID: 7, Kind: events.KindIO, Code: rng.Uint64N(1 << 16),
			}
		}
		v, err := enc.Encode(evs)
		require.NoError(t, err)
		out = append(out, &delivery{m: transport.Message{Topic: events.Topic, Partition: 0, Offset: int64(i), Value: v}})
		total += len(evs)
	}
	return out, total
}

func TestArchiverEvents(t *testing.T) {
	dir := t.TempDir()
	var dead int
	newA := func() *Archiver {
		a, err := New(Config{Dir: dir, Events: true, RollRows: 1000, DeadLetter: func(context.Context, *transport.Message, error) error {
			dead++
			return nil
		}}, nil, nil)
		require.NoError(t, err)
		return a
	}
	tp := transport.TopicPartition{Topic: events.Topic, Partition: 0}
	msgs, total := eventStream(t, 90) // 05:50 to 06:05
	a := newA()
	a.Assigned(context.Background(), []transport.TopicPartition{tp})
	for _, d := range msgs {
		handle(t, a, d)
	}
	// A feature-rows message is not events: dead-lettered, not archived.
	handle(t, a, stream(t, 0, 1, rand.New(rand.NewPCG(1, 1)))[0])
	a.Revoked(context.Background(), []transport.TopicPartition{tp})
	require.Equal(t, 1, dead)

	count := func() (n int, hours map[string]bool) {
		hours = map[string]bool{}
		paths, err := Files(dir, time.Time{}, time.Time{})
		require.NoError(t, err)
		for _, p := range paths {
			require.NoError(t, datasets.ReadEvents(p, func(evs []events.Event) error {
				for _, ev := range evs {
					hours[HourDir(ev.TimeNs)] = true
					require.Contains(t, p, HourDir(ev.TimeNs), "filed by event time")
				}
				n += len(evs)
				return nil
			}))
		}
		return n, hours
	}
	n, hours := count()
	require.Equal(t, total, n)
	require.Len(t, hours, 2)

	// A new owner skips what the files hold.
	b := newA()
	b.Assigned(context.Background(), []transport.TopicPartition{tp})
	for _, d := range msgs {
		handle(t, b, d)
	}
	b.Revoked(context.Background(), []transport.TopicPartition{tp})
	n, _ = count()
	require.Equal(t, total, n, "no duplicates after a resume")
}

package transport_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/transport"
)

func TestRoundTripKeysStayOnTheirPartition(t *testing.T) {
	cfg := startBroker(t)
	const topic, n = "roundtrip", 300
	ensure(t, cfg, topic, 3)
	produce(t, cfg, topic, n, func(i int) string { return fmt.Sprintf("vm-%d", i%17) })

	rec := &recorder{}
	m := runMember(t, cfg, groupConfig("rt", topic), rec)
	require.Eventually(t, func() bool { return rec.count() >= n }, 15*time.Second, 20*time.Millisecond)
	m.stop(t)

	msgs, assigned, revoked := rec.snapshot()
	require.Len(t, msgs, n, "each message exactly once")
	require.Equal(t, [][]transport.TopicPartition{{{Topic: topic, Partition: 0}, {Topic: topic, Partition: 1}, {Topic: topic, Partition: 2}}}, assigned)
	require.Equal(t, assigned, revoked)

	partOf := map[string]int{}
	used := map[int]bool{}
	lastOffset := map[int]int64{0: -1, 1: -1, 2: -1}
	for _, msg := range msgs {
		k := string(msg.Key)
		if p, ok := partOf[k]; ok {
			require.Equal(t, p, msg.Partition, "key %s moved partition", k)
		}
		partOf[k] = msg.Partition
		used[msg.Partition] = true
		require.Greater(t, msg.Offset, lastOffset[msg.Partition], "offset order within a partition")
		lastOffset[msg.Partition] = msg.Offset
	}
	require.Len(t, partOf, 17)
	require.Len(t, used, 3, "17 keys spread over all 3 partitions")
	for p := range 3 {
		require.Equal(t, lastOffset[p]+1, committed(t, cfg, "rt", topic, p), "partition %d committed to its end", p)
	}
}

func TestRetainedDeliveryHoldsCommitBack(t *testing.T) {
	cfg := startBroker(t)
	const topic = "watermark"
	ensure(t, cfg, topic, 1)
	produce(t, cfg, topic, 10, func(int) string { return "vm" })

	var (
		mu   sync.Mutex
		held transport.Delivery
	)
	rec := &recorder{onHandle: func(d transport.Delivery) {
		if d.Message().Offset == 3 {
			d.Retain()
			mu.Lock()
			held = d
			mu.Unlock()
		}
	}}
	m := runMember(t, cfg, groupConfig("wm", topic), rec)
	require.Eventually(t, func() bool { return rec.count() == 10 }, 10*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool { return committed(t, cfg, "wm", topic, 0) == 3 }, 5*time.Second, 50*time.Millisecond)
	// Several commit intervals later it is still held at 3.
	time.Sleep(300 * time.Millisecond)
	require.Equal(t, int64(3), committed(t, cfg, "wm", topic, 0))

	mu.Lock()
	held.Release()
	mu.Unlock()
	require.Eventually(t, func() bool { return committed(t, cfg, "wm", topic, 0) == 10 }, 5*time.Second, 50*time.Millisecond)
	m.stop(t)
	held.Release() // after revocation: a no-op, not a panic
}

func TestKilledConsumerLosesNothing(t *testing.T) {
	cfg := startBroker(t)
	const topic, n = "crash", 60
	ensure(t, cfg, topic, 3)
	produce(t, cfg, topic, n, func(i int) string { return strconv.Itoa(i % 7) })

	// The first member keeps every delivery from value 20 on open (an
	// unfinished window) and never releases it: it dies with them.
	first := &recorder{onHandle: func(d transport.Delivery) {
		if v, _ := strconv.Atoi(string(d.Message().Value)); v >= 20 {
			d.Retain()
		}
	}}
	gc := groupConfig("crash", topic)
	m1 := runMember(t, cfg, gc, first)
	require.Eventually(t, func() bool { return first.count() == n }, 10*time.Second, 20*time.Millisecond)
	m1.stop(t)

	second := &recorder{}
	m2 := runMember(t, cfg, gc, second)
	firstMsgs, _, _ := first.snapshot()
	// The second member re-reads from the oldest retained offset of each partition.
	want := 0
	oldestHeld := map[int]int64{}
	for _, msg := range firstMsgs {
		v, _ := strconv.Atoi(string(msg.Value))
		if o, ok := oldestHeld[msg.Partition]; v >= 20 && (!ok || msg.Offset < o) {
			oldestHeld[msg.Partition] = msg.Offset
		}
	}
	for _, msg := range firstMsgs {
		if o, ok := oldestHeld[msg.Partition]; ok && msg.Offset >= o {
			want++
		}
	}
	require.Eventually(t, func() bool { return second.count() >= want }, 15*time.Second, 20*time.Millisecond)
	time.Sleep(200 * time.Millisecond)
	m2.stop(t)

	secondMsgs, _, _ := second.snapshot()
	require.Len(t, secondMsgs, want, "exactly the uncommitted suffix is consumed again")
	seen := map[string]int{}
	for _, msg := range append(firstMsgs, secondMsgs...) {
		seen[string(msg.Value)]++
	}
	dups := 0
	for i := range n {
		c := seen[strconv.Itoa(i)]
		require.GreaterOrEqual(t, c, 1, "message %d lost", i)
		dups += c - 1
	}
	require.Equal(t, want, dups)
	require.GreaterOrEqual(t, dups, n-20, "every retained message is redelivered")
	t.Logf("redelivered %d of %d messages", dups, n)
}

func TestTwoMembersSplitAndTakeOver(t *testing.T) {
	cfg := startBroker(t)
	const topic = "split"
	ensure(t, cfg, topic, 4)
	gc := groupConfig("split", topic)

	a := &recorder{}
	ma := runMember(t, cfg, gc, a)
	require.Eventually(t, func() bool { _, as, _ := a.snapshot(); return len(as) == 1 && len(as[0]) == 4 }, 10*time.Second, 20*time.Millisecond)

	b := &recorder{}
	mb := runMember(t, cfg, gc, b)
	require.Eventually(t, func() bool {
		_, as, _ := a.snapshot()
		_, bs, _ := b.snapshot()
		return len(as) >= 2 && len(bs) >= 1 && len(as[len(as)-1])+len(bs[len(bs)-1]) == 4 && len(bs[len(bs)-1]) > 0
	}, 15*time.Second, 20*time.Millisecond, "second member shares the partitions")
	_, as, ar := a.snapshot()
	require.Len(t, ar, len(as)-1, "a was revoked before each new assignment")
	require.Len(t, as[len(as)-1], 2)

	// Produce while split: each member sees only its own partitions.
	produce(t, cfg, topic, 40, func(i int) string { return strconv.Itoa(i) })
	require.Eventually(t, func() bool { return a.count()+b.count() == 40 }, 10*time.Second, 20*time.Millisecond)

	mb.stop(t)
	require.Eventually(t, func() bool { _, as, _ := a.snapshot(); return len(as[len(as)-1]) == 4 }, 15*time.Second, 20*time.Millisecond,
		"a takes over b's partitions")
	_, bs, br := b.snapshot()
	require.Equal(t, bs[len(bs)-1], br[len(br)-1], "b's partitions were revoked on stop")

	produce(t, cfg, topic, 40, func(i int) string { return strconv.Itoa(i) })
	require.Eventually(t, func() bool { return a.count()+b.count() == 80 }, 10*time.Second, 20*time.Millisecond)
	ma.stop(t)
}

func TestHandlerErrorStopsRun(t *testing.T) {
	cfg := startBroker(t)
	const topic = "fatal"
	ensure(t, cfg, topic, 1)
	produce(t, cfg, topic, 5, func(int) string { return "k" })
	g, err := transport.NewGroup(cfg, groupConfig("fatal", topic), nil, nil)
	require.NoError(t, err)
	defer g.Close()
	boom := fmt.Errorf("disk full")
	h := &failing{at: 2, err: boom}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err = g.Run(ctx, h)
	require.ErrorIs(t, err, boom)
	require.Equal(t, int64(2), committed(t, cfg, "fatal", topic, 0), "the failed message is not committed")
}

type failing struct {
	at  int64
	err error
}

func (f *failing) Assigned(context.Context, []transport.TopicPartition) {}
func (f *failing) Revoked(context.Context, []transport.TopicPartition)  {}
func (f *failing) Handle(_ context.Context, d transport.Delivery) error {
	if d.Message().Offset == f.at {
		return f.err
	}
	return nil
}

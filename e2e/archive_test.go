package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/datasets/archive"
	"github.com/escapement/escapement/features"
	"github.com/escapement/escapement/transport"
)

// TestArchiveCrashKeepsEveryRowOnce archives a stream of feature rows,
// kills the archiver while files are open (no Revoked: nothing flushed,
// nothing released), produces more, restarts it on the same directory and
// checks that the archive ends with every row exactly once and the bad
// message dead-lettered.
func TestArchiveCrashKeepsEveryRowOnce(t *testing.T) {
	cfg := startBroker(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	prod, err := transport.NewProducer(cfg, testLog(), nil)
	require.NoError(t, err)
	defer prod.Close()
	dir := t.TempDir()

	rng := rand.New(rand.NewPCG(9, 10))
	base := time.Date(2026, 11, 27, 5, 58, 0, 0, time.UTC) // the stream crosses 06:00
	want := map[rowKey]bool{}
	produce := func(from, to int) {
		var msgs []transport.Message
		for i := from; i < to; i++ {
			r := features.Row{VMID: fmt.Sprintf("vm-%d", i%6), Host: "h1", Start: base.Add(time.Duration(i) * time.Second).UnixNano(), Values: make([]float64, len(features.Names()))}
			r.End = r.Start + int64(time.Second)
			for j := range r.Values {
				r.Values[j] = rng.Float64()
			}
			v, err := features.EncodeRows([]features.Row{r})
			require.NoError(t, err)
			msgs = append(msgs, transport.Message{Topic: features.Topic, Key: []byte(r.VMID), Value: v})
			want[rowKey{r.VMID, r.Start}] = true
		}
		require.NoError(t, prod.Produce(ctx, msgs...))
	}
	produce(0, 150)
	require.NoError(t, prod.Produce(ctx, transport.Message{Topic: features.Topic, Key: []byte("vm-0"), Value: []byte("not feature rows")}))
	dlq := consume(ctx, t, cfg, "archive-dlq-check", transport.DeadLetterTopic)

	newArchiver := func(rollRows int, interval time.Duration) *archive.Archiver {
		a, err := archive.New(archive.Config{
			Dir: dir, RollRows: rollRows, RollInterval: interval,
			DeadLetter: func(ctx context.Context, m *transport.Message, err error) error {
				return transport.DeadLetter(ctx, prod, "archive", m, err)
			},
		}, testLog(), nil)
		require.NoError(t, err)
		return a
	}
	tmpFiles := func() (n int) {
		_ = filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(p, ".tmp") {
				n++
			}
			return nil
		})
		return n
	}

	// Member A rolls every 20 rows of a partition and never by age; it
	// dies after 100 messages once a file is open.
	actx, crash := context.WithCancel(ctx)
	a := &crashingArchiver{Archiver: newArchiver(20, time.Hour), after: 100, tmpFile: tmpFiles}
	go func() { _ = a.Run(actx) }()
	runStage(actx, t, cfg, "archive", features.Topic, a)
	waitFor(t, 60*time.Second, "member A to handle its share and die with a file open", a.dead.Load)
	crash()
	time.Sleep(time.Second)
	require.Positive(t, tmpFiles(), "member A must leave an unfinished file")
	before := count(t, dir)
	require.Positive(t, len(before), "member A must have renamed files before dying")
	require.Less(t, len(before), len(want))

	// More input, then member B, with other roll sizes, takes over.
	produce(150, 300)
	b := newArchiver(7, 500*time.Millisecond)
	bctx, stopB := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = b.Run(bctx) }()
	go func() {
		defer close(done)
		g, err := transport.NewGroup(cfg, fastGroup("archive", features.Topic), testLog(), nil)
		if err == nil {
			_ = g.Run(bctx, b)
			_ = g.Close()
		}
	}()
	ok := waitUntil(60*time.Second, "every row archived", func() bool { return len(count(t, dir)) == len(want) })
	stopB()
	<-done
	got := count(t, dir)
	require.True(t, ok, "%d of %d rows archived", len(got), len(want))
	for k := range want {
		require.Equal(t, 1, got[k], "row %v", k)
	}
	require.Len(t, got, len(want), "rows that were never produced")
	require.Zero(t, tmpFiles(), "a clean stop leaves no unfinished file")
	waitFor(t, 30*time.Second, "the bad message on the dead-letter topic", func() bool {
		for _, m := range dlq.snapshot() {
			if string(m.Header(transport.HeaderDLQStage)) == "archive" {
				return true
			}
		}
		return false
	})
	t.Logf("%d rows archived once each; %d were in files before the crash", len(got), len(before))
}

// count reads the archive back and counts each row.
func count(t *testing.T, dir string) map[rowKey]int {
	t.Helper()
	got := map[rowKey]int{}
	require.NoError(t, archive.Read(dir, time.Time{}, time.Time{}, func(_ []string, rows []features.Row) error {
		for _, r := range rows {
			got[rowKey{r.VMID, r.Start}]++
		}
		return nil
	}))
	return got
}

// crashingArchiver handles `after` messages and goes on until the archive
// has an unfinished file, then acts dead: Handle blocks until its context
// ends and Revoked neither rolls nor releases.
type crashingArchiver struct {
	*archive.Archiver
	after   int64
	n       atomic.Int64
	dead    atomic.Bool
	tmpFile func() int
}

func (c *crashingArchiver) Handle(ctx context.Context, d transport.Delivery) error {
	if c.dead.Load() {
		<-ctx.Done()
		return ctx.Err()
	}
	err := c.Archiver.Handle(ctx, d)
	if c.n.Add(1) >= c.after && c.tmpFile() > 0 {
		c.dead.Store(true)
	}
	return err
}

func (c *crashingArchiver) Revoked(context.Context, []transport.TopicPartition) {}

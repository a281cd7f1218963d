package archive

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/features"
	"github.com/escapement/escapement/transport"
)

const topic = features.Topic

// delivery is a transport.Delivery that counts its references like the
// group does: one while Handle runs.
type delivery struct {
	m    transport.Message
	mu   sync.Mutex
	refs int
}

func (d *delivery) Message() *transport.Message { return &d.m }
func (d *delivery) Retain()                     { d.mu.Lock(); d.refs++; d.mu.Unlock() }
func (d *delivery) Release() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.refs == 0 {
		panic("release without reference")
	}
	d.refs--
}
func (d *delivery) held() bool { d.mu.Lock(); defer d.mu.Unlock(); return d.refs > 0 }

var base = time.Date(2026, 11, 27, 5, 50, 0, 0, time.UTC)

// stream returns n messages of partition p, each with rows of two VMs whose
// windows are 10 s apart from base, so the stream crosses an hour.
func stream(t *testing.T, p, n int, rng *rand.Rand) []*delivery {
	t.Helper()
	var out []*delivery
	for i := 0; i < n; i++ {
		var rows []features.Row
		for _, vm := range []string{"vm-a", "vm-b"} {
			r := features.Row{VMID: vm, Host: "h1", Start: base.Add(time.Duration(i) * 10 * time.Second).UnixNano(), Values: make([]float64, len(features.Names()))}
			r.End = r.Start + int64(10*time.Second)
			for j := range r.Values {
				r.Values[j] = rng.Float64()
			}
			r.NGrams = []features.NGram{{Stream: 1, Hash: rng.Uint64(), Count: uint32(i)}}
			rows = append(rows, r)
		}
		v, err := features.EncodeRows(rows)
		require.NoError(t, err)
		out = append(out, &delivery{m: transport.Message{Topic: topic, Partition: p, Offset: int64(i), Value: v}})
	}
	return out
}

// handle runs Handle as the group does: one reference while it runs.
func handle(t *testing.T, a *Archiver, d *delivery) {
	t.Helper()
	d.Retain()
	require.NoError(t, a.Handle(context.Background(), d))
	d.Release()
}

type key struct {
	vm    string
	start int64
}

func readAll(t *testing.T, dir string) map[key]int {
	t.Helper()
	got := map[key]int{}
	require.NoError(t, Read(dir, time.Time{}, time.Time{}, func(names []string, rows []features.Row) error {
		require.Equal(t, features.Names(), names)
		for _, r := range rows {
			got[key{r.VMID, r.Start}]++
		}
		return nil
	}))
	return got
}

func finals(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			r, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(r))
		}
		return err
	}))
	sort.Strings(out)
	return out
}

func TestArchiverRollsByRowsAndReleasesAfterRename(t *testing.T) {
	dir := t.TempDir()
	a, err := New(Config{Dir: dir, RollRows: 50}, nil, nil)
	require.NoError(t, err)
	tp := transport.TopicPartition{Topic: topic, Partition: 2}
	a.Assigned(context.Background(), []transport.TopicPartition{tp})
	ds := stream(t, 2, 90, rand.New(rand.NewPCG(1, 2)))
	for i, d := range ds[:24] {
		handle(t, a, d)
		require.True(t, d.held(), "message %d released before its file was renamed", i)
	}
	require.Equal(t, []string{"date=2026-11-27/hour=05/." + topic + "-p2-o0.parquet.tmp"}, filterNot(finals(t, dir), RollsDir))
	handle(t, a, ds[24]) // 50 rows: roll
	for i, d := range ds[:25] {
		require.False(t, d.held(), "message %d not released after its file was renamed", i)
	}
	require.Equal(t, []string{"date=2026-11-27/hour=05/" + topic + "-p2-o0-o24.parquet"}, finals(t, dir))
	// Messages 25..89: windows from 05:54:10 to 06:04:50 cross the hour
	// (message 60 starts 06:00); rolls after 49 and 74 (the second spans
	// both hours: one file each, renamed through a journal), then the
	// revoke rolls the rest.
	for _, d := range ds[25:] {
		handle(t, a, d)
	}
	require.True(t, ds[75].held())
	a.Revoked(context.Background(), []transport.TopicPartition{tp})
	for i, d := range ds {
		require.False(t, d.held(), "message %d held after revoke", i)
	}
	require.Equal(t, []string{
		"date=2026-11-27/hour=05/" + topic + "-p2-o0-o24.parquet",
		"date=2026-11-27/hour=05/" + topic + "-p2-o25-o49.parquet",
		"date=2026-11-27/hour=05/" + topic + "-p2-o50-o59.parquet",
		"date=2026-11-27/hour=06/" + topic + "-p2-o60-o74.parquet",
		"date=2026-11-27/hour=06/" + topic + "-p2-o75-o89.parquet",
	}, finals(t, dir))
	got := readAll(t, dir)
	require.Len(t, got, 180)
	for k, n := range got {
		require.Equal(t, 1, n, "%v", k)
	}
}

func filterNot(ps []string, prefix string) []string {
	var out []string
	for _, p := range ps {
		if !strings.HasPrefix(p, prefix) {
			out = append(out, p)
		}
	}
	return out
}

// committed is the offset the group would commit: the oldest held
// delivery's, or one past the last handled.
func committed(ds []*delivery, handled int) int {
	for i, d := range ds[:handled] {
		if d.held() {
			return i
		}
	}
	return handled
}

// A crash at any point (no Revoked, open files abandoned), followed by a
// new owner reading from the committed offset or from an older one (the
// commit after the last rename was lost), leaves every row archived once.
func TestArchiverCrashResumesExactlyOnce(t *testing.T) {
	for _, tc := range []struct {
		name       string
		crashAfter int
		lostCommit bool
	}{
		{"before any roll", 10, false},
		{"just after a roll", 25, false},
		{"mid file after rolls", 62, false},
		{"after rename, before commit", 25, true},
		{"mid file, old commit", 80, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tp := transport.TopicPartition{Topic: topic, Partition: 0}
			ds := stream(t, 0, 90, rand.New(rand.NewPCG(3, 4)))
			a, err := New(Config{Dir: dir, RollRows: 50}, nil, nil)
			require.NoError(t, err)
			a.Assigned(context.Background(), []transport.TopicPartition{tp})
			for _, d := range ds[:tc.crashAfter] {
				handle(t, a, d)
			}
			from := committed(ds, tc.crashAfter)
			if tc.lostCommit {
				from = 0
			}
			// The crashed member's references die with it.
			redo := stream(t, 0, 90, rand.New(rand.NewPCG(3, 4)))
			// Another roll size: rolls of a restart need not fall where the
			// crashed member's did (interval rolls depend on timing).
			b, err := New(Config{Dir: dir, RollRows: 30}, nil, nil)
			require.NoError(t, err)
			b.Assigned(context.Background(), []transport.TopicPartition{tp})
			for _, d := range redo[from:] {
				handle(t, b, d)
			}
			b.Revoked(context.Background(), []transport.TopicPartition{tp})
			got := readAll(t, dir)
			require.Len(t, got, 180)
			for k, n := range got {
				require.Equal(t, 1, n, "%v", k)
			}
			for _, f := range finals(t, dir) {
				require.NotContains(t, f, ".tmp", "unfinished file left behind")
			}
		})
	}
}

func TestArchiverRollsByInterval(t *testing.T) {
	dir := t.TempDir()
	now := base
	a, err := New(Config{Dir: dir, RollInterval: time.Minute, Now: func() time.Time { return now }}, nil, nil)
	require.NoError(t, err)
	tp := transport.TopicPartition{Topic: topic, Partition: 1}
	a.Assigned(context.Background(), []transport.TopicPartition{tp})
	ds := stream(t, 1, 3, rand.New(rand.NewPCG(5, 6)))
	handle(t, a, ds[0])
	handle(t, a, ds[1])
	now = now.Add(59 * time.Second)
	require.NoError(t, a.RollDue())
	require.True(t, ds[0].held())
	now = now.Add(time.Second)
	require.NoError(t, a.RollDue())
	require.False(t, ds[0].held())
	require.False(t, ds[1].held())
	require.Equal(t, []string{"date=2026-11-27/hour=05/" + topic + "-p1-o0-o1.parquet"}, finals(t, dir))
	handle(t, a, ds[2]) // opens a new file at the new now
	now = now.Add(time.Minute)
	empty, err := features.EncodeRows(nil)
	require.NoError(t, err)
	handle(t, a, &delivery{m: transport.Message{Topic: topic, Partition: 1, Offset: 3, Value: empty}}) // no rows, but due: rolls
	require.False(t, ds[2].held())
	require.Len(t, finals(t, dir), 2)
}

func TestArchiverDeadLettersUndecodable(t *testing.T) {
	dir := t.TempDir()
	var dead []int64
	a, err := New(Config{Dir: dir, DeadLetter: func(_ context.Context, m *transport.Message, err error) error {
		require.Error(t, err)
		dead = append(dead, m.Offset)
		return nil
	}}, nil, nil)
	require.NoError(t, err)
	bad := &delivery{m: transport.Message{Topic: topic, Partition: 0, Offset: 7, Value: []byte("not arrow")}}
	handle(t, a, bad)
	require.Equal(t, []int64{7}, dead)
	require.False(t, bad.held())

	noDLQ, err := New(Config{Dir: t.TempDir()}, nil, nil)
	require.NoError(t, err)
	require.ErrorContains(t, noDLQ.Handle(context.Background(), bad), "dead-letter")

	failing, err := New(Config{Dir: t.TempDir(), DeadLetter: func(context.Context, *transport.Message, error) error {
		return errors.New("broker down")
	}}, nil, nil)
	require.NoError(t, err)
	require.ErrorContains(t, failing.Handle(context.Background(), bad), "broker down")
}

func TestReadFiltersTimeRange(t *testing.T) {
	dir := t.TempDir()
	a, err := New(Config{Dir: dir}, nil, nil)
	require.NoError(t, err)
	tp := transport.TopicPartition{Topic: topic, Partition: 0}
	a.Assigned(context.Background(), []transport.TopicPartition{tp})
	for _, d := range stream(t, 0, 90, rand.New(rand.NewPCG(7, 8))) {
		handle(t, a, d)
	}
	a.Revoked(context.Background(), []transport.TopicPartition{tp})
	since, until := base.Add(5*time.Minute), base.Add(11*time.Minute) // 05:55 to 06:01
	n := 0
	require.NoError(t, Read(dir, since, until, func(_ []string, rows []features.Row) error {
		for _, r := range rows {
			require.GreaterOrEqual(t, r.Start, since.UnixNano())
			require.Less(t, r.Start, until.UnixNano())
			n++
		}
		return nil
	}))
	require.Equal(t, 2*36, n) // 36 windows of 10 s, two VMs
}

func TestNewRefusesBadConfig(t *testing.T) {
	_, err := New(Config{}, nil, nil)
	require.ErrorContains(t, err, "--out")
	_, err = New(Config{Dir: t.TempDir(), Names: []string{"vm_id"}}, nil, nil)
	require.Error(t, err)
}

// BenchmarkHandle measures archiving messages of 100 rows each, the final
// roll included. rows/s is per wall second; rows/cpu-s per second of the
// process's CPU time (user + system), which other load on the machine
// disturbs less.
func BenchmarkHandle(b *testing.B) {
	dir := b.TempDir()
	// Default roll size: the final roll (footer, fsync, rename) is timed.
	a, err := New(Config{Dir: dir}, nil, nil)
	require.NoError(b, err)
	rng := rand.New(rand.NewPCG(1, 1))
	rows := make([]features.Row, 100)
	for i := range rows {
		rows[i] = features.Row{VMID: "vm", Host: "h", Start: base.Add(time.Duration(i) * time.Second).UnixNano(), Values: make([]float64, len(features.Names()))}
		for j := range rows[i].Values {
			rows[i].Values[j] = rng.Float64()
		}
		for k := 0; k < 64; k++ {
			rows[i].NGrams = append(rows[i].NGrams, features.NGram{Hash: rng.Uint64(), Count: 1})
		}
	}
	v, err := features.EncodeRows(rows)
	require.NoError(b, err)
	b.SetBytes(int64(len(v)))
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		d := &delivery{m: transport.Message{Topic: topic, Offset: int64(i), Value: v}}
		d.Retain()
		if err := a.Handle(context.Background(), d); err != nil {
			b.Fatal(err)
		}
		d.Release()
	}
	a.Revoked(context.Background(), []transport.TopicPartition{{Topic: topic}})
	b.StopTimer()
	b.ReportMetric(float64(b.N*len(rows))/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(b.N*len(rows))/(cpuTime()-cpu0).Seconds(), "rows/cpu-s")
}

// cpuTime is the process's user + system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

package datasets

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/collectors/sim"
	"github.com/escapement/escapement/events"
	"github.com/escapement/escapement/features"
)

// simRows returns the feature rows of a small simulated fleet (10 VMs for
// 10 minutes: 6 000 rows with their n-gram sketches), the data the archive
// holds in production, unlike random values.
func simRows(b *testing.B) ([]string, []features.Row) {
	b.Helper()
	dir := b.TempDir()
	cfg := sim.Config{Seed: 7, VMs: 10, Duration: 10 * time.Minute, Scenarios: 4, Placebos: 1}
	_, err := GenerateSim(context.Background(), dir, cfg, GenerateOptions{}, nil)
	require.NoError(b, err)
	var names []string
	var all []features.Row
	require.NoError(b, ReadFeatures(filepath.Join(dir, FeaturesFile), func(n []string, rows []features.Row) error {
		names = n
		all = append(all, rows...)
		return nil
	}))
	return names, all
}

// BenchmarkWriteFeatures writes simulated feature rows one row group at a
// time and reports rows per CPU second (user + system, less disturbed by
// other load than wall time) and the file size per row.
func BenchmarkWriteFeatures(b *testing.B) {
	names, rows := simRows(b)
	path := filepath.Join(b.TempDir(), "f.parquet")
	b.ResetTimer()
	cpu0 := cpuTime()
	for range b.N {
		f, err := os.Create(path)
		require.NoError(b, err)
		w, err := NewFeatureWriter(struct{ io.Writer }{f}, names)
		require.NoError(b, err)
		for i := 0; i < len(rows); i += RowGroupFeatures {
			require.NoError(b, w.Write(rows[i:min(i+RowGroupFeatures, len(rows))]))
		}
		require.NoError(b, w.Close())
		require.NoError(b, f.Close())
	}
	cpu := cpuTime() - cpu0
	b.StopTimer()
	st, err := os.Stat(path)
	require.NoError(b, err)
	b.ReportMetric(float64(b.N*len(rows))/cpu.Seconds(), "rows/cpu-s")
	b.ReportMetric(float64(st.Size())/float64(len(rows)), "B/row")
}

// BenchmarkReadFeatures reads simulated feature rows back, every column.
func BenchmarkReadFeatures(b *testing.B) {
	names, rows := simRows(b)
	path := filepath.Join(b.TempDir(), "f.parquet")
	f, err := os.Create(path)
	require.NoError(b, err)
	w, err := NewFeatureWriter(f, names)
	require.NoError(b, err)
	require.NoError(b, w.Write(rows))
	require.NoError(b, w.Close())
	b.ResetTimer()
	cpu0 := cpuTime()
	n := 0
	for range b.N {
		require.NoError(b, ReadFeatures(path, func(_ []string, rs []features.Row) error { n += len(rs); return nil }))
	}
	cpu := cpuTime() - cpu0
	b.ReportMetric(float64(n)/cpu.Seconds(), "rows/cpu-s")
}

// cpuTime is the process's user + system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkWriteEvents writes the events of a small simulated fleet (3 VMs
// for 20 s) one row group at a time and reports events per CPU second and
// the file size per event.
func BenchmarkWriteEvents(b *testing.B) {
	fleet, err := sim.New(sim.Config{Seed: 7, VMs: 3, Duration: 20 * time.Second})
	require.NoError(b, err)
	var evs []events.Event
	require.NoError(b, fleet.Step(fleet.End(), func(batch []events.Event) error {
		evs = append(evs, batch...)
		return nil
	}))
	path := filepath.Join(b.TempDir(), "e.parquet")
	b.ResetTimer()
	cpu0 := cpuTime()
	for range b.N {
		f, err := os.Create(path)
		require.NoError(b, err)
		w, err := NewEventWriter(struct{ io.Writer }{f})
		require.NoError(b, err)
		for i := 0; i < len(evs); i += RowGroupEvents {
			require.NoError(b, w.Write(evs[i:min(i+RowGroupEvents, len(evs))]))
		}
		require.NoError(b, w.Close())
		require.NoError(b, f.Close())
	}
	cpu := cpuTime() - cpu0
	b.StopTimer()
	st, err := os.Stat(path)
	require.NoError(b, err)
	b.ReportMetric(float64(b.N*len(evs))/cpu.Seconds(), "events/cpu-s")
	b.ReportMetric(float64(st.Size())/float64(len(evs)), "B/event")
}

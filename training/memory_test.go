package training

import (
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/datasets"
	"github.com/escapement/escapement/datasets/archive"
	"github.com/escapement/escapement/features"
)

var (
	memRows    = flag.Int("rows", 300_000, "TestTrainArchiveMemory: feature rows in the generated archive")
	memCap     = flag.Int("cap", 40_000, "TestTrainArchiveMemory: MaxFitRows and MaxHoldoutRows")
	memCeiling = flag.Int("max-rss-mb", 1024, "TestTrainArchiveMemory: peak RSS the test must stay under, MiB")
	memKeep    = flag.String("keep", "", "TestTrainArchiveMemory: write the archive to this directory and keep it")
)

// bigRows is the size above which the memory test needs its environment
// variable, so CI (which passes no -args) runs the small version only.
const bigRows = 2_000_000

// TestTrainArchiveMemory generates an archive of -rows feature rows (the
// catalog's features, 1 000 VMs, 1 s windows, 4 partitions), trains from it
// with the streaming path and checks the peak RSS (getrusage maxrss, the
// generation included) against -max-rss-mb. It logs rows/s of the read and
// fit. The 10-million-row run:
//
//	ESCAPEMENT_TRAIN_BIG=1 go test ./training -run TestTrainArchiveMemory -v -timeout 60m \
//	    -args -rows 10000000 -cap 200000 -max-rss-mb 1024
func TestTrainArchiveMemory(t *testing.T) {
	if *memRows > bigRows && os.Getenv("ESCAPEMENT_TRAIN_BIG") == "" {
		t.Skipf("%d rows: set ESCAPEMENT_TRAIN_BIG=1 to run the large version", *memRows)
	}
	dir := *memKeep
	if dir == "" {
		dir = t.TempDir()
	}
	names := features.Names()
	began := time.Now()
	t0 := time.Date(2026, 11, 27, 5, 0, 0, 0, time.UTC)
	spans := writeArchive(t, dir, names, *memRows, 1000, t0)
	gen := time.Since(began)
	t.Logf("generated %d rows in %s (%.0f rows/s)", *memRows, gen.Round(time.Millisecond), float64(*memRows)/gen.Seconds())

	began = time.Now()
	read := func(fn func([]string, []features.Row) error) error {
		return archive.ReadWith(dir, t0, time.Time{}, datasets.ReadOptions{}, nil, fn)
	}
	a, rep, err := StreamFit(read, names, StreamConfig{
		Train:   TrainConfig{Seed: 1, Trees: 50},
		Sample:  SampleConfig{MaxFitRows: *memCap, MaxHoldoutRows: *memCap},
		Exclude: NewExclusions(spans),
	})
	require.NoError(t, err)
	took := time.Since(began)
	rss := maxRSS()
	t.Logf("trained on %d rows in %s: %.0f rows/s; read %s, excluded %v, sample %d+%d; peak RSS %d MiB (ceiling %d); threshold %.3f",
		rep.Read, took.Round(time.Millisecond), float64(rep.Read)/took.Seconds(), rep.Elapsed.Round(time.Millisecond), rep.Excluded,
		rep.Sample.KeptFit, rep.Sample.KeptHoldout, rss>>20, *memCeiling, a.Manifest.Threshold)
	require.Equal(t, int64(*memRows), rep.Read)
	require.Positive(t, rep.Excluded[ReasonTruePositive])
	require.LessOrEqual(t, rep.Sample.KeptFit, *memCap)
	require.LessOrEqual(t, rep.Sample.KeptHoldout, *memCap)
	require.Less(t, rss, int64(*memCeiling)<<20, "peak RSS over the ceiling")
}

// writeArchive writes n rows of vms VMs, one-second windows from t0, in the
// archive layout: one file per hour and partition (VM index mod 4). Each
// VM's rates have their own level and a slow daily cycle. It returns spans
// of one true-positive incident per 100 VMs.
func writeArchive(t *testing.T, dir string, names []string, n, vms int, t0 time.Time) []Span {
	t.Helper()
	const parts = 4
	rng := rand.New(rand.NewPCG(11, 12))
	base := make([]float64, len(names))
	for j := range base {
		base[j] = math.Exp(rng.Float64() * 6) // 1 … 400 per second
	}
	level := make([]float64, vms)
	for v := range level {
		level[v] = math.Exp(0.5 * rng.NormFloat64())
	}
	ids := make([]string, vms)
	for v := range ids {
		ids[v] = fmt.Sprintf("vm-%04d", v)
	}
	type open struct {
		f   *os.File
		w   *datasets.FeatureWriter
		buf []features.Row
		lo  int64
		rel string
	}
	files := map[[2]int64]*open{}
	var offset [parts]int64
	closeFile := func(k [2]int64, o *open) {
		if len(o.buf) > 0 {
			require.NoError(t, o.w.Write(o.buf))
		}
		require.NoError(t, o.w.Close())
		require.NoError(t, o.f.Close())
		final := filepath.Join(dir, o.rel, archive.FileName(features.Topic, int(k[1]), o.lo, offset[k[1]]-1))
		require.NoError(t, os.Rename(o.f.Name(), final))
	}
	vals := make([]float64, len(names)*datasets.RowGroupFeatures*parts)
	used := 0
	for i := 0; i < n; i++ {
		v := i % vms
		sec := int64(i / vms)
		start := t0.UnixNano() + sec*int64(time.Second)
		p := int64(v % parts)
		k := [2]int64{archive.HourOf(start).Unix(), p}
		o := files[k]
		if o == nil {
			// The previous hour of this partition is complete.
			for ok, oo := range files {
				if ok[1] == p {
					closeFile(ok, oo)
					delete(files, ok)
				}
			}
			rel := archive.HourDir(start)
			require.NoError(t, os.MkdirAll(filepath.Join(dir, rel), 0o755))
			f, err := os.Create(filepath.Join(dir, rel, fmt.Sprintf(".gen-p%d.tmp", p)))
			require.NoError(t, err)
			w, err := datasets.NewFeatureWriter(struct{ io.Writer }{f}, names)
			require.NoError(t, err)
			o = &open{f: f, w: w, lo: offset[p], rel: rel}
			files[k] = o
		}
		if used+len(names) > len(vals) {
			used = 0 // every buffered row group was written before reuse
		}
		x := vals[used : used+len(names) : used+len(names)]
		used += len(names)
		day := 1 + 0.3*math.Sin(2*math.Pi*float64(sec)/86400)
		for j, b := range base {
			x[j] = math.Round(b * level[v] * day * math.Exp(0.4*rng.NormFloat64()))
		}
		o.buf = append(o.buf, features.Row{VMID: ids[v], Start: start, End: start + int64(time.Second), Values: x})
		offset[p]++
		if len(o.buf) == datasets.RowGroupFeatures {
			require.NoError(t, o.w.Write(o.buf))
			o.buf = o.buf[:0]
		}
	}
	for k, o := range files {
		closeFile(k, o)
	}
	var spans []Span
	for v := 0; v < vms; v += 100 {
		s := t0.Add(time.Duration(10+v%50) * time.Second)
		spans = append(spans, Span{VMID: ids[v], Start: s, End: s.Add(20 * time.Second), Reason: ReasonTruePositive})
	}
	runtime.GC()
	return spans
}

// maxRSS is the process's peak resident set size in bytes.
func maxRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss << 10 // KiB on Linux
}

package kvm

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// samplePages returns the raw trace_pipe_raw pages saved from a real guest
// and a tracker attributing every task in them to one VM.
func samplePages(tb testing.TB) ([][]byte, *tracker) {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "raw", "pages.bin"))
	if err != nil {
		tb.Fatalf("raw sample missing (regenerate: ESCAPEMENT_SAVE_SAMPLE=1 go test -run TestRealGuest ./collectors/kvm/): %v", err)
	}
	ps := DefaultPageLayout.PageSize
	var pages [][]byte
	for off := 0; off+ps <= len(data); off += ps {
		pages = append(pages, data[off:off+ps])
	}
	tr := newTracker("")
	tids := map[int32]int32{}
	var rd pageReader
	for _, p := range pages {
		if rd.reset(&DefaultPageLayout, p) != nil {
			continue
		}
		for {
			_, rec, ok, err := rd.next()
			if !ok || err != nil {
				break
			}
			if len(rec) >= 8 {
				tids[int32(binary.LittleEndian.Uint32(rec[4:]))] = 0
			}
		}
	}
	tr.update([]VMM{{PID: 1, VMID: "vm-sample", Threads: tids}})
	return pages, tr
}

func FuzzPage(f *testing.F) {
	pages, _ := samplePages(f)
	for i, p := range pages {
		if i%8 == 0 {
			f.Add(p)
		}
	}
	d, _ := testDecoder(f, oneVM())
	f.Fuzz(func(t *testing.T, pg []byte) {
		start := time.Now()
		out := d.Page(pg, nil)
		if len(out) > len(pg) {
			t.Fatalf("%d events from %d bytes", len(out), len(pg))
		}
		if time.Since(start) > time.Second {
			t.Fatal("decoding one page took over a second")
		}
	})
}

func FuzzRecord(f *testing.F) {
	fm := testFormats(f)
	f.Add(record(fm["kvm_pio"], 100, map[string]uint64{"port": 0x3f8}))
	f.Add(record(fm["sched_process_exec"], 101, nil))
	f.Add(record(fm["kvm_exit"], 100, map[string]uint64{"exit_reason": 30, "isa": 1}))
	d, _ := testDecoder(f, oneVM())
	f.Fuzz(func(t *testing.T, rec []byte) {
		out := d.Record(1, rec, nil)
		out = d.FlushPending(out)
		if len(out) > 2 {
			t.Fatalf("%d events from one record", len(out))
		}
	})
}

func TestSampleDecodes(t *testing.T) {
	pages, tr := samplePages(t)
	d, _ := testDecoder(t, tr)
	n := 0
	for _, p := range pages {
		n += len(d.Page(p, nil))
	}
	if n == 0 || d.Stats.Malformed != 0 || d.Stats.Unknown != 0 {
		t.Fatalf("sample: %d events, stats %+v", n, d.Stats)
	}
}

// BenchmarkDecodeSample reports the decode rate on raw pages recorded from
// a real guest, in events/s on one core.
func BenchmarkDecodeSample(b *testing.B) {
	pages, tr := samplePages(b)
	d, _ := testDecoder(b, tr)
	var evs int
	var bytes int
	for _, p := range pages {
		bytes += len(p)
	}
	b.SetBytes(int64(bytes))
	b.ReportAllocs()
	var scratch = d.Page(pages[0], nil)[:0]
	for b.Loop() {
		for _, p := range pages {
			scratch = d.Page(p, scratch[:0])
			evs += len(scratch)
		}
	}
	b.ReportMetric(float64(evs)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(max(evs, 1)), "ns/event")
}

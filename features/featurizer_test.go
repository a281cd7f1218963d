package features

import (
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/escapement/escapement/events"
	"github.com/stretchr/testify/require"
)

const sec = int64(time.Second)

// t0 is a window-aligned event time.
const t0 = 1_700_000_000 * sec

func ev(vm string, t int64, k events.Kind, code uint64, args ...uint64) events.Event {
	e := events.Event{TimeNs: t, Host: "host-a", VMID: vm, VCPU: 0, TID: 100, Kind: k, Code: code}
	copy(e.Args[:], args)
	if !k.GuestSide() {
		e.VCPU = -1
	}
	return e
}

func sys(t int64, nr uint64, args ...uint64) events.Event {
	e := ev("vm", t, events.KindSyscall, nr, args...)
	e.TID = 200
	return e
}

// run feeds evs to a featurizer built from cfg, flushes it and returns the
// rows in emission order.
func run(cfg Config, evs ...events.Event) ([]Row, *Featurizer) {
	f := New(cfg)
	var rows []Row
	emit := func(r Row) { rows = append(rows, r) }
	f.Add(evs, emit)
	f.Flush(emit)
	return rows, f
}

func val(r Row, name string) float64 {
	i := Index(name)
	if i < 0 {
		panic("no feature " + name)
	}
	return r.Values[i]
}

func TestWindowFeatures(t *testing.T) {
	ms := int64(time.Millisecond)
	noWarmup := Config{WarmupWindows: -1}
	cases := []struct {
		name string
		cfg  Config
		evs  []events.Event
		want map[string]float64
	}{
		{
			name: "port io and floppy",
			cfg:  noWarmup,
			evs: []events.Event{
				ev("vm", t0, events.KindIO, 0x3F5, events.DirWrite, 1, 0x8e),
				ev("vm", t0+1, events.KindIO, 0x3F5, events.DirWrite, 1, 0x10),
				ev("vm", t0+2, events.KindIO, 0x3F5, events.DirWrite, 1, 0x10),
				ev("vm", t0+3, events.KindIO, 0x3F4, events.DirRead, 1),
			},
			want: map[string]float64{
				"exits_total": 4, "exit_io_rate": 4, "io_ports_distinct": 2, "io_ports_novel": 2,
				"io_write_share": 0.75, "io_floppy_rate": 4, "io_floppy_fifo_write_rate": 3,
				"io_pci_cfg_rate": 0, "exit_ngram_novelty": 1,
			},
		},
		{
			name: "rates are per second of window",
			cfg:  Config{Window: 500 * time.Millisecond, WarmupWindows: -1},
			evs: []events.Event{
				ev("vm", t0, events.KindHLT, 0),
				ev("vm", t0+1, events.KindHLT, 0),
				ev("vm", t0+2, events.KindInterrupt, 32),
			},
			want: map[string]float64{"exits_total": 3, "exit_hlt_rate": 4, "exit_interrupt_rate": 2},
		},
		{
			name: "pci config",
			cfg:  noWarmup,
			evs: []events.Event{
				ev("vm", t0, events.KindIO, 0xCF8, events.DirWrite, 4, 0x80000000),
				ev("vm", t0+1, events.KindIO, 0xCFC, events.DirRead, 4),
				ev("vm", t0+2, events.KindIO, 0xCF8, events.DirWrite, 4, 0x80000800),
				ev("vm", t0+3, events.KindIO, 0xCF8, events.DirWrite, 4, 0x80000000),
				ev("vm", t0+4, events.KindIO, 0xCFE, events.DirRead, 2),
			},
			want: map[string]float64{"io_pci_cfg_rate": 5, "io_pci_cfg_addr_distinct": 2, "io_ports_distinct": 3, "io_write_share": 0.6},
		},
		{
			name: "msr cpuid hypercall mmio",
			cfg:  noWarmup,
			evs: []events.Event{
				ev("vm", t0, events.KindMSR, 0x10, events.DirRead, 0, 0),
				ev("vm", t0+1, events.KindMSR, 0xC0000080, events.DirWrite, 0x500, 0),
				ev("vm", t0+2, events.KindMSR, 0x4b564d00, events.DirWrite, 1, 1),
				ev("vm", t0+3, events.KindCPUID, 0x40000000),
				ev("vm", t0+4, events.KindCPUID, 0x400000FF),
				ev("vm", t0+5, events.KindCPUID, 0x40000100),
				ev("vm", t0+6, events.KindCPUID, 1),
				ev("vm", t0+7, events.KindHypercall, 5),
				ev("vm", t0+8, events.KindHypercall, 5),
				ev("vm", t0+9, events.KindMMIO, 0xfee00000, events.DirWrite, 4),
				ev("vm", t0+10, events.KindMMIO, 0xfee00030, events.DirRead, 4),
				ev("vm", t0+11, events.KindMMIO, 0xfec00000, events.DirRead, 4),
			},
			want: map[string]float64{
				"msr_distinct": 3, "msr_novel": 3, "msr_write_rate": 2, "msr_fault_rate": 1,
				"cpuid_leaves_distinct": 4, "cpuid_leaves_novel": 4, "cpuid_hypervisor_rate": 2,
				"hypercall_nrs_distinct": 1, "hypercall_nrs_novel": 1, "exit_hypercall_rate": 2,
				"mmio_pages_distinct": 2, "mmio_pages_novel": 2, "exits_total": 12,
			},
		},
		{
			name: "guest faults and emulation",
			cfg:  noWarmup,
			evs: []events.Event{
				ev("vm", t0, events.KindPageFault, 0x1000, events.PFWrite|events.PFPresent),
				ev("vm", t0+1, events.KindPageFault, 0x2000, events.PFFetch),
				ev("vm", t0+2, events.KindPageFault, 0x200000, events.PFUser),
				ev("vm", t0+3, events.KindEmulation, 0, 40, 0),
				ev("vm", t0+4, events.KindEmulation, 0, 2, 1),
			},
			want: map[string]float64{
				"exit_page_fault_rate": 3, "guest_fault_write_rate": 1, "guest_fault_exec_rate": 1,
				"guest_fault_regions": 2, "emulation_rate": 42, "exits_total": 3,
			},
		},
		{
			name: "dangerous syscalls",
			cfg:  noWarmup,
			evs: []events.Event{
				sys(t0, 59), sys(t0+1, 322), sys(t0+2, 435), sys(t0+3, 56), sys(t0+4, 101),
				sys(t0+5, 41), sys(t0+6, 42), sys(t0+7, 10, 0x7f0000, 4096, 5),
				sys(t0+8, 10, 0x7f0000, 4096, 3), sys(t0+9, 9, 0, 4096, 7), sys(t0+10, 257),
				sys(t0+11, 0), sys(t0+12, 0),
			},
			want: map[string]float64{
				"syscall_rate": 13, "syscall_exec_rate": 2, "syscall_fork_rate": 2, "syscall_ptrace_rate": 1,
				"syscall_socket_rate": 2, "syscall_prot_exec_rate": 2, "syscall_open_rate": 1,
				"syscall_nrs_distinct": 11, "syscall_nrs_novel": 11, "exits_total": 0,
				"syscall_ngram_novelty": 1,
			},
		},
		{
			name: "process lifecycle and host faults",
			cfg:  noWarmup,
			evs: []events.Event{
				ev("vm", t0, events.KindProcFork, 4242, 4000),
				ev("vm", t0+1, events.KindProcExec, 4242),
				ev("vm", t0+2, events.KindProcExit, 0, 9),
				ev("vm", t0+3, events.KindSignal, 11),
				ev("vm", t0+4, events.KindHostFault, 0xdead000, events.PFWrite),
				ev("vm", t0+5, events.KindHostFault, 0xdead000, 0),
			},
			want: map[string]float64{"proc_forks": 1, "proc_execs": 1, "proc_exits": 1, "fatal_signals": 1, "host_fault_rate": 2, "exits_total": 0},
		},
		{
			name: "novelty is zero during warm-up",
			cfg:  Config{},
			evs: []events.Event{
				ev("vm", t0, events.KindIO, 0x70, events.DirWrite),
				ev("vm", t0+ms, events.KindIO, 0x71, events.DirRead),
			},
			want: map[string]float64{"io_ports_distinct": 2, "io_ports_novel": 0},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rows, _ := run(tc.cfg, tc.evs...)
			require.Len(t, rows, 1)
			r := rows[0]
			require.Len(t, r.Values, len(Catalog))
			for name, want := range tc.want {
				require.InDelta(t, want, val(r, name), 1e-9, name)
			}
			// Every feature not named is zero unless an event feeds it:
			// check non-negativity for all.
			for i, x := range r.Values {
				require.GreaterOrEqual(t, x, 0.0, Catalog[i].Name)
			}
		})
	}
}

func TestNovelty(t *testing.T) {
	at := func(w int64, port uint64) events.Event {
		return ev("vm", t0+w*sec, events.KindIO, port, events.DirRead)
	}
	cases := []struct {
		name   string
		warmup int
		evs    []events.Event
		want   []float64 // io_ports_novel per window
	}{
		{"no warm-up", -1, []events.Event{at(0, 1), at(0, 2), at(0, 1), at(1, 2), at(1, 3), at(2, 1), at(2, 2), at(2, 3)}, []float64{2, 1, 0}},
		{"warm-up of two windows", 2, []events.Event{at(0, 1), at(1, 2), at(2, 2), at(3, 4), at(3, 4)}, []float64{0, 0, 0, 1}},
		{"gap windows do not count", -1, []events.Event{at(0, 1), at(7, 1), at(9, 5)}, []float64{1, 0, 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rows, _ := run(Config{WarmupWindows: tc.warmup}, tc.evs...)
			got := make([]float64, len(rows))
			for i, r := range rows {
				got[i] = val(r, "io_ports_novel")
			}
			require.Equal(t, tc.want, got)
		})
	}
}

func TestNGramNovelty(t *testing.T) {
	var evs []events.Event
	seq := func(w int64, nrs ...uint64) {
		for i, nr := range nrs {
			evs = append(evs, sys(t0+w*sec+int64(i), nr))
		}
	}
	seq(0, 1, 2, 3, 1, 2, 3) // 3-grams 123 231 312 123: all new
	seq(1, 1, 2, 3)          // 231 312 123: all seen
	seq(2, 7, 7)             // 237 377: new
	rows, _ := run(Config{WarmupWindows: -1}, evs...)
	require.Len(t, rows, 3)
	got := []float64{val(rows[0], "syscall_ngram_novelty"), val(rows[1], "syscall_ngram_novelty"), val(rows[2], "syscall_ngram_novelty")}
	require.Equal(t, []float64{1, 0, 1}, got)
	require.Equal(t, []NGram{
		{Stream: StreamSyscall, Hash: NGramHash(StreamSyscall, 1, 2, 3), Count: 2},
		{Stream: StreamSyscall, Hash: NGramHash(StreamSyscall, 2, 3, 1), Count: 1},
		{Stream: StreamSyscall, Hash: NGramHash(StreamSyscall, 3, 1, 2), Count: 1},
	}[:1], rows[0].NGrams[:1])
	require.Len(t, rows[0].NGrams, 3)
}

func TestWindowBoundariesAndOrder(t *testing.T) {
	evs := []events.Event{
		ev("vm", t0+sec-1, events.KindHLT, 0),
		ev("vm", t0+sec, events.KindHLT, 0),
		ev("vm", t0+2*sec+5, events.KindHLT, 0),
		ev("vm", t0+sec+7, events.KindHLT, 0), // out of order, within lateness
		ev("vm", t0+10, events.KindHLT, 0),    // out of order, within lateness
	}
	rows, f := run(Config{}, evs...)
	require.Len(t, rows, 3)
	for i, want := range []struct {
		start int64
		exits float64
	}{{t0, 2}, {t0 + sec, 2}, {t0 + 2*sec, 1}} {
		require.Equal(t, want.start, rows[i].Start)
		require.Equal(t, want.start+sec, rows[i].End)
		require.Equal(t, want.exits, val(rows[i], "exits_total"))
		require.Equal(t, "vm", rows[i].VMID)
		require.Equal(t, "host-a", rows[i].Host)
	}
	require.Equal(t, uint64(3), f.Stats().Windows)
	require.Zero(t, f.Stats().LateDrops)
}

func TestLateness(t *testing.T) {
	f := New(Config{})
	var rows []Row
	emit := func(r Row) { rows = append(rows, r) }
	f.Add([]events.Event{ev("vm", t0+sec/2, events.KindHLT, 0)}, emit)
	require.Empty(t, rows)
	require.Equal(t, t0+sec, f.OpenEnd("vm"))
	// Event time reaches end of [t0, t0+1s) + 2s: the window closes.
	f.Add([]events.Event{ev("vm", t0+3*sec, events.KindHLT, 0)}, emit)
	require.Len(t, rows, 1)
	require.Equal(t, t0, rows[0].Start)
	// An event of the closed window is dropped; one of the window after it
	// (never opened, still within lateness) is accepted.
	f.Add([]events.Event{ev("vm", t0+sec/3, events.KindHLT, 0), ev("vm", t0+sec+1, events.KindHLT, 0)}, emit)
	require.Equal(t, uint64(1), f.Stats().LateDrops)
	f.Flush(emit)
	require.Len(t, rows, 3)
	require.Equal(t, []int64{t0, t0 + sec, t0 + 3*sec}, []int64{rows[0].Start, rows[1].Start, rows[2].Start})
	require.Zero(t, f.OpenEnd("vm"))
	// After Flush, events of flushed windows are late.
	f.Add([]events.Event{ev("vm", t0+3*sec+1, events.KindHLT, 0)}, emit)
	require.Equal(t, uint64(2), f.Stats().LateDrops)
	require.Equal(t, uint64(5), f.Stats().Events)
}

func TestAdvance(t *testing.T) {
	f := New(Config{IdleTTL: time.Minute})
	var rows []Row
	emit := func(r Row) { rows = append(rows, r) }
	f.Add([]events.Event{ev("a", t0, events.KindHLT, 0), ev("b", t0+5*sec, events.KindHLT, 0)}, emit)
	f.Advance(t0+3*sec-1, emit) // a's window ends t0+1s: needs t0+3s
	require.Empty(t, rows)
	f.Advance(t0+3*sec, emit)
	require.Len(t, rows, 1)
	require.Equal(t, "a", rows[0].VMID)
	// An event older than the watermark's closed line is late, even for a
	// VM not seen before.
	f.Add([]events.Event{ev("c", t0+sec/2, events.KindHLT, 0)}, emit)
	require.Equal(t, uint64(1), f.Stats().LateDrops)
	require.Equal(t, 3, f.Stats().VMs)
	// Idle eviction: a and c idle for a minute; b's window is emitted first.
	f.Advance(t0+time.Minute.Nanoseconds()+sec, emit)
	require.Equal(t, 1, f.Stats().VMs)
	require.Equal(t, uint64(2), f.Stats().Evictions)
	require.Len(t, rows, 2)
	require.Equal(t, "b", rows[1].VMID)
	f.Advance(t0+time.Minute.Nanoseconds()+5*sec, emit)
	require.Zero(t, f.Stats().VMs)
}

func TestMaxVMsEvictsLeastRecentlySeen(t *testing.T) {
	f := New(Config{MaxVMs: 2})
	var rows []Row
	emit := func(r Row) { rows = append(rows, r) }
	f.Add([]events.Event{
		ev("a", t0, events.KindHLT, 0),
		ev("b", t0, events.KindHLT, 0),
		ev("a", t0+1, events.KindHLT, 0),
		ev("c", t0+2, events.KindHLT, 0), // evicts b
	}, emit)
	require.Len(t, rows, 1)
	require.Equal(t, "b", rows[0].VMID)
	require.Equal(t, 2, f.Stats().VMs)
	require.Equal(t, uint64(1), f.Stats().Evictions)
	require.NotZero(t, f.OpenEnd("a"))
	require.Zero(t, f.OpenEnd("b"))
	f.Add([]events.Event{ev("b", t0+3, events.KindHLT, 0)}, emit) // evicts a
	require.Len(t, rows, 2)
	require.Equal(t, "a", rows[1].VMID)
	require.Equal(t, 2.0, val(rows[1], "exits_total"))
}

func TestSketchTopK(t *testing.T) {
	// One thread, kinds hlt hlt hlt hlt io io io: 3-grams
	// (hlt hlt hlt)x2, (hlt hlt io), (hlt io io), (io io io).
	var evs []events.Event
	for i, k := range []events.Kind{5, 5, 5, 5, 1, 1, 1} {
		evs = append(evs, ev("vm", t0+int64(i), k, 0))
	}
	// A second vCPU thread: its chain is separate.
	other := ev("vm", t0+100, events.KindCPUID, 1)
	other.TID = 101
	evs = append(evs, other, other, other)
	rows, _ := run(Config{SketchK: 2}, evs...)
	require.Len(t, rows, 1)
	h := func(a, b, c events.Kind) uint64 { return NGramHash(StreamExit, uint32(a), uint32(b), uint32(c)) }
	// Ties (count 1) go to the lower hash.
	ties := []uint64{h(5, 5, 1), h(5, 1, 1), h(1, 1, 1), h(4, 4, 4)}
	lowest := ties[0]
	for _, x := range ties {
		lowest = min(lowest, x)
	}
	require.Equal(t, []NGram{{StreamExit, h(5, 5, 5), 2}, {StreamExit, lowest, 1}}, rows[0].NGrams)
}

func TestVMStateBound(t *testing.T) {
	const limit = 10 << 10
	cfg := Config{}
	f := New(cfg)
	emit := func(Row) {}
	// Busy VM, events in order: 1 + Lateness/Window = 3 windows stay open.
	var evs []events.Event
	for i := 0; i < 30000; i++ {
		e := ev("vm-busy", t0+int64(i)*100_000, events.Kind(1+i%14), uint64(i%97))
		e.TID = int32(100 + i%16)
		evs = append(evs, e, sys(t0+int64(i)*100_000+1, uint64(i%300)))
	}
	for i := range evs {
		evs[i].VMID = "vm-busy"
	}
	f.Add(evs, emit)
	require.Len(t, f.vms["vm-busy"].open, 3)
	n := f.VMStateBytes("vm-busy")
	t.Logf("per-VM state with 3 open windows: %d bytes", n)
	require.LessOrEqual(t, n, limit)

	// Measured: 2000 VMs with three open windows each.
	const vms = 2000
	batch := make([]events.Event, 0, 3*vms)
	for v := 0; v < vms; v++ {
		id := "vm-" + strconv.Itoa(v)
		for w := int64(0); w < 3; w++ {
			batch = append(batch, ev(id, t0+w*sec, events.KindIO, 0x70))
		}
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	g := New(cfg)
	g.Add(batch, emit)
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / vms
	t.Logf("measured heap per VM: %d bytes", per)
	require.LessOrEqual(t, per, int64(limit))
	require.Equal(t, vms, g.Stats().VMs)
	runtime.KeepAlive(batch)
	runtime.KeepAlive(g)
}

package features

import (
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/escapement/escapement/events"
)

// benchBatches builds per-VM batches of a plausible mix: mostly exits on
// four vCPU threads, some VMM syscalls, over vms VMs and 10 s of event time.
func benchBatches(vms, perBatch, batches int) [][]events.Event {
	r := rand.New(rand.NewPCG(7, 7))
	kinds := []events.Kind{events.KindIO, events.KindIO, events.KindMMIO, events.KindHLT, events.KindInterrupt,
		events.KindMSR, events.KindCPUID, events.KindPageFault, events.KindEmulation, events.KindSyscall, events.KindSyscall}
	out := make([][]events.Event, batches)
	span := 10 * sec
	for b := range out {
		vm := "vm-" + strconv.Itoa(b%vms)
		base := t0 + int64(b)*span/int64(batches)
		evs := make([]events.Event, perBatch)
		for i := range evs {
			k := kinds[r.IntN(len(kinds))]
			e := events.Event{TimeNs: base + int64(i)*1000, Host: "h", VMID: vm, VCPU: int32(i % 4), TID: int32(1000 + i%4), Kind: k}
			switch k {
			case events.KindIO:
				e.Code = uint64(0x60 + r.IntN(32))
				e.Args[0] = uint64(r.IntN(2))
			case events.KindMMIO:
				e.Code = 0xfee00000 + uint64(r.IntN(16))<<12
			case events.KindMSR:
				e.Code = uint64(0x10 + r.IntN(8))
			case events.KindSyscall:
				e.VCPU, e.TID = -1, 2000
				e.Code = uint64([]int{0, 1, 7, 16, 232, 257}[r.IntN(6)])
			case events.KindPageFault:
				e.Code = uint64(r.IntN(1 << 30))
				e.Args[0] = events.PFWrite
			case events.KindEmulation:
				e.Args[0] = 3
			}
			evs[i] = e
		}
		out[b] = evs
	}
	return out
}

func BenchmarkFeaturize(b *testing.B) {
	batches := benchBatches(100, 512, 2000)
	n := 0
	for _, bt := range batches {
		n += len(bt)
	}
	f := New(Config{})
	rows := 0
	emit := func(Row) { rows++ }
	b.ReportAllocs()
	b.ResetTimer()
	events := 0
	for i := 0; b.Loop(); i++ {
		bt := batches[i%len(batches)]
		if i%len(batches) == 0 && i > 0 {
			// Replay the same 10 s later in event time by starting afresh.
			f.Flush(emit)
			f = New(Config{})
		}
		f.Add(bt, emit)
		events += len(bt)
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

package sim

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/events"
)

// collect runs f to its end and returns every event.
func collect(t testing.TB, f *Fleet) []events.Event {
	t.Helper()
	var all []events.Event
	require.NoError(t, f.Step(f.End(), func(evs []events.Event) error {
		all = append(all, evs...)
		return nil
	}))
	return all
}

func newFleet(t testing.TB, cfg Config) *Fleet {
	t.Helper()
	f, err := New(cfg)
	require.NoError(t, err)
	return f
}

// evKey identifies an event without its timestamp (which the per-VM
// monotonic fix-up may nudge by a nanosecond).
type evKey struct {
	vm     string
	vcpu   int32
	tid    int32
	kind   events.Kind
	code   uint64
	args   [events.NumArgs]uint64
	detail string
}

func keyOf(ev *events.Event) evKey {
	return evKey{ev.VMID, ev.VCPU, ev.TID, ev.Kind, ev.Code, ev.Args, ev.Detail}
}

// extras returns the events of with that are not in without (as multisets
// ignoring time): what the scenarios added.
func extras(with, without []events.Event) []events.Event {
	count := make(map[evKey]int, len(without))
	for i := range without {
		count[keyOf(&without[i])]++
	}
	var out []events.Event
	for i := range with {
		k := keyOf(&with[i])
		if count[k] > 0 {
			count[k]--
			continue
		}
		out = append(out, with[i])
	}
	return out
}

// primitive is the coarse name of what an event asks of the hypervisor or
// the host: detection must rest on rates and mixtures of these, since every
// one of them also occurs in benign workloads.
func primitive(ev *events.Event) string {
	switch ev.Kind {
	case events.KindIO:
		return fmt.Sprintf("io/%#x/%d", ev.Code, ev.Args[0])
	case events.KindMMIO:
		a := "unassigned"
		if Assigned(ev.Code) {
			a = "assigned"
		}
		return fmt.Sprintf("mmio/%d/%s", ev.Args[0], a)
	case events.KindMSR:
		if PMCMSR(ev.Code) {
			return fmt.Sprintf("msr/pmc/%d", ev.Args[0])
		}
		return fmt.Sprintf("msr/%d/faulted=%d", ev.Args[0], ev.Args[2])
	case events.KindCPUID:
		r := "std"
		switch {
		case ev.Code >= 0x80000000:
			r = "ext"
		case ev.Code >= 0x40000000:
			r = "hv"
		}
		return fmt.Sprintf("cpuid/%s/found=%d", r, ev.Args[2])
	case events.KindHypercall:
		if KnownHypercall(ev.Code) {
			return fmt.Sprintf("hypercall/%d", ev.Code)
		}
		return "hypercall/unknown"
	case events.KindException:
		return fmt.Sprintf("exception/%d", ev.Code)
	case events.KindPageFault:
		switch {
		case ev.Args[0]&events.PFFetch != 0:
			return "page_fault/fetch"
		case ev.Args[0]&events.PFWrite != 0:
			return "page_fault/write"
		}
		return "page_fault/read"
	case events.KindUserspaceExit:
		return fmt.Sprintf("userspace_exit/%d", ev.Code)
	case events.KindSyscall:
		if ev.Code == sysMprotect && ev.Args[2]&protExec != 0 {
			return "syscall/10/exec"
		}
		return fmt.Sprintf("syscall/%d", ev.Code)
	}
	return ev.Kind.String()
}

// vmStats are what the profile test checks of each VM.
type vmStats struct {
	total, hlt, guest, net, fsync, ioSubmit, pmcAfterBoot, ifup, hvNotFoundLate, setRegs int
}

var benignFixture struct {
	once  sync.Once
	f     *Fleet
	stats map[string]*vmStats
	prims map[string]bool
}

// benignFleet runs a fleet covering every profile for long enough to see
// boots, reboots, inventory scans and batch jobs, and returns per-VM
// statistics and the primitives it used (streamed: the events are not kept).
func benignFleet(t testing.TB) (*Fleet, map[string]*vmStats, map[string]bool) {
	x := &benignFixture
	x.once.Do(func() {
		f := newFleet(t, Config{Seed: 42, VMs: 12, Duration: 12 * time.Minute})
		stats := map[string]*vmStats{}
		for _, id := range f.VMIDs() {
			stats[id] = &vmStats{}
		}
		prims := map[string]bool{}
		late := DefaultStart.Add(30 * time.Second).UnixNano()
		require.NoError(t, f.Step(f.End(), func(evs []events.Event) error {
			for i := range evs {
				ev := &evs[i]
				prims[primitive(ev)] = true
				s := stats[ev.VMID]
				s.total++
				if ev.Kind.GuestSide() {
					s.guest++
				}
				switch {
				case ev.Kind == events.KindHLT:
					s.hlt++
				case ev.Kind == events.KindSyscall && (ev.Code == sysWrite || ev.Code == sysRead) && ev.Args[0] == 18:
					s.net++
				case ev.Kind == events.KindSyscall && ev.Code == sysFdatasync:
					s.fsync++
				case ev.Kind == events.KindSyscall && ev.Code == sysIoSubmit:
					s.ioSubmit++
				case ev.Kind == events.KindSyscall && ev.Code == sysIoctl && ev.Args[1] == kvmSetRegs:
					s.setRegs++
				case ev.Kind == events.KindMSR && ev.Code == msrPMC0+5 && ev.TimeNs > late:
					s.pmcAfterBoot++
				case ev.Kind == events.KindProcExec && ev.Detail == ifupPath:
					s.ifup++
				case ev.Kind == events.KindCPUID && ev.Code == 0x40000010 && ev.TimeNs > late:
					s.hvNotFoundLate++
				}
			}
			return nil
		}))
		x.f, x.stats, x.prims = f, stats, prims
	})
	require.NotNil(t, x.f, "benign fixture failed to build")
	return x.f, x.stats, x.prims
}

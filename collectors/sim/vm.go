package sim

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/escapement/escapement/events"
)

// vm is the state of one simulated guest and its VMM process.
type vm struct {
	idx   int
	id    string
	host  string
	prof  *profile
	rng   *rand.Rand
	vcpus int
	ram   uint64 // guest RAM bytes, mapped at GPA 0
	pid   int32  // VMM process id; thread ids follow it
	tids  int32  // next free thread id
	hva   uint64 // host virtual address of guest RAM in the VMM

	sources []*source // the profile's steady activities
	boot    []*source // activities of the boot phase
	scens   []*scenRun

	bootUntil  int64 // boot phase runs while t < bootUntil
	nextReboot int64
	nextJob    int64   // next periodic job (inventory scan, batch job toggle)
	jobOn      bool    // batch job running
	logLoad    float64 // log of the current load multiplier
	load       float64

	queue   []events.Event // scripted events not yet due, sorted by time
	buf     []events.Event // events of the current tick
	scratch []events.Event
	last    int64 // time of the last emitted event
}

func (v *vm) vcpuTID(c int) int32 { return v.pid + 1 + int32(c) }
func (v *vm) ioTID() int32        { return v.pid + 1 + int32(v.vcpus) + v.rng.Int32N(2) }
func (v *vm) mainTID() int32      { return v.pid }
func (v *vm) vcpu() int           { return v.rng.IntN(v.vcpus) }

func (v *vm) newTID() int32 {
	v.tids++
	return v.tids
}

// guest appends a guest-side event of vCPU c.
func (v *vm) guest(t int64, c int, k events.Kind, code, a0, a1, a2, a3 uint64) {
	v.buf = append(v.buf, events.Event{
		TimeNs: t, Host: v.host, VMID: v.id, VCPU: int32(c), TID: v.vcpuTID(c),
		Source: events.SourceSim, Kind: k, Code: code, Args: [events.NumArgs]uint64{a0, a1, a2, a3},
	})
}

// sys appends a VMM system call.
func (v *vm) sys(t int64, tid int32, nr, a0, a1, a2, a3 uint64, detail string) {
	v.buf = append(v.buf, events.Event{
		TimeNs: t, Host: v.host, VMID: v.id, VCPU: -1, TID: tid,
		Source: events.SourceSim, Kind: events.KindSyscall, Code: nr,
		Args: [events.NumArgs]uint64{a0, a1, a2, a3}, Detail: detail,
	})
}

// vmmEvent appends a VMM-side event other than a system call.
func (v *vm) vmmEvent(t int64, tid int32, k events.Kind, code, a0, a1 uint64, detail string) {
	v.buf = append(v.buf, events.Event{
		TimeNs: t, Host: v.host, VMID: v.id, VCPU: -1, TID: tid,
		Source: events.SourceSim, Kind: k, Code: code,
		Args: [events.NumArgs]uint64{a0, a1}, Detail: detail,
	})
}

// userIO appends a port access handled by the VMM in user space: the exit,
// the userspace exit and the vCPU thread's next KVM_RUN.
func (v *vm) userIO(t int64, c int, port uint64, dir, size, val uint64) {
	v.guest(t, c, events.KindIO, port, dir, size, val, 1)
	v.guest(t+300, c, events.KindUserspaceExit, exitIO, 0, 0, 0, 0)
	v.sys(t+2000+int64(v.rng.IntN(3000)), v.vcpuTID(c), sysIoctl, 9+uint64(c), kvmRun, 0, 0, "")
}

// userMMIO is userIO for an MMIO access emulated in user space.
func (v *vm) userMMIO(t int64, c int, gpa, dir, size, val uint64) {
	v.guest(t, c, events.KindMMIO, gpa, dir, size, val, 0)
	v.guest(t+300, c, events.KindUserspaceExit, exitMMIO, 0, 0, 0, 0)
	v.sys(t+2000+int64(v.rng.IntN(3000)), v.vcpuTID(c), sysIoctl, 9+uint64(c), kvmRun, 0, 0, "")
}

// script moves the events just appended to buf since mark into the queue of
// scripted events, to be released when their time comes.
func (v *vm) script(mark int) {
	from := len(v.queue)
	v.queue = append(v.queue, v.buf[mark:]...)
	v.buf = v.buf[:mark]
	v.mergeQueue(from)
}

func byTime(a, b events.Event) int { return cmp.Compare(a.TimeNs, b.TimeNs) }

// mergeQueue sorts the events appended to the queue from index from on and
// merges them with the sorted events before it.
func (v *vm) mergeQueue(from int) {
	q := v.queue
	if from == len(q) {
		return
	}
	slices.SortStableFunc(q[from:], byTime)
	if from == 0 || q[from-1].TimeNs <= q[from].TimeNs {
		return
	}
	v.scratch = append(v.scratch[:0], q[:from]...)
	a, b := v.scratch, q[from:]
	merged := make([]events.Event, 0, len(q))
	for len(a) > 0 && len(b) > 0 {
		if b[0].TimeNs < a[0].TimeNs {
			merged = append(merged, b[0])
			b = b[1:]
		} else {
			merged = append(merged, a[0])
			a = a[1:]
		}
	}
	merged = append(append(merged, a...), b...)
	v.queue = merged
}

// tick generates the events of [t0, t1) and appends them, in time order, to
// out.
func (v *vm) tick(t0, t1 int64, second bool, out []events.Event) []events.Event {
	if second {
		v.updateLoad(t0)
	}
	if t0 >= v.nextReboot {
		v.startBoot(v.nextReboot)
		v.nextReboot = v.nextReboot + v.prof.rebootAfter(v.rng)
	}
	if v.prof.job != nil && t0 >= v.nextJob {
		v.nextJob = t0 + v.prof.job(v, t0)
	}
	v.buf = v.buf[:0]
	load := v.load
	booting := t0 < v.bootUntil
	if booting {
		for _, s := range v.boot {
			s.run(v, t0, min(t1, v.bootUntil), s.rate)
		}
		load *= 0.3 // the workload is not up yet
	}
	for _, s := range v.sources {
		l := s.rate
		if s.scaled {
			l *= load
		}
		s.run(v, t0, t1, l)
	}
	for _, sc := range v.scens {
		sc.run(v, t0, t1)
	}
	// Parts of an occurrence that fall after the tick wait in the queue, so
	// no event is emitted ahead of the time generated so far.
	spill := len(v.queue)
	kept := v.buf[:0]
	for _, ev := range v.buf {
		if ev.TimeNs >= t1 {
			v.queue = append(v.queue, ev)
		} else {
			kept = append(kept, ev)
		}
	}
	v.buf = kept
	v.mergeQueue(spill)
	n := 0
	for n < len(v.queue) && v.queue[n].TimeNs < t1 {
		n++
	}
	v.buf = append(v.buf, v.queue[:n]...)
	v.queue = v.queue[:copy(v.queue, v.queue[n:])]
	slices.SortStableFunc(v.buf, byTime)
	for i := range v.buf {
		if v.buf[i].TimeNs <= v.last {
			v.buf[i].TimeNs = v.last + 1
		}
		v.last = v.buf[i].TimeNs
	}
	return append(out, v.buf...)
}

// updateLoad advances the VM's load once per simulated second: a
// mean-reverting walk in log space around the profile's level, with a daily
// cycle for interactive profiles and on/off jobs for batch ones.
func (v *vm) updateLoad(t int64) {
	p := v.prof
	mean := 0.0
	if p.diurnal > 0 {
		mean = p.diurnal * math.Sin(2*math.Pi*float64(t%86_400e9)/86_400e9+float64(v.idx))
	}
	if p.job != nil && p.name == "batch" {
		if v.jobOn {
			mean += math.Log(2.0)
		} else {
			mean += math.Log(0.15)
		}
	}
	v.logLoad = mean + 0.95*(v.logLoad-mean) + p.volatility*v.rng.NormFloat64()
	v.load = math.Exp(v.logLoad)
}

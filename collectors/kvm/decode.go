package kvm

import (
	"encoding/binary"
	"fmt"

	"github.com/escapement/escapement/events"
)

// LossCode is the Code of the events.KindExitOther event that reports
// records lost in the kernel; Args[0] holds the number lost.
const LossCode = events.LossCode

// KVM_EXIT_HLT, the userspace exit reason of a halted vCPU.
const kvmExitHLT = 5

// tracepoint is one tracepoint the collector enables and decodes.
type tracepoint struct {
	system, name string
	kind         hkind
	fields       []string // fields the decoder reads, in hkind order
	optional     bool     // missing on some kernels; skipped when absent
}

type hkind uint8

const (
	hNone hkind = iota
	hExit
	hNestedExit
	hPIO
	hMMIO
	hMSR
	hCPUID
	hHypercall
	hCR
	hUserExit
	hPageFault
	hInjExc
	hEmulate
	hSysEnter
	hFork
	hExec
	hProcExit
	hSignal
	hHostFault
)

// Tracepoints lists the tracepoints of the main capture instance.
var Tracepoints = []tracepoint{
	{"kvm", "kvm_exit", hExit, []string{"exit_reason", "isa", "vcpu_id", "intr_info", "error_code"}, false},
	{"kvm", "kvm_nested_vmexit", hNestedExit, []string{"exit_reason", "isa", "vcpu_id"}, true},
	{"kvm", "kvm_pio", hPIO, []string{"rw", "port", "size", "count", "val"}, false},
	{"kvm", "kvm_mmio", hMMIO, []string{"type", "len", "gpa", "val"}, false},
	{"kvm", "kvm_msr", hMSR, []string{"write", "ecx", "data", "exception"}, false},
	{"kvm", "kvm_cpuid", hCPUID, []string{"function", "index", "rax", "found"}, false},
	{"kvm", "kvm_hypercall", hHypercall, []string{"nr", "a0", "a1", "a2", "a3"}, false},
	{"kvm", "kvm_cr", hCR, []string{"rw", "cr", "val"}, false},
	{"kvm", "kvm_userspace_exit", hUserExit, []string{"reason", "errno"}, false},
	{"kvm", "kvm_page_fault", hPageFault, []string{"vcpu_id", "fault_address", "error_code", "guest_rip"}, false},
	{"kvm", "kvm_inj_exception", hInjExc, []string{"exception", "error_code", "reinjected"}, false},
	{"raw_syscalls", "sys_enter", hSysEnter, []string{"id", "args"}, false},
	{"sched", "sched_process_fork", hFork, []string{"parent_pid", "child_pid"}, false},
	{"sched", "sched_process_exec", hExec, []string{"filename", "pid"}, false},
	{"sched", "sched_process_exit", hProcExit, []string{"pid"}, false},
	{"signal", "signal_deliver", hSignal, []string{"sig", "sa_handler"}, false},
	{"exceptions", "page_fault_user", hHostFault, []string{"address", "error_code", "ip"}, true},
}

// EmulationTracepoint is counted, never shipped, in an instance of its own.
var EmulationTracepoint = tracepoint{"kvm", "kvm_emulate_insn", hEmulate, []string{"failed"}, false}

type handler struct {
	kind   hkind
	f      [5]Field
	minLen int
}

// DecodeStats counts what a Decoder saw. Counters only grow.
type DecodeStats struct {
	Pages        uint64 // ring-buffer pages walked
	Records      uint64 // data records seen
	Decoded      uint64 // records turned into events or counted
	Folded       uint64 // kvm_exit records folded into their companion
	Malformed    uint64 // records or page rests that could not be decoded
	Unknown      uint64 // records of tracepoints the decoder does not handle
	Unattributed uint64 // records of tasks not belonging to a known VM
	LostPages    uint64 // pages whose header says records were lost before them
	Lost         uint64 // records lost, as counted in page headers
}

// Decoder turns ring-buffer pages into canonical events. It is not safe for
// concurrent use.
type Decoder struct {
	layout   PageLayout
	byID     []handler
	exits    ExitTable
	tr       *tracker
	host     string
	offset   int64 // wall = trace mono ns + offset
	pidField Field
	rd       pageReader
	Stats    DecodeStats
}

// NewDecoder builds a decoder from parsed formats (those of Tracepoints and
// EmulationTracepoint that exist; kvm_exit must be among them for its exit
// tables). wallOffset converts trace-clock nanoseconds to Unix nanoseconds.
func NewDecoder(layout PageLayout, formats []*Format, host string, wallOffset int64, tr *tracker) (*Decoder, error) {
	d := &Decoder{layout: layout, host: host, offset: wallOffset, tr: tr}
	if d.tr == nil {
		d.tr = newTracker("")
	}
	all := append(append([]tracepoint(nil), Tracepoints...), EmulationTracepoint)
	for _, f := range formats {
		var tp *tracepoint
		for i := range all {
			if all[i].system == f.System && all[i].name == f.Name {
				tp = &all[i]
			}
		}
		if tp == nil {
			continue
		}
		h := handler{kind: tp.kind}
		pid, err := f.field("common_pid", 4)
		if err != nil {
			return nil, err
		}
		d.pidField = pid
		h.minLen = pid.Offset + pid.Size
		for i, name := range tp.fields {
			fl, err := f.field(name, 1)
			if err != nil {
				return nil, err
			}
			h.f[i] = fl
			h.minLen = max(h.minLen, fl.Offset+fl.Size)
		}
		if tp.kind == hExit {
			if d.exits, err = ParseExitTable(f.PrintFmt); err != nil {
				return nil, err
			}
		}
		for int(f.ID) >= len(d.byID) {
			d.byID = append(d.byID, handler{})
		}
		d.byID[f.ID] = h
	}
	if d.exits.VMX == nil {
		return nil, fmt.Errorf("%w: no kvm_exit format given (load the kvm module: modprobe kvm)", ErrFormat)
	}
	return d, nil
}

// rd reads an unsigned little-endian field; the caller checked the length.
func rd(p []byte, f Field) uint64 {
	switch f.Size {
	case 1:
		return uint64(p[f.Offset])
	case 2:
		return uint64(binary.LittleEndian.Uint16(p[f.Offset:]))
	case 4:
		return uint64(binary.LittleEndian.Uint32(p[f.Offset:]))
	default:
		return binary.LittleEndian.Uint64(p[f.Offset:])
	}
}

// rds reads a signed field, sign-extended.
func rds(p []byte, f Field) int64 {
	v := rd(p, f)
	switch f.Size {
	case 1:
		return int64(int8(v))
	case 2:
		return int64(int16(v))
	case 4:
		return int64(int32(v))
	}
	return int64(v)
}

// Page decodes one ring-buffer page and appends its events to out. A
// malformed page or record is counted in Stats and skipped.
func (d *Decoder) Page(page []byte, out []events.Event) []events.Event {
	d.Stats.Pages++
	if err := d.rd.reset(&d.layout, page); err != nil {
		d.Stats.Malformed++
		return out
	}
	if d.rd.lost {
		d.Stats.LostPages++
		d.Stats.Lost += d.rd.missed
	}
	for {
		ts, p, ok, err := d.rd.next()
		if err != nil {
			d.Stats.Malformed++
			return out
		}
		if !ok {
			return out
		}
		out = d.Record(ts, p, out)
	}
}

// Record decodes one tracepoint record (common header first) stamped ts on
// the trace clock and appends the events it yields to out.
func (d *Decoder) Record(ts uint64, p []byte, out []events.Event) []events.Event {
	d.Stats.Records++
	if len(p) < 8 {
		d.Stats.Malformed++
		return out
	}
	id := binary.LittleEndian.Uint16(p)
	if int(id) >= len(d.byID) || d.byID[id].kind == hNone {
		d.Stats.Unknown++
		return out
	}
	h := &d.byID[id]
	if len(p) < h.minLen {
		d.Stats.Malformed++
		return out
	}
	tid := int32(binary.LittleEndian.Uint32(p[4:]))
	th := d.tr.lookup(tid)
	if th == nil {
		d.Stats.Unattributed++
		return out
	}
	d.Stats.Decoded++
	if h.kind == hEmulate {
		th.vm.emul++
		if rd(p, h.f[0]) != 0 {
			th.vm.emulFailed++
		}
		th.vm.emulTS = ts
		return out
	}
	ev := events.Event{
		TimeNs: int64(ts) + d.offset,
		Host:   d.host,
		VMID:   th.vm.id,
		VCPU:   th.vcpu,
		TID:    tid,
		Source: events.SourceTracefs,
	}
	if ev.VCPU < 0 {
		ev.VCPU = 0 // guest-side events of a thread whose vCPU index is not known yet
	}
	switch h.kind {
	case hExit, hNestedExit:
		out = d.flushPending(th, tid, out)
		reason, isa, vcpu := uint32(rd(p, h.f[0])), uint32(rd(p, h.f[1])), int32(rd(p, h.f[2]))
		th.vcpu = vcpu
		k := d.exits.Kind(isa, reason)
		if h.kind == hExit && foldable(k) {
			th.pending, th.pendingEv = true, pendingExit{ts: ts, reason: reason, isa: isa, vcpu: vcpu}
			return out
		}
		ev.VCPU = vcpu
		switch {
		case h.kind == hNestedExit:
			ev.Kind, ev.Code, ev.Args[0], ev.Args[1] = events.KindExitOther, uint64(reason), uint64(isa), 1
		case k == events.KindHLT:
			ev.Kind = events.KindHLT
			th.hltByExit = true
		case k == events.KindException:
			ev.Kind, ev.Code = k, exitVector(isa, reason, uint32(rd(p, h.f[3])))
			ev.Args[0] = rd(p, h.f[4])
		case k == events.KindInterrupt:
			ev.Kind = k
			if isa == ISAVMX {
				if ii := rd(p, h.f[3]); ii&(1<<31) != 0 {
					ev.Code = ii & 0xff
				}
			}
		case k == events.KindDR:
			ev.Kind, ev.Code = k, uint64(reason&0xf)
			if isa == ISASVM && reason >= 0x30 {
				ev.Args[0] = events.DirWrite
			}
		default:
			ev.Kind, ev.Code, ev.Args[0] = events.KindExitOther, uint64(reason), uint64(isa)
		}
		return append(out, ev)
	case hPIO:
		ev.Kind, ev.Code = events.KindIO, rd(p, h.f[1])
		ev.Args = [4]uint64{dir(rd(p, h.f[0]) != 0), rd(p, h.f[2]), rd(p, h.f[4]), rd(p, h.f[3])}
	case hMMIO:
		t := rd(p, h.f[0])
		ev.Kind, ev.Code = events.KindMMIO, rd(p, h.f[2])
		ev.Args = [4]uint64{dir(t == 2), rd(p, h.f[1]), rd(p, h.f[3]), 0}
	case hMSR:
		ev.Kind, ev.Code = events.KindMSR, rd(p, h.f[1])
		ev.Args = [4]uint64{dir(rd(p, h.f[0]) != 0), rd(p, h.f[2]), rd(p, h.f[3]) & 1, 0}
	case hCPUID:
		ev.Kind, ev.Code = events.KindCPUID, rd(p, h.f[0])
		ev.Args = [4]uint64{rd(p, h.f[1]), rd(p, h.f[2]), rd(p, h.f[3]) & 1, 0}
	case hHypercall:
		ev.Kind, ev.Code = events.KindHypercall, rd(p, h.f[0])
		ev.Args = [4]uint64{rd(p, h.f[1]), rd(p, h.f[2]), rd(p, h.f[3]), rd(p, h.f[4])}
	case hCR:
		ev.Kind, ev.Code = events.KindCR, rd(p, h.f[1])
		ev.Args = [4]uint64{dir(rd(p, h.f[0]) != 0), rd(p, h.f[2]), 0, 0}
	case hPageFault:
		ev.Kind, ev.Code = events.KindPageFault, rd(p, h.f[1])
		ev.VCPU = int32(rd(p, h.f[0]))
		ev.Args = [4]uint64{rd(p, h.f[2]), rd(p, h.f[3]), 0, 0}
	case hUserExit:
		out = d.flushPending(th, tid, out)
		reason, errno := rd(p, h.f[0]), rds(p, h.f[1])
		ev.Kind, ev.Code, ev.Args[0] = events.KindUserspaceExit, reason, uint64(errno)
		out = append(out, ev)
		if reason == kvmExitHLT && errno == 0 && !th.hltByExit {
			ev.Kind, ev.Code, ev.Args[0] = events.KindHLT, 0, 0
			out = append(out, ev)
		}
		th.hltByExit = false
		return out
	case hInjExc:
		out = d.flushPending(th, tid, out)
		ev.Kind, ev.Code = events.KindException, rd(p, h.f[0])
		ev.Args = [4]uint64{rd(p, h.f[1]), rd(p, h.f[2]) & 1, 0, 0}
		return append(out, ev)
	default:
		return d.vmmRecord(h, th, tid, p, ev, out)
	}
	// A guest-side companion: it replaces a pending kvm_exit of its thread.
	if th.pending {
		th.pending = false
		d.Stats.Folded++
		ev.VCPU = th.pendingEv.vcpu
	}
	return append(out, ev)
}

// vmmRecord decodes VMM-side records (system calls, process lifecycle,
// signals, host faults).
func (d *Decoder) vmmRecord(h *handler, th *thread, tid int32, p []byte, ev events.Event, out []events.Event) []events.Event {
	ev.VCPU = -1
	switch h.kind {
	case hSysEnter:
		ev.Kind, ev.Code = events.KindSyscall, rd(p, h.f[0])
		a := h.f[1]
		if a.Size < 32 || len(p) < a.Offset+32 {
			d.Stats.Malformed++
			return out
		}
		for i := range 4 {
			ev.Args[i] = binary.LittleEndian.Uint64(p[a.Offset+8*i:])
		}
	case hFork:
		parent, child := int32(rd(p, h.f[0])), int32(rd(p, h.f[1]))
		d.tr.fork(tid, child)
		d.tr.fork(parent, child)
		ev.Kind, ev.Code, ev.Args[0] = events.KindProcFork, uint64(child), uint64(parent)
	case hExec:
		ev.Kind, ev.Code = events.KindProcExec, rd(p, h.f[1])
		ev.Detail = dataLocString(p, h.f[0])
	case hProcExit:
		// The tracepoint carries no exit code on current kernels: Code stays
		// 0 and Args[1] names the task that exited.
		pid := rd(p, h.f[0])
		ev.Kind, ev.Args[1] = events.KindProcExit, pid
		defer d.tr.exit(int32(pid))
	case hSignal:
		sig, handler := rds(p, h.f[0]), rd(p, h.f[1])
		if handler != 0 || !fatalByDefault(sig) {
			return out // handled or ignored signals are not escapes
		}
		ev.Kind, ev.Code = events.KindSignal, uint64(sig)
	case hHostFault:
		ev.Kind, ev.Code = events.KindHostFault, rd(p, h.f[0])
		ev.Args = [4]uint64{rd(p, h.f[1]), rd(p, h.f[2]), 0, 0}
	default:
		d.Stats.Unknown++
		return out
	}
	return append(out, ev)
}

// flushPending emits th's pending kvm_exit, whose companion did not come,
// as an exit_other event carrying the raw reason.
func (d *Decoder) flushPending(th *thread, tid int32, out []events.Event) []events.Event {
	if !th.pending {
		return out
	}
	th.pending = false
	pe := th.pendingEv
	return append(out, events.Event{
		TimeNs: int64(pe.ts) + d.offset, Host: d.host, VMID: th.vm.id, VCPU: pe.vcpu, TID: tid,
		Source: events.SourceTracefs, Kind: events.KindExitOther, Code: uint64(pe.reason), Args: [4]uint64{uint64(pe.isa)},
	})
}

// FlushPending emits every pending kvm_exit; the collector calls it after
// each read of all CPUs.
func (d *Decoder) FlushPending(out []events.Event) []events.Event {
	for tid, th := range d.tr.threads {
		out = d.flushPending(th, tid, out)
	}
	return out
}

// FlushEmulation appends one KindEmulation event per VM whose vCPUs ran
// emulated instructions since the previous call: Args[0]=instructions,
// Args[1]=failed emulations.
func (d *Decoder) FlushEmulation(out []events.Event) []events.Event {
	for _, vm := range d.tr.vms {
		if vm.emul == 0 {
			continue
		}
		out = append(out, events.Event{
			TimeNs: int64(vm.emulTS) + d.offset, Host: d.host, VMID: vm.id, VCPU: -1, TID: vm.pid,
			Source: events.SourceTracefs, Kind: events.KindEmulation, Args: [4]uint64{vm.emul, vm.emulFailed},
		})
		vm.emul, vm.emulFailed = 0, 0
	}
	return out
}

func dir(write bool) uint64 {
	if write {
		return events.DirWrite
	}
	return events.DirRead
}

// exitVector returns the exception vector of an exception exit.
func exitVector(isa, reason, intrInfo uint32) uint64 {
	if isa == ISASVM {
		return uint64(reason - 0x40)
	}
	return uint64(intrInfo & 0xff)
}

// fatalByDefault reports whether sig terminates a process whose handler is
// SIG_DFL (signal(7)).
func fatalByDefault(sig int64) bool {
	switch sig {
	case 17, 18, 19, 20, 21, 22, 23, 28: // CHLD CONT STOP TSTP TTIN TTOU URG WINCH
		return false
	}
	return sig >= 1 && sig <= 31
}

// dataLocString reads a __data_loc char[] field.
func dataLocString(p []byte, f Field) string {
	loc := binary.LittleEndian.Uint32(p[f.Offset:])
	off, n := int(loc&0xffff), int(loc>>16)
	if off+n > len(p) || n == 0 {
		return ""
	}
	s := p[off : off+n]
	for i, c := range s {
		if c == 0 {
			s = s[:i]
			break
		}
	}
	return string(s)
}

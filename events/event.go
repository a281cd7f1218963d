package events

import "fmt"

// SchemaVersion is the version of the event schema carried in the
// "escapement-schema" header and in the Arrow schema metadata.
const SchemaVersion = "events.v1"

// Topic is the Kafka topic events travel on.
const Topic = "escapement.events.v1"

// ContentType is the value of the content-type header of an events message.
const ContentType = "application/vnd.apache.arrow.stream"

// NumArgs is the number of kind-specific arguments an event carries.
const NumArgs = 4

// Event is one canonical guest action or VMM action. The meaning of Code and
// Args depends on Kind; docs/events.md gives the table.
type Event struct {
	TimeNs int64  // nanoseconds since the Unix epoch, host clock
	Host   string // hypervisor host name
	VMID   string // stable VM identifier (QEMU -name guest=, -uuid, Firecracker --id, host/pid)
	VCPU   int32  // vCPU index; -1 for VMM-side events (syscalls, process, host faults)
	TID    int32  // host thread id of the vCPU thread or VMM thread
	Source Source // which collector produced the event
	Kind   Kind
	Code   uint64
	Args   [NumArgs]uint64
	// Detail is optional text for rare events (exec path, comm); empty on the
	// hot path.
	Detail string
}

// Source names the collector that produced an event.
type Source uint8

const (
	SourceUnknown Source = iota
	SourceSim            // collectors/sim, the fleet simulator
	SourceLab            // collectors/lab, real guests on the lab VMM
	SourceTracefs        // live kernel tracepoints read through tracefs
	SourceEBPF           // live kernel tracepoints read through eBPF
	SourceReplay         // a recorded file played back
	numSources
)

var sourceNames = [...]string{"unknown", "sim", "lab", "tracefs", "ebpf", "replay"}

func (s Source) String() string {
	if int(s) < len(sourceNames) {
		return sourceNames[s]
	}
	return fmt.Sprintf("source(%d)", uint8(s))
}

// Kind is the normalised action an event records.
type Kind uint8

// Guest-side kinds (VM exits and guest memory) come first, then VMM-side kinds.
const (
	KindUnknown       Kind = iota
	KindIO                 // port I/O: Code=port, Args=[dir, size, value, count]
	KindMMIO               // MMIO: Code=guest-physical address, Args=[dir, len, value]
	KindMSR                // RDMSR/WRMSR: Code=MSR index, Args=[dir, value, faulted]
	KindCPUID              // CPUID: Code=leaf, Args=[subleaf, eax out, found]
	KindHLT                // HLT
	KindHypercall          // hypercall: Code=nr, Args=[a0, a1, a2, a3]
	KindCR                 // control register access: Code=cr number, Args=[dir, value]
	KindDR                 // debug register access: Code=dr number, Args=[dir, value]
	KindException          // exception injected/intercepted: Code=vector, Args=[error code, reinjected]
	KindPageFault          // guest page fault / EPT/NPT violation: Code=gpa, Args=[error code, gva]
	KindEmulation          // emulated instructions counted in the kernel: Args=[count, failed]
	KindUserspaceExit      // exit to the VMM in user space: Code=KVM exit reason
	KindExitOther          // any other VM exit: Code=raw exit reason, Args=[isa]
	KindInterrupt          // external interrupt / interrupt-window exit: Code=vector
	KindSyscall            // VMM system call: Code=x86_64 syscall nr, Args=first four arguments
	KindProcFork           // VMM process or descendant forked: Code=child pid, Args=[parent pid]
	KindProcExec           // exec in the VMM process tree: Code=pid, Detail=path
	KindProcExit           // exit in the VMM process tree: Code=exit code, Args=[signal]
	KindSignal             // fatal signal delivered: Code=signal number
	KindHostFault          // page fault of the VMM on the host: Code=address, Args=[error code, ip]
	NumKinds
)

var kindNames = [...]string{
	"unknown", "io", "mmio", "msr", "cpuid", "hlt", "hypercall", "cr", "dr",
	"exception", "page_fault", "emulation", "userspace_exit", "exit_other",
	"interrupt", "syscall", "proc_fork", "proc_exec", "proc_exit", "signal",
	"host_fault",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ParseKind returns the Kind named s.
func ParseKind(s string) (Kind, error) {
	for i, n := range kindNames {
		if n == s {
			return Kind(i), nil
		}
	}
	return KindUnknown, fmt.Errorf("events: unknown kind %q", s)
}

// GuestSide reports whether k is caused by the guest (a VM exit or guest
// memory event) rather than by the VMM process on the host.
func (k Kind) GuestSide() bool { return k >= KindIO && k <= KindInterrupt }

// LossCode is the Code of the KindExitOther event a collector emits when
// the kernel dropped records (ring-buffer overrun); Args[0] is the number
// lost. An attacker flooding exits must not blind the sensor silently: the
// loss itself is a feature.
const LossCode = 0xFFFF_FFFF

// Direction values used in Args[0] of io, mmio, msr, cr and dr events.
const (
	DirRead  = 0
	DirWrite = 1
)

// Page-fault error-code bits (x86), used in Args[0] of page_fault and
// host_fault events.
const (
	PFPresent = 1 << 0
	PFWrite   = 1 << 1
	PFUser    = 1 << 2
	PFFetch   = 1 << 4
)

// Package kvm is the live KVM collector: it discovers VMM processes
// (QEMU, Firecracker, cloud-hypervisor, crosvm and anything holding /dev/kvm
// open), captures their kernel tracepoints through a tracefs instance of its
// own, decodes the binary per-CPU ring-buffer pages with field offsets read
// from the running kernel's format files, and emits canonical events.Event
// values (events.SourceTracefs) attributed to a vm_id.
//
// The contract:
//
//   - Collector implements collectors.Collector. Run returns nil when its
//     context ends, and an error naming the missing privilege or kernel
//     feature when capture cannot start (not root, no tracefs, no kvm
//     events).
//   - A kvm_exit and its pio/mmio/msr/cpuid companion on the same vCPU
//     thread are folded into one event, so counts mean the same on PVM
//     (companion only) and VMX/SVM (both fire). Other exits go through one
//     normalised exit-kind table built from the VMX and SVM exit reason
//     tables of the kvm_exit format file.
//   - kvm_emulate_insn is never shipped per instruction: it is counted per
//     VM and emitted as one events.KindEmulation event per VM per interval.
//   - Records lost in the kernel (ring-buffer overruns) are counted and
//     surfaced to every VM as an events.KindExitOther event with
//     Code=LossCode and Args[0]=lost records, so a guest flooding exits
//     cannot blind the sensor silently. Malformed records are counted, never
//     fatal.
//   - Recorder writes events to an Arrow IPC file noting the platform
//     (pvm, vmx, svm); Replay streams such a file back; Inspect counts its
//     events per VM and kind.
//
// docs/collector.md describes privileges, tracepoints and deployment.
package kvm

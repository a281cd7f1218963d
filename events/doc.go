// Package events defines schema v1 of Escapement's canonical guest-action
// events and their wire format.
//
// An Event is one thing a guest made its hypervisor do (a VM exit folded with
// its companion tracepoint: port I/O, MMIO, MSR, CPUID, HLT, hypercall, control
// or debug register access, exception, guest page fault, emulated
// instructions, exit to user space) or one thing the VMM process did on the
// host (a system call, a fork, exec or exit, a fatal signal, a host-side page
// fault). Every collector — live tracefs/eBPF, the lab, the fleet simulator,
// replay — produces the same Event, so that a count means the same on PVM,
// VMX and SVM.
//
// On the wire (Kafka topic escapement.events.v1) a message holds one Arrow IPC
// stream with one record batch of one VM's events; its key is the vm_id and
// its headers carry the content type and schema version (see Headers).
// docs/events.md documents every field, its type, unit and meaning.
//
// This package sits at the bottom of the dependency graph: everyone may import
// it and it imports nothing of Escapement's.
package events

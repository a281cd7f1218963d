// Package vmm is the lab's minimal virtual machine monitor: a real-mode x86
// guest on /dev/kvm driven through raw ioctls (golang.org/x/sys/unix, no
// cgo; the KVM ioctl numbers and structures are defined here).
//
// A Machine has RAMSize bytes of guest RAM at guest-physical 0, a read-only
// memory slot at ROMBase (KVM_MEM_READONLY when the kernel has it) and
// holes where nothing is mapped (layout.go). Each vCPU runs on its own
// goroutine locked to an OS thread and starts at 0000:LoadAddr.
//
// Device models answer the exits: COM1 (0x3F8-0x3FF, output collected), PIT
// channel 0 (0x40-0x43, a free-running counter), a primary ATA channel
// (0x1F0-0x1F7, 0x3F6, PIO READ/WRITE SECTORS and IDENTIFY), a floppy
// controller (0x3F0-0x3F7, command/parameter/result FIFO with a 512-byte
// buffer whose overruns are refused and counted), PCI configuration
// mechanism 1 (0xCF8/0xCFC, five functions on bus 0), a virtio-mmio network
// register file at VirtioBase, the lab control port (PortControl) and a
// backdoor hypercall port (PortBackdoor, answers all ones). Any other port
// or address reads as all ones and is counted.
//
// There is no interrupt controller. HLT exits to the VMM, which sleeps until
// the vCPU's next timer tick (TickHz, with seeded jitter) and resumes it:
// that is the guest's timer. A vCPU that never exits to user space (under
// PVM, VMCALL in real mode is re-emulated forever) is stopped by setting
// immediate_exit and sending its thread SIGURG, which the Go runtime
// tolerates, when Run's context ends.
//
// Counters and GuestReport are the VMM's own view, for tests and debugging.
// They are not telemetry: detection reads the kernel.
package vmm

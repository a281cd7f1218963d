package vmm

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// KVM ioctl numbers (include/uapi/linux/kvm.h). x/sys/unix does not define
// them. _IO(type, nr) = type<<8 | nr; _IOW adds 1<<30 and the argument size
// at bit 16; _IOR adds 2<<30.
const (
	kvmio = 0xAE

	kvmGetAPIVersion       = kvmio<<8 | 0x00
	kvmCreateVM            = kvmio<<8 | 0x01
	kvmCheckExtension      = kvmio<<8 | 0x03
	kvmGetVCPUMmapSize     = kvmio<<8 | 0x04
	kvmCreateVCPU          = kvmio<<8 | 0x41
	kvmSetUserMemoryRegion = 1<<30 | unsafe.Sizeof(userMemoryRegion{})<<16 | kvmio<<8 | 0x46
	kvmSetTSSAddr          = kvmio<<8 | 0x47
	kvmRun                 = kvmio<<8 | 0x80
	kvmGetRegs             = 2<<30 | unsafe.Sizeof(Regs{})<<16 | kvmio<<8 | 0x81
	kvmSetRegs             = 1<<30 | unsafe.Sizeof(Regs{})<<16 | kvmio<<8 | 0x82
	kvmGetSregs            = 2<<30 | unsafe.Sizeof(Sregs{})<<16 | kvmio<<8 | 0x83
	kvmSetSregs            = 1<<30 | unsafe.Sizeof(Sregs{})<<16 | kvmio<<8 | 0x84

	// APIVersion is the only KVM API version there has ever been.
	APIVersion = 12

	capReadonlyMem = 31 // KVM_CAP_READONLY_MEM
	memReadonly    = 1 << 1
)

// KVM exit reasons (kvm_run.exit_reason) the VMM handles or names.
const (
	ExitUnknown       = 0
	ExitException     = 1
	ExitIO            = 2
	ExitHypercall     = 3
	ExitDebug         = 4
	ExitHLT           = 5
	ExitMMIO          = 6
	ExitShutdown      = 8
	ExitFailEntry     = 9
	ExitIntr          = 10
	ExitInternalError = 17
	ExitSystemEvent   = 24
)

// userMemoryRegion is struct kvm_userspace_memory_region.
type userMemoryRegion struct {
	Slot          uint32
	Flags         uint32
	GuestPhysAddr uint64
	MemorySize    uint64
	UserspaceAddr uint64
}

// Regs is struct kvm_regs.
type Regs struct {
	RAX, RBX, RCX, RDX, RSI, RDI, RSP, RBP uint64
	R8, R9, R10, R11, R12, R13, R14, R15   uint64
	RIP, RFLAGS                            uint64
}

// Segment is struct kvm_segment.
type Segment struct {
	Base                           uint64
	Limit                          uint32
	Selector                       uint16
	Type                           uint8
	Present, DPL, DB, S, L, G, AVL uint8
	Unusable                       uint8
	_                              uint8
}

// DTable is struct kvm_dtable.
type DTable struct {
	Base  uint64
	Limit uint16
	_     [3]uint16
}

// Sregs is struct kvm_sregs.
type Sregs struct {
	CS, DS, ES, FS, GS, SS, TR, LDT Segment
	GDT, IDT                        DTable
	CR0, CR2, CR3, CR4, CR8         uint64
	EFER, APICBase                  uint64
	InterruptBitmap                 [4]uint64
}

// runHeader is the fixed head of struct kvm_run; the exit union starts at
// offset 32.
type runHeader struct {
	RequestInterruptWindow uint8
	ImmediateExit          uint8
	_                      [6]uint8
	ExitReason             uint32
	ReadyForInjection      uint8
	IFFlag                 uint8
	Flags                  uint16
	CR8                    uint64
	APICBase               uint64
}

const runUnionOffset = 32

// ioExit is the io member of the kvm_run exit union.
type ioExit struct {
	Direction  uint8 // 0 in, 1 out
	Size       uint8
	Port       uint16
	Count      uint32
	DataOffset uint64 // from the start of kvm_run
}

// mmioExit is the mmio member of the kvm_run exit union.
type mmioExit struct {
	PhysAddr uint64
	Data     [8]uint8
	Len      uint32
	IsWrite  uint8
}

// internalExit is the internal member of the kvm_run exit union.
type internalExit struct {
	Suberror uint32
	NData    uint32
	Data     [16]uint64
}

func ioctl(fd int, req uintptr, arg uintptr) (uintptr, error) {
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, arg)
	if errno != 0 {
		return r, errno
	}
	return r, nil
}

func ioctlPtr[T any](fd int, req uintptr, v *T) error {
	_, err := ioctl(fd, req, uintptr(unsafe.Pointer(v)))
	return err
}

// Compile-time checks of the layouts against the kernel's sizes.
var (
	_ [144 - unsafe.Sizeof(Regs{})]struct{}
	_ [unsafe.Sizeof(Regs{}) - 144]struct{}
	_ [312 - unsafe.Sizeof(Sregs{})]struct{}
	_ [unsafe.Sizeof(Sregs{}) - 312]struct{}
	_ [32 - unsafe.Sizeof(userMemoryRegion{})]struct{}
	_ [unsafe.Sizeof(userMemoryRegion{}) - 32]struct{}
	_ [32 - unsafe.Sizeof(runHeader{})]struct{}
)

func exitName(r uint32) string {
	switch r {
	case ExitIO:
		return "io"
	case ExitMMIO:
		return "mmio"
	case ExitHLT:
		return "hlt"
	case ExitShutdown:
		return "shutdown"
	case ExitFailEntry:
		return "fail_entry"
	case ExitInternalError:
		return "internal_error"
	case ExitIntr:
		return "intr"
	case ExitHypercall:
		return "hypercall"
	case ExitSystemEvent:
		return "system_event"
	}
	return fmt.Sprintf("exit(%d)", r)
}

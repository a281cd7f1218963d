package sim

// x86_64 system call numbers used by the simulated VMM.
const (
	sysRead         = 0
	sysWrite        = 1
	sysPpoll        = 7
	sysMmap         = 9
	sysMprotect     = 10
	sysMunmap       = 11
	sysIoctl        = 16
	sysPread64      = 17
	sysPwrite64     = 18
	sysMadvise      = 28
	sysSocket       = 41
	sysConnect      = 42
	sysSendmsg      = 46
	sysRecvmsg      = 47
	sysClone        = 56
	sysFork         = 57
	sysExecve       = 59
	sysWait4        = 61
	sysFdatasync    = 75
	sysPtrace       = 101
	sysFutex        = 202
	sysIoGetevents  = 208
	sysIoSubmit     = 209
	sysClockGettime = 228
	sysOpenat       = 257
)

// Arguments of the calls above.
const (
	kvmRun       = 0xAE80     // KVM_RUN ioctl request
	kvmSetRegs   = 0x4090AE82 // KVM_SET_REGS
	kvmSetSregs  = 0x4138AE84 // KVM_SET_SREGS
	protRead     = 0x1
	protWrite    = 0x2
	protExec     = 0x4
	afUnix       = 1
	afInet       = 2
	sockStream   = 1
	ptraceMe     = 0  // PTRACE_TRACEME
	ptraceAttach = 16 // PTRACE_ATTACH
	ptracePoke   = 4  // PTRACE_POKETEXT
	sigchld      = 17
	// cloneThread is the flag set glibc's pthread_create passes to clone.
	cloneThread = 0x3D0F00
)

// KVM exit reasons of userspace exits.
const (
	exitIO   = 2
	exitMMIO = 6
)

// Hypercall numbers (include/uapi/linux/kvm_para.h).
const (
	hcVapicPollIRQ = 1
	hcKickCPU      = 5
	hcClockPairing = 9
	hcSendIPI      = 10
	hcSchedYield   = 11
	// hcMapGPARange is issued by confidential-computing capable guests at
	// boot; hosts without support answer -KVM_ENOSYS.
	hcMapGPARange = 12
)

// KnownHypercall reports whether nr is a hypercall KVM implements for
// ordinary guests; everything else is answered with -KVM_ENOSYS.
func KnownHypercall(nr uint64) bool {
	switch nr {
	case hcVapicPollIRQ, hcKickCPU, hcClockPairing, hcSendIPI, hcSchedYield:
		return true
	}
	return false
}

// Ports.
const (
	portPIC1Cmd   = 0x20
	portPIC1Data  = 0x21
	portPIT0      = 0x40
	portPITCmd    = 0x43
	portRTCIndex  = 0x70
	portRTCData   = 0x71
	portPIC2Cmd   = 0xA0
	portPIC2Data  = 0xA1
	portFDCDOR    = 0x3F2 // digital output register
	portFDCStatus = 0x3F4 // main status register
	portFDCFIFO   = 0x3F5 // data FIFO: command and parameter bytes
	portFDCDIR    = 0x3F7
	portCOM1      = 0x3F8
	portCOM1LSR   = 0x3FD
	portPCIAddr   = 0xCF8
	portPCIData   = 0xCFC
)

// Floppy controller command bytes.
const (
	fdcVersion       = 0x10
	fdcSenseInt      = 0x08
	fdcReadID        = 0x4A
	fdcDriveSpec     = 0x8E // the VENOM (CVE-2015-3456) command
	fdcReadData      = 0xE6
	fdcSpecify       = 0x03
	fdcConfigure     = 0x13
	fdcDumpRegisters = 0x0E
)

// Guest-physical MMIO windows of the simulated machine.
const (
	gpaVirtioBase = 0xFEB00000 // virtio devices, 4 KiB each
	virtioNotify  = 0x3000     // offset of the queue-notify register
	gpaIOAPIC     = 0xFEC00000
	gpaHPET       = 0xFED00000
	gpaTPM        = 0xFED40000 // probed by Linux; no TPM is assigned
	gpaLAPIC      = 0xFEE00000
	gpaPCIHole    = 0xE0000000 // start of the 32-bit PCI hole
)

// Assigned reports whether gpa falls in an MMIO window the simulated machine
// actually has (virtio devices, IOAPIC, HPET, LAPIC).
func Assigned(gpa uint64) bool {
	switch {
	case gpa >= gpaVirtioBase && gpa < gpaVirtioBase+8*0x4000:
		return true
	case gpa >= gpaIOAPIC && gpa < gpaIOAPIC+0x1000:
		return true
	case gpa >= gpaHPET && gpa < gpaHPET+0x400:
		return true
	case gpa >= gpaLAPIC && gpa < gpaLAPIC+0x1000:
		return true
	}
	return false
}

// MSR indices.
const (
	msrTSC           = 0x10
	msrAPICBase      = 0x1B
	msrFeatureCtl    = 0x3A
	msrSpecCtrl      = 0x48
	msrMicrocode     = 0x8B
	msrPMC0          = 0xC1 // IA32_PMC0..7 = 0xC1..0xC8
	msrPlatformInfo  = 0xCE
	msrMPERF         = 0xE7
	msrAPERF         = 0xE8
	msrArchCaps      = 0x10A
	msrSysenterCS    = 0x174
	msrPerfEvtSel0   = 0x186 // IA32_PERFEVTSEL0..3 = 0x186..0x189
	msrThermStatus   = 0x19C
	msrMiscEnable    = 0x1A0
	msrPkgThermStat  = 0x1B1
	msrPAT           = 0x277
	msrPerfGlobalCtl = 0x38F
	msrRAPLPowerUnit = 0x606
	msrPkgEnergy     = 0x611
	msrTSCDeadline   = 0x6E0
	msrX2APICEOI     = 0x80B
	msrX2APICSVR     = 0x80F
	msrX2APICICR     = 0x830
	msrX2APICTMICT   = 0x838
	msrKVMWallClock  = 0x4B564D00 // KVM PV MSRs 0x4B564D00..
	msrEFER          = 0xC0000080
	msrSTAR          = 0xC0000081
	msrAMDDECfg      = 0xC0011029 // AMD only: faults on the simulated Intel vCPUs
)

// PMCMSR reports whether idx is a performance-counter MSR (IA32_PMCx,
// IA32_PERFEVTSELx, IA32_PERF_GLOBAL_CTRL).
func PMCMSR(idx uint64) bool {
	return (idx >= msrPMC0 && idx <= msrPMC0+7) || (idx >= msrPerfEvtSel0 && idx <= msrPerfEvtSel0+3) || idx == msrPerfGlobalCtl
}

// Interrupt vectors.
const (
	vecLocalTimer = 0xEC
	vecDiskMSI    = 0x41
	vecNetMSI     = 0x45
	vecIPI        = 0xFB
)

// Exception vectors.
const (
	excDB = 1
	excBP = 3
	excUD = 6
	excGP = 13
)

// Paths opened or executed by the simulated VMM.
var (
	benignOpenPaths = []string{
		"/proc/self/stat", "/sys/fs/cgroup/cpu.stat", "/var/log/qemu/guest.log",
		"/dev/net/tun", "/usr/share/seabios/bios-256k.bin", "/usr/share/qemu/kvmvapic.bin",
	}
	// passwdPaths are read when the VMM drops privileges (-runas).
	passwdPaths = []string{"/etc/passwd", "/etc/group", "/etc/nsswitch.conf"}
	// escapeOpenPaths are what post-escape activity reads.
	escapeOpenPaths = []string{"/etc/shadow", "/root/.ssh/id_rsa", "/etc/libvirt/qemu.conf", "/proc/1/environ"}
)

const (
	ifupPath = "/etc/qemu-ifup"
	shPath   = "/bin/sh"
)

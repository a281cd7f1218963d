package vmm

// Guest-physical layout. Real mode reaches the first MiB only, so every
// region the payloads use sits below 0x100000.
//
//	0x00000-0x003FF  interrupt vector table (the payload installs #UD/#GP handlers)
//	0x00600-0x006FF  parameter block (ParamsAddr): written by the VMM, read by the payload
//	0x00700-0x007FF  per-vCPU report block (ReportAddr): written by the payload
//	0x01000-...      payload (LoadAddr), entry CS:IP = 0000:1000
//	0x9xxxx          stacks, SS=0x9000, SP=0xF000 - 0x800*vcpu
//	0xA0000-0xA0FFF  virtio-like MMIO window (VirtioBase), no memory: MMIO exits
//	0xA1000-0xBFFFF  unassigned hole: MMIO exits answered 0xFF and counted
//	0xC0000-0xCFFFF  read-only memory slot (ROMBase, KVM_MEM_READONLY): reads
//	                 are served by KVM, writes exit as MMIO
//	0xD0000-0xFFFFF  unassigned hole: MMIO exits answered 0xFF and counted
const (
	RAMSize    = 0xA0000
	ParamsAddr = 0x0600
	ReportAddr = 0x0700
	ReportSize = 0x20 // bytes of report block per vCPU
	LoadAddr   = 0x1000
	MaxProgram = 0x8000
	StackSeg   = 0x9000
	StackTop   = 0xF000
	VirtioBase = 0xA0000
	VirtioSize = 0x1000
	ROMBase    = 0xC0000
	ROMSize    = 0x10000
	MaxVCPUs   = 4
)

// I/O ports of the device models.
const (
	PortPIT0      = 0x40 // PIT channel 0 counter
	PortPITMode   = 0x43
	PortIDEData   = 0x1F0
	PortIDEStatus = 0x1F7 // status on read, command on write
	PortIDEAlt    = 0x3F6
	PortFDCBase   = 0x3F0
	PortFDCDOR    = 0x3F2
	PortFDCMSR    = 0x3F4
	PortFDCFIFO   = 0x3F5
	PortFDCDIR    = 0x3F7
	PortCOM1      = 0x3F8
	PortCOM1LSR   = 0x3FD
	PortPCIAddr   = 0xCF8
	PortPCIData   = 0xCFC
	PortControl   = 0x510 // lab control port
	PortBackdoor  = 0x5658
)

// Codes a payload writes to PortControl (16-bit out).
const (
	CtlReady    = 0x0001 // payload initialised
	CtlTrigger  = 0x00E5 // ask the VMM to run the post-exploitation actions
	CtlProgress = 0x0002 // progress report (ignored apart from the count)
)

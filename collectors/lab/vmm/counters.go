package vmm

// Counters are the device models' own counts of what the guest did to them.
// They are a debugging and test aid of the VMM, not telemetry: detection
// reads the kernel through the collector, never these.
type Counters struct {
	HLT         uint64 `json:"hlt"`         // HLT exits (timer waits)
	Interrupted uint64 `json:"interrupted"` // KVM_RUN returns by signal
	OtherExits  uint64 `json:"other_exits"`

	SerialBytes uint64 `json:"serial_bytes"` // bytes written to COM1's THR
	SerialOther uint64 `json:"serial_other"` // other COM1 register accesses

	PITReads  uint64 `json:"pit_reads"`
	PITWrites uint64 `json:"pit_writes"`

	IDECommands       uint64 `json:"ide_commands"`
	IDESectorsRead    uint64 `json:"ide_sectors_read"`
	IDESectorsWritten uint64 `json:"ide_sectors_written"`
	IDERegAccesses    uint64 `json:"ide_reg_accesses"` // non-data register accesses

	VirtioReads    uint64 `json:"virtio_reads"`
	VirtioWrites   uint64 `json:"virtio_writes"`
	VirtioNotifies uint64 `json:"virtio_notifies"`

	FDCFifoWrites   uint64 `json:"fdc_fifo_writes"`
	FDCCommands     uint64 `json:"fdc_commands"`
	FDCInvalid      uint64 `json:"fdc_invalid_commands"`
	FDCOverflows    uint64 `json:"fdc_overflow_attempts"` // FIFO writes past the 512-byte buffer in one command
	FDCOtherAccess  uint64 `json:"fdc_other_accesses"`
	PCIAddrWrites   uint64 `json:"pci_addr_writes"`
	PCIDataReads    uint64 `json:"pci_data_reads"`
	PCIDataWrites   uint64 `json:"pci_data_writes"`
	PCIAbsentReads  uint64 `json:"pci_absent_reads"` // reads of functions not on the fake bus
	PCIDistinctBDFs uint64 `json:"pci_distinct_bdfs"`

	ControlWrites uint64 `json:"control_writes"`
	Triggers      uint64 `json:"triggers"` // CtlTrigger writes

	BackdoorCalls uint64 `json:"backdoor_calls"` // accesses to the backdoor hypercall port

	UnknownPortReads  uint64 `json:"unknown_port_reads"`
	UnknownPortWrites uint64 `json:"unknown_port_writes"`
	DistinctUnknown   uint64 `json:"distinct_unknown_ports"`

	ROMWrites         uint64 `json:"rom_writes"` // writes to the read-only slot (MMIO exits)
	UnassignedReads   uint64 `json:"unassigned_mmio_reads"`
	UnassignedWrites  uint64 `json:"unassigned_mmio_writes"`
	UnassignedPages   uint64 `json:"unassigned_mmio_pages"` // distinct 4 KiB pages touched
	ReadOnlyROMMapped bool   `json:"readonly_rom_mapped"`
}

// Counters returns a snapshot of the device-model counters.
func (m *Machine) Counters() Counters {
	m.bus.mu.Lock()
	defer m.bus.mu.Unlock()
	c := m.bus.c
	c.ReadOnlyROMMapped = m.readonly
	return c
}

// SerialOutput returns what the guest wrote to COM1 (the last 4 KiB).
func (m *Machine) SerialOutput() string {
	m.bus.mu.Lock()
	defer m.bus.mu.Unlock()
	return string(m.bus.serial)
}

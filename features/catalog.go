package features

import (
	"crypto/sha256"
	"encoding/hex"
)

// Spec describes one feature of the catalog.
type Spec struct {
	Name    string // column name, snake_case, stable across releases of features.v1
	Unit    string // "1/s" (per second of window), "count" (per window) or "ratio" (0..1)
	Meaning string // what the value measures, for analysts and docs/features.md
}

// Units used in the catalog.
const (
	UnitRate  = "1/s"
	UnitCount = "count"
	UnitRatio = "ratio"
)

// Feature indices into Row.Values, in Catalog order.
const (
	fExitsTotal = iota
	fRateIO
	fRateMMIO
	fRateMSR
	fRateCPUID
	fRateHLT
	fRateHypercall
	fRateCRDR
	fRateException
	fRatePageFault
	fRateUserspaceExit
	fRateInterrupt
	fRateExitOther
	fEmulationRate
	fIOPortsDistinct
	fIOPortsNovel
	fIOWriteShare
	fFloppyRate
	fFloppyFIFOWriteRate
	fPCICfgRate
	fPCICfgAddrDistinct
	fMMIOPagesDistinct
	fMMIOPagesNovel
	fMSRDistinct
	fMSRNovel
	fMSRWriteRate
	fMSRFaultRate
	fMSRPMCRate
	fCPUIDLeavesDistinct
	fCPUIDLeavesNovel
	fCPUIDHypervisorRate
	fHypercallNrsDistinct
	fHypercallNrsNovel
	fGuestFaultWriteRate
	fGuestFaultExecRate
	fGuestFaultRegions
	fSyscallRate
	fSyscallNrsDistinct
	fSyscallNrsNovel
	fSyscallExecRate
	fSyscallForkRate
	fSyscallPtraceRate
	fSyscallSocketRate
	fSyscallProtExecRate
	fSyscallOpenRate
	fSyscallNGramNovelty
	fExitNGramNovelty
	fProcForks
	fProcExecs
	fProcExits
	fFatalSignals
	fHostFaultRate
	fSensorLost
	numFeatures
)

// Catalog lists every feature of a Row, in Row.Values order. Rates are per
// second of window; "novel" counts items this VM had not used in any earlier
// window (see doc.go for the warm-up rule). All values are non-negative.
var Catalog = []Spec{
	fExitsTotal:           {"exits_total", UnitCount, "guest exits in the window (every guest-side event except emulation counts)"},
	fRateIO:               {"exit_io_rate", UnitRate, "port I/O exits"},
	fRateMMIO:             {"exit_mmio_rate", UnitRate, "MMIO exits"},
	fRateMSR:              {"exit_msr_rate", UnitRate, "RDMSR/WRMSR exits"},
	fRateCPUID:            {"exit_cpuid_rate", UnitRate, "CPUID exits"},
	fRateHLT:              {"exit_hlt_rate", UnitRate, "HLT exits"},
	fRateHypercall:        {"exit_hypercall_rate", UnitRate, "hypercall exits"},
	fRateCRDR:             {"exit_crdr_rate", UnitRate, "control and debug register access exits"},
	fRateException:        {"exit_exception_rate", UnitRate, "exception exits"},
	fRatePageFault:        {"exit_page_fault_rate", UnitRate, "guest page faults / EPT-NPT violations"},
	fRateUserspaceExit:    {"exit_userspace_rate", UnitRate, "exits to the VMM in user space"},
	fRateInterrupt:        {"exit_interrupt_rate", UnitRate, "external interrupt and interrupt-window exits"},
	fRateExitOther:        {"exit_other_rate", UnitRate, "any other VM exit"},
	fEmulationRate:        {"emulation_rate", UnitRate, "instructions emulated by KVM (sum of emulation event counts)"},
	fIOPortsDistinct:      {"io_ports_distinct", UnitCount, "distinct I/O ports accessed (linear-counting estimate)"},
	fIOPortsNovel:         {"io_ports_novel", UnitCount, "I/O ports this VM had never accessed before"},
	fIOWriteShare:         {"io_write_share", UnitRatio, "share of port I/O exits that are writes"},
	fFloppyRate:           {"io_floppy_rate", UnitRate, "accesses to the floppy controller ports 0x3F0-0x3F7"},
	fFloppyFIFOWriteRate:  {"io_floppy_fifo_write_rate", UnitRate, "writes to the floppy controller FIFO port 0x3F5"},
	fPCICfgRate:           {"io_pci_cfg_rate", UnitRate, "accesses to the PCI configuration ports 0xCF8-0xCFF"},
	fPCICfgAddrDistinct:   {"io_pci_cfg_addr_distinct", UnitCount, "distinct configuration addresses written to port 0xCF8"},
	fMMIOPagesDistinct:    {"mmio_pages_distinct", UnitCount, "distinct 4 KiB guest-physical pages accessed by MMIO"},
	fMMIOPagesNovel:       {"mmio_pages_novel", UnitCount, "MMIO pages this VM had never accessed before"},
	fMSRDistinct:          {"msr_distinct", UnitCount, "distinct MSR indices accessed"},
	fMSRNovel:             {"msr_novel", UnitCount, "MSR indices this VM had never accessed before"},
	fMSRWriteRate:         {"msr_write_rate", UnitRate, "WRMSR exits"},
	fMSRFaultRate:         {"msr_fault_rate", UnitRate, "MSR accesses that faulted (#GP injected)"},
	fMSRPMCRate:           {"msr_pmc_rate", UnitRate, "accesses to performance-monitoring MSRs (counters, event selectors, global control): how vPMU timing probes show"},
	fCPUIDLeavesDistinct:  {"cpuid_leaves_distinct", UnitCount, "distinct CPUID leaves queried"},
	fCPUIDLeavesNovel:     {"cpuid_leaves_novel", UnitCount, "CPUID leaves this VM had never queried before"},
	fCPUIDHypervisorRate:  {"cpuid_hypervisor_rate", UnitRate, "CPUID queries of the hypervisor range 0x40000000-0x400000FF"},
	fHypercallNrsDistinct: {"hypercall_nrs_distinct", UnitCount, "distinct hypercall numbers"},
	fHypercallNrsNovel:    {"hypercall_nrs_novel", UnitCount, "hypercall numbers this VM had never used before"},
	fGuestFaultWriteRate:  {"guest_fault_write_rate", UnitRate, "guest page faults with the write bit set"},
	fGuestFaultExecRate:   {"guest_fault_exec_rate", UnitRate, "guest page faults with the instruction-fetch bit set"},
	fGuestFaultRegions:    {"guest_fault_regions", UnitCount, "distinct 2 MiB guest-physical regions that faulted (spread)"},
	fSyscallRate:          {"syscall_rate", UnitRate, "system calls of the VMM process"},
	fSyscallNrsDistinct:   {"syscall_nrs_distinct", UnitCount, "distinct system call numbers of the VMM"},
	fSyscallNrsNovel:      {"syscall_nrs_novel", UnitCount, "system call numbers the VMM had never made before"},
	fSyscallExecRate:      {"syscall_exec_rate", UnitRate, "execve and execveat calls of the VMM"},
	fSyscallForkRate:      {"syscall_fork_rate", UnitRate, "fork, vfork, clone and clone3 calls of the VMM"},
	fSyscallPtraceRate:    {"syscall_ptrace_rate", UnitRate, "ptrace calls of the VMM"},
	fSyscallSocketRate:    {"syscall_socket_rate", UnitRate, "socket and connect calls of the VMM"},
	fSyscallProtExecRate:  {"syscall_prot_exec_rate", UnitRate, "mmap, mprotect and pkey_mprotect calls asking for PROT_EXEC"},
	fSyscallOpenRate:      {"syscall_open_rate", UnitRate, "open, openat and openat2 calls of the VMM"},
	fSyscallNGramNovelty:  {"syscall_ngram_novelty", UnitRatio, "share of the window's distinct syscall 3-grams the VMM had never made before"},
	fExitNGramNovelty:     {"exit_ngram_novelty", UnitRatio, "share of the window's distinct exit-kind 3-grams the VM had never caused before"},
	fProcForks:            {"proc_forks", UnitCount, "forks in the VMM process tree"},
	fProcExecs:            {"proc_execs", UnitCount, "execs in the VMM process tree"},
	fProcExits:            {"proc_exits", UnitCount, "exits in the VMM process tree"},
	fFatalSignals:         {"fatal_signals", UnitCount, "fatal signals delivered in the VMM process tree"},
	fHostFaultRate:        {"host_fault_rate", UnitRate, "page faults of the VMM process on the host"},
	fSensorLost:           {"sensor_lost_events", UnitCount, "trace records the kernel dropped while this VM ran (reported by the live collector): a flood that overruns the sensor is itself evidence"},
}

// Names returns the feature names in Catalog order.
func Names() []string {
	out := make([]string, len(Catalog))
	for i, s := range Catalog {
		out[i] = s.Name
	}
	return out
}

// SchemaHash identifies the catalog: the first 16 hex characters of the
// SHA-256 of every name and unit in order. Models record it and refuse rows
// whose hash differs.
func SchemaHash() string {
	h := sha256.New()
	for _, s := range Catalog {
		h.Write([]byte(s.Name))
		h.Write([]byte{0})
		h.Write([]byte(s.Unit))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Index returns the position of the feature called name in Row.Values, or
// -1 if the catalog has no such feature.
func Index(name string) int {
	for i, s := range Catalog {
		if s.Name == name {
			return i
		}
	}
	return -1
}

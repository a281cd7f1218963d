package vmbase

import (
	"slices"
	"strings"
)

// Ignored marks a feature the detector does not score (totals and shares
// that move with every regime change and name no primitive).
const Ignored uint8 = 255

// MaxGroups is the number of primitive groups.
const MaxGroups = 8

// Primitive groups.
const (
	GroupDevice     uint8 = iota // port I/O, MMIO, legacy devices
	GroupEmulation               // KVM's instruction emulator
	GroupPrivileged              // MSR, CPUID, CR/DR, exceptions
	GroupHypercall               // hypercalls
	GroupMemory                  // guest and host page faults
	GroupVMM                     // VMM system calls and processes
	GroupOther                   // any other feature
)

// ignoredNames are features that are totals or shares.
var ignoredNames = []string{
	"exits_total", "exit_hlt_rate", "exit_interrupt_rate", "exit_other_rate",
	"syscall_rate", "io_write_share", "sensor_lost_events",
}

// groupRules are tried in order; the first rule with a token of the name
// (split on _) wins.
var groupRules = []struct {
	tokens []string
	group  uint8
}{
	{[]string{"emulation"}, GroupEmulation},
	{[]string{"floppy", "pci", "cfg", "mmio", "io", "ports"}, GroupDevice},
	{[]string{"msr", "cpuid", "crdr", "exception"}, GroupPrivileged},
	{[]string{"hypercall"}, GroupHypercall},
	{[]string{"fault", "regions", "page"}, GroupMemory},
	{[]string{"syscall", "proc", "fatal"}, GroupVMM},
}

// Groups maps feature names to primitive groups (Ignored for totals and
// shares).
func Groups(names []string) []uint8 {
	out := make([]uint8, len(names))
	for i, n := range names {
		out[i] = groupOf(n)
	}
	return out
}

func groupOf(name string) uint8 {
	if slices.Contains(ignoredNames, name) {
		return Ignored
	}
	toks := strings.Split(strings.ToLower(name), "_")
	for _, r := range groupRules {
		for _, t := range toks {
			if slices.Contains(r.tokens, t) {
				return r.group
			}
		}
	}
	return GroupOther
}

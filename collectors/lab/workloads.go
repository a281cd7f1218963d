package lab

import (
	"fmt"
	"sort"
	"strings"

	"github.com/escapement/escapement/collectors/sim"
)

// Rates a Spec may ask for. Benign workloads run at their own randomised
// pace with RateNatural; at RateFlood or RateStealthy a benign workload is a
// placebo: the timing of an attack with a benign payload.
const (
	RateNatural  = ""
	RateFlood    = sim.Flood
	RateStealthy = sim.Stealthy
)

// TechniqueT1611 is MITRE ATT&CK Escape to Host, the technique every
// attack workload maps to.
const TechniqueT1611 = "T1611"

// Workload is one guest behaviour the lab can run.
type Workload struct {
	Name      string // Spec.Workload and the scenario name in labels
	Payload   string // guest payload (package guest)
	Benign    bool
	Class     string                        // threat class (the simulator's classes); "" for benign
	Technique string                        // ATT&CK technique; "" for benign
	Imitates  string                        // one line: what it stands for
	natural   func(u func() float64) timing // u draws uniformly from [0, 1]
}

// timing is how a payload is paced: the VMM wakes the halted vCPU hz times
// a second (±jitter) and each wake runs burst ops (1..burst when random).
type timing struct {
	hz     float64
	burst  uint16
	random bool
	jitter float64
	arg    uint16
}

func uni(u func() float64, lo, hi float64) float64 { return lo + u()*(hi-lo) }

// Attack timings: a flood is ~1700 ops/s on average, stealthy ~1 op/s.
var (
	floodTiming    = timing{hz: 200, burst: 16, random: true, jitter: 0.2}
	stealthyTiming = timing{hz: 1, burst: 1, jitter: 0.5}
	// Post-exploitation ops are whole host-side action sets (a fork and exec
	// each): flood at 10/s, stealthy one every 10 s.
	postFloodTiming    = timing{hz: 10, burst: 1, jitter: 0.2}
	postStealthyTiming = timing{hz: 0.1, burst: 1, jitter: 0.3}
)

// Workload names.
const (
	WIdle        = "idle"
	WConsole     = "console"
	WDisk        = "disk-io"
	WNet         = "net-mmio"
	WCompute     = "compute"
	WBootProbe   = "boot-probe"
	WVenom       = "venom-floppy-fifo"
	WPCIScan     = "pci-config-scan"
	WMMIOProbe   = "mmio-gpa-probe"
	WMSRSweep    = "msr-sweep"
	WCPUIDSweep  = "cpuid-leaf-sweep"
	WHypercall   = "hypercall-fuzzing"
	WFaultStorm  = "memory-fault-storm"
	WPostExploit = "vmm-shell-and-exfiltration"
)

var workloads = []Workload{
	{Name: WIdle, Payload: "idle", Benign: true, Imitates: "an idle guest: timer ticks at 100 Hz, a clocksource read per tick",
		natural: func(u func() float64) timing { return timing{hz: 100, burst: 1, jitter: 0.05} }},
	{Name: WConsole, Payload: "console", Benign: true, Imitates: "a service logging to a serial console with a polled UART driver",
		natural: func(u func() float64) timing { return timing{hz: uni(u, 2, 10), burst: 2, random: true, jitter: 0.5} }},
	{Name: WDisk, Payload: "disk", Benign: true, Imitates: "PIO disk I/O bursts on a legacy ATA channel",
		natural: func(u func() float64) timing { return timing{hz: uni(u, 10, 40), burst: 4, random: true, jitter: 0.5} }},
	{Name: WNet, Payload: "net", Benign: true, Imitates: "a virtio-net driver: queue notifications and interrupt acknowledgements over MMIO",
		natural: func(u func() float64) timing { return timing{hz: uni(u, 50, 200), burst: 8, random: true, jitter: 0.3} }},
	{Name: WCompute, Payload: "compute", Benign: true, Imitates: "CPU-bound work with periodic console output and disk status reads",
		natural: func(u func() float64) timing {
			return timing{hz: uni(u, 5, 20), burst: 1, jitter: 0.2, arg: uint16(32 + min(int(u()*96), 95))}
		}},
	{Name: WBootProbe, Payload: "bootprobe", Benign: true, Imitates: "firmware and kernel boot probing: PCI bus 0 scan, CPUID hypervisor leaves, MSR reads, floppy and UART probes",
		natural: func(u func() float64) timing { return timing{hz: uni(u, 2, 8), burst: 5, random: true, jitter: 0.3} }},

	{Name: WVenom, Payload: "venom", Class: sim.ClassDeviceFuzzing, Technique: TechniqueT1611,
		Imitates: "CVE-2015-3456 (VENOM): floppy FIFO overflow through DRIVE SPECIFICATION parameter bytes"},
	{Name: WPCIScan, Payload: "pciscan", Class: sim.ClassPCIProbing, Technique: TechniqueT1611,
		Imitates: "PCI configuration space scan of every bus, function and register, with write-backs"},
	{Name: WMMIOProbe, Payload: "mmioprobe", Class: sim.ClassPCIProbing, Technique: TechniqueT1611,
		Imitates: "probing unassigned guest-physical addresses for hidden device MMIO"},
	{Name: WMSRSweep, Payload: "msrprobe", Class: sim.ClassMSRProbing, Technique: TechniqueT1611,
		Imitates: "RDMSR/WRMSR sweep across architectural, AMD64, hypervisor and random indices"},
	{Name: WCPUIDSweep, Payload: "cpuidprobe", Class: sim.ClassCPUIDProbing, Technique: TechniqueT1611,
		Imitates: "CPUID fingerprinting of hypervisor, extended and basic leaves"},
	{Name: WHypercall, Payload: "hypercall", Class: sim.ClassHypercall, Technique: TechniqueT1611,
		Imitates: "hypercall fuzzing: VMMCALL with random numbers (a #UD in real mode here) and the I/O-port backdoor hypercall with random commands"},
	{Name: WFaultStorm, Payload: "faultstorm", Class: sim.ClassFaultStorm, Technique: TechniqueT1611,
		Imitates: "memory fault storm: writes to read-only and unbacked guest-physical pages"},
	{Name: WPostExploit, Payload: "postexploit", Class: sim.ClassPostEscape, Technique: TechniqueT1611,
		Imitates: "post-exploitation in a compromised VMM: shell fork/exec, sensitive file open, loopback connect, RWX mprotect"},
}

// Workloads returns the catalogue: benign workloads first, then attacks.
func Workloads() []Workload { return append([]Workload(nil), workloads...) }

// Lookup returns the workload called name.
func Lookup(name string) (Workload, error) {
	for _, w := range workloads {
		if w.Name == name {
			return w, nil
		}
	}
	names := make([]string, len(workloads))
	for i, w := range workloads {
		names[i] = w.Name
	}
	sort.Strings(names)
	return Workload{}, fmt.Errorf("lab: unknown workload %q: use one of %s", name, strings.Join(names, ", "))
}

// timingFor returns the pacing of w at rate; u draws the natural intensity
// of benign workloads (uniform on [0, 1], or a fixed level).
func (w Workload) timingFor(rate string, u func() float64) (timing, error) {
	switch rate {
	case RateNatural:
		if w.Benign {
			return w.natural(u), nil
		}
		fallthrough // an attack at its natural rate is a flood
	case RateFlood:
		if w.Name == WPostExploit {
			return postFloodTiming, nil
		}
		t := floodTiming
		if w.Benign { // a placebo keeps the workload's own argument
			t.arg = w.natural(u).arg
		}
		return t, nil
	case RateStealthy:
		if w.Name == WPostExploit {
			return postStealthyTiming, nil
		}
		t := stealthyTiming
		if w.Benign {
			t.arg = w.natural(u).arg
		}
		return t, nil
	}
	return timing{}, fmt.Errorf("lab: unknown rate %q: use %q, %q or empty for the workload's natural rate", rate, RateFlood, RateStealthy)
}

// Intensity is the label intensity of w at rate: flood or stealthy for
// attacks, placebo for a benign workload at an attack's rate, "" for a
// benign workload at its natural rate.
func (w Workload) Intensity(rate string) string {
	switch {
	case !w.Benign && rate == RateNatural:
		return sim.Flood
	case !w.Benign:
		return rate
	case rate != RateNatural:
		return sim.Placebo
	}
	return ""
}

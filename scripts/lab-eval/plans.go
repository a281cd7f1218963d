package main

import (
	"fmt"
	"time"

	"github.com/escapement/escapement/collectors/lab"
)

// planConfig is what the two plans are made from.
type planConfig struct {
	Seed           uint64
	TrainDuration  time.Duration
	DetectDuration time.Duration
	// Quiet is how long every VM of the detection run stays benign before
	// the first attack: the model's grace plus the per-VM baseline's
	// warm-up, with a margin, so that every detector is judging.
	Quiet    time.Duration
	Stealthy time.Duration // length of each stealthy window
	Flood    time.Duration // length of each flood window
	NoQEMU   bool
}

// attacker is one lab VM of the detection run: a benign base workload, one
// stealthy attempt and, later, a flood of another primitive (so that the
// per-VM baseline has not learnt the flood's primitive from the stealthy
// window).
type attacker struct {
	base, stealthy, flood string
}

// attackers cover every lab escape technique at both rates, each on a base
// workload the training plan holds.
var attackers = []attacker{
	{lab.WIdle, lab.WMSRSweep, lab.WVenom},
	{lab.WConsole, lab.WCPUIDSweep, lab.WMSRSweep},
	{lab.WDisk, lab.WMMIOProbe, lab.WPCIScan},
	{lab.WNet, lab.WPCIScan, lab.WHypercall},
	{lab.WIdle, lab.WHypercall, lab.WPostExploit},
	{lab.WConsole, lab.WPostExploit, lab.WCPUIDSweep},
	{lab.WNet, lab.WFaultStorm, lab.WMMIOProbe},
	{lab.WDisk, lab.WVenom, lab.WFaultStorm},
}

// trainedLab are the lab workloads the training plan runs, each on two VMs
// at both ends of its natural range (plan field level), so that a detection
// VM's random draw stays inside what training saw.
var trainedLab = []string{lab.WIdle, lab.WConsole, lab.WDisk, lab.WNet}

func level(v float64) *float64 { return &v }

// trainPlan is the benign training recording: two VMs of each trained lab
// workload (levels 0 and 1) and of both QEMU workloads.
func trainPlan(c planConfig) (lab.Plan, error) {
	p := lab.Plan{Seed: c.Seed, Duration: lab.Duration(c.TrainDuration)}
	for i := range 2 {
		for _, w := range trainedLab {
			p.VMs = append(p.VMs, lab.PlanVM{Name: fmt.Sprintf("train-%s-%d", w, i), Workload: w, Level: level(float64(i))})
		}
		if !c.NoQEMU {
			for _, w := range []string{lab.QEMUFirmware, lab.QEMUConsolePIT} {
				p.VMs = append(p.VMs, lab.PlanVM{Name: fmt.Sprintf("train-qemu-%s-%d", w, i), VMM: lab.VMMQEMU, Workload: w})
			}
		}
	}
	return p, p.Validate()
}

// detectPlan is the detection recording: one benign VM of each trained
// workload, a compute VM (a workload training never saw), benign QEMU VMs,
// the attackers (stealthy attempts from Quiet on, floods in the last part
// of the run, starts staggered by a second) and a QEMU guest whose boot
// sector floods the PCI configuration space.
func detectPlan(c planConfig) (lab.Plan, error) {
	p := lab.Plan{Seed: c.Seed + 1, Duration: lab.Duration(c.DetectDuration)}
	for _, w := range append(append([]string{}, trainedLab...), lab.WCompute) {
		p.VMs = append(p.VMs, lab.PlanVM{Name: "benign-" + w, Workload: w})
	}
	if !c.NoQEMU {
		for _, w := range []string{lab.QEMUFirmware, lab.QEMUConsolePIT} {
			p.VMs = append(p.VMs, lab.PlanVM{Name: "benign-qemu-" + w, VMM: lab.VMMQEMU, Workload: w})
		}
	}
	stagger := time.Second
	n := time.Duration(len(attackers))
	// Floods start after every stealthy window has ended and its
	// incident (if any) has had time to resolve.
	floodStart := c.Quiet + n*stagger + c.Stealthy + 10*time.Second
	if need := floodStart + n*stagger + c.Flood + 5*time.Second; need > c.DetectDuration {
		return lab.Plan{}, fmt.Errorf("detection run of %v is too short: quiet %v, stealthy %v and flood %v windows for %d attackers need at least %v (raise --detect-duration or lower --vmbase-warmup)",
			c.DetectDuration, c.Quiet, c.Stealthy, c.Flood, len(attackers), need)
	}
	for i, a := range attackers {
		k := time.Duration(i)
		p.VMs = append(p.VMs, lab.PlanVM{
			Name:     fmt.Sprintf("attack-%d-%s-%s", i, a.stealthy, a.flood),
			Workload: a.base,
			Windows: []lab.Window{
				{Workload: a.stealthy, Rate: lab.RateStealthy, Start: lab.Duration(c.Quiet + k*stagger), Duration: lab.Duration(c.Stealthy)},
				{Workload: a.flood, Rate: lab.RateFlood, Start: lab.Duration(floodStart + k*stagger), Duration: lab.Duration(c.Flood)},
			},
		})
	}
	if !c.NoQEMU {
		// A QEMU window is timed from QEMU's start and begins once the
		// boot sector runs; only floods of the PCI scan exist there.
		p.VMs = append(p.VMs, lab.PlanVM{Name: "attack-qemu-pci-config-scan", VMM: lab.VMMQEMU, Workload: lab.QEMUConsolePIT,
			Windows: []lab.Window{{Workload: lab.WPCIScan, Rate: lab.RateFlood, Start: lab.Duration(floodStart + n*stagger), Duration: lab.Duration(c.Flood)}}})
	}
	return p, p.Validate()
}

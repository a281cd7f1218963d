package sim

import (
	"math/rand/v2"
	"time"

	"github.com/escapement/escapement/events"
)

// srcRate is one steady activity of a profile: occurrences per second at
// load 1 (before the per-VM multiplier).
type srcRate struct {
	g      gen
	rate   float64
	scaled bool
}

// profile is a benign workload.
type profile struct {
	name       string
	weight     float64 // share of the fleet
	diurnal    float64 // amplitude of the daily cycle in log load
	volatility float64 // per-second noise of log load
	restartVMM bool    // each reboot restarts the VMM (fork/exec of the ifup script)
	bootFirst  bool    // the VM is booting when the run starts
	// rebootAfter draws the time to the next reboot.
	rebootAfter func(r *rand.Rand) int64
	// job, when set, runs a periodic job at t and returns the time to the next.
	job   func(v *vm, t int64) int64
	rates []srcRate
}

func rareReboots(r *rand.Rand) int64 {
	return int64(time.Minute) + int64(r.ExpFloat64()*float64(12*time.Hour))
}

func uniformDur(r *rand.Rand, lo, hi time.Duration) int64 {
	return int64(lo) + r.Int64N(int64(hi-lo))
}

// bootRates are the activities of the boot phase, on top of the scripted
// probing (PCI scan, CPUID, MSRs, floppy, TPM window).
var bootRates = []srcRate{
	{genEmulation, 600, false}, {genBootFault, 1500, false}, {genHostFault, 300, false},
	{genLegacyTimer, 60, false}, {genSerial, 120, false}, {genRTC, 3, false},
	{genTimer, 40, false}, {genHLT, 20, false},
}

// genBootFault: guest memory being touched for the first time as the kernel
// and init load (many writes, code fetches).
func genBootFault(v *vm, t int64) {
	gpa := v.rng.Uint64N(v.ram) &^ 0xFFF
	ec := uint64(events.PFWrite)
	if r := v.rng.IntN(100); r < 15 {
		ec = events.PFFetch
	} else if r < 35 {
		ec = 0
	}
	v.guest(t, v.vcpu(), events.KindPageFault, gpa, ec, 0xFFFFFFFF80000000+gpa, 0, 0)
}

// Profile names, in the order of profiles.
const (
	ProfileIdle      = "idle"
	ProfileWeb       = "web"
	ProfileDatabase  = "database"
	ProfileBatch     = "batch"
	ProfileReboot    = "reboot-cycling"
	ProfileInventory = "inventory"
)

var profiles = []*profile{
	{
		name: ProfileIdle, weight: 0.25, volatility: 0.05, rebootAfter: rareReboots,
		rates: []srcRate{
			{genTimer, 60, true}, {genHLT, 100, false}, {genIPI, 10, true}, {genYield, 1, true},
			{genSerial, 0.5, false}, {genRTC, 0.05, false}, {genLegacyTimer, 0.5, false},
			{genDisk, 2, true}, {genFsync, 0.1, true}, {genNet, 3, true}, {genMainLoop, 30, true},
			{genMonitor, 0.1, false}, {genVMMHousekeeping, 0.05, false}, {genWorkerThread, 0.002, false},
			{genPageFault, 3, true}, {genHostFault, 2, true}, {genEmulation, 1, false},
			{genCPUIDRuntime, 0.05, true}, {genException, 0.01, false}, {genClockRead, 1, false},
		},
	},
	{
		name: ProfileWeb, weight: 0.25, diurnal: 0.5, volatility: 0.12, rebootAfter: rareReboots,
		rates: []srcRate{
			{genTimer, 110, true}, {genHLT, 120, false}, {genIPI, 35, true}, {genYield, 5, true},
			{genSerial, 1, false}, {genRTC, 0.05, false}, {genLegacyTimer, 0.5, false},
			{genDisk, 20, true}, {genFsync, 1, true}, {genNet, 140, true}, {genMainLoop, 80, true},
			{genMonitor, 0.1, false}, {genVMMHousekeeping, 0.2, true}, {genWorkerThread, 0.005, true},
			{genPageFault, 15, true}, {genHostFault, 5, true}, {genEmulation, 2, false},
			{genCPUIDRuntime, 0.5, true}, {genException, 0.05, true}, {genClockRead, 5, true},
		},
	},
	{
		name: ProfileDatabase, weight: 0.15, diurnal: 0.3, volatility: 0.08, rebootAfter: rareReboots,
		rates: []srcRate{
			{genTimer, 110, true}, {genHLT, 90, false}, {genIPI, 45, true}, {genYield, 10, true},
			{genSerial, 0.3, false}, {genRTC, 0.05, false}, {genLegacyTimer, 0.5, false},
			{genDisk, 50, true}, {genFsync, 12, true}, {genNet, 60, true}, {genMainLoop, 60, true},
			{genMonitor, 0.1, false}, {genVMMHousekeeping, 0.3, true}, {genWorkerThread, 0.01, true},
			{genPageFault, 25, true}, {genWriteFault, 20, true}, {genHostFault, 8, true},
			{genEmulation, 1, false}, {genCPUIDRuntime, 0.3, true}, {genException, 0.02, false},
			{genClockRead, 10, true},
		},
	},
	{
		name: ProfileBatch, weight: 0.15, volatility: 0.1, rebootAfter: rareReboots,
		job: func(v *vm, t int64) int64 {
			v.jobOn = !v.jobOn
			if v.jobOn {
				return uniformDur(v.rng, 5*time.Minute, 30*time.Minute)
			}
			return uniformDur(v.rng, 5*time.Minute, 60*time.Minute)
		},
		rates: []srcRate{
			{genTimer, 60, true}, {genHLT, 60, false}, {genIPI, 25, true}, {genYield, 20, true},
			{genSerial, 0.5, false}, {genRTC, 0.05, false}, {genLegacyTimer, 0.5, false},
			{genDisk, 20, true}, {genFsync, 0.5, true}, {genNet, 10, true}, {genMainLoop, 30, true},
			{genMonitor, 0.1, false}, {genVMMHousekeeping, 0.2, true}, {genWorkerThread, 0.005, true},
			{genPageFault, 25, true}, {genWriteFault, 40, true}, {genHostFault, 20, true},
			{genEmulation, 1, false}, {genCPUIDRuntime, 1, true}, {genException, 0.05, true},
			{genPMC, 20, true}, {genClockRead, 5, true},
		},
	},
	{
		name: ProfileReboot, weight: 0.08, volatility: 0.05, restartVMM: true, bootFirst: true,
		rebootAfter: func(r *rand.Rand) int64 { return uniformDur(r, time.Minute, 7*time.Minute) },
		rates: []srcRate{
			{genTimer, 60, true}, {genHLT, 100, false}, {genIPI, 8, true}, {genYield, 1, true},
			{genSerial, 3, false}, {genRTC, 0.2, false}, {genLegacyTimer, 1, false},
			{genDisk, 5, true}, {genFsync, 0.2, true}, {genNet, 3, true}, {genMainLoop, 40, true},
			{genMonitor, 0.2, false}, {genVMMHousekeeping, 0.1, false}, {genWorkerThread, 0.005, false},
			{genPageFault, 8, true}, {genHostFault, 4, true}, {genEmulation, 2, false},
			{genCPUIDRuntime, 0.1, true}, {genException, 0.02, false}, {genClockRead, 1, false},
		},
	},
	{
		name: ProfileInventory, weight: 0.12, volatility: 0.05, rebootAfter: rareReboots,
		job: func(v *vm, t int64) int64 {
			if t > v.bootUntil { // the agent starts after boot
				v.inventoryScan(t)
			}
			return uniformDur(v.rng, 2*time.Minute, 15*time.Minute)
		},
		rates: []srcRate{
			{genTimer, 60, true}, {genHLT, 100, false}, {genIPI, 10, true}, {genYield, 1, true},
			{genSerial, 0.5, false}, {genRTC, 0.05, false}, {genLegacyTimer, 0.5, false},
			{genDisk, 4, true}, {genFsync, 0.2, true}, {genNet, 6, true}, {genMainLoop, 40, true},
			{genMonitor, 0.1, false}, {genVMMHousekeeping, 0.05, false}, {genWorkerThread, 0.002, false},
			{genPageFault, 3, true}, {genHostFault, 2, true}, {genEmulation, 1, false},
			{genCPUIDRuntime, 0.2, true}, {genException, 0.01, false}, {genPMC, 2, true},
			{genClockRead, 1, false},
		},
	},
}

// Profiles returns the names of the benign profiles.
func Profiles() []string {
	out := make([]string, len(profiles))
	for i, p := range profiles {
		out[i] = p.name
	}
	return out
}

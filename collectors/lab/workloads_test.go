package lab

import (
	"context"
	"testing"
	"time"

	"github.com/escapement/escapement/collectors/lab/vmm"
	"github.com/escapement/escapement/collectors/sim"
	"github.com/stretchr/testify/require"
)

func needKVM(t *testing.T) {
	t.Helper()
	if err := vmm.Available(); err != nil {
		t.Skipf("needs /dev/kvm read-write (root on a KVM host): %v", err)
	}
}

func TestCatalogue(t *testing.T) {
	var benign, attacks int
	classes := map[string]bool{}
	for _, w := range Workloads() {
		_, _, err := prepare(Phase{Workload: w.Name, Seed: 1})
		require.NoError(t, err, w.Name)
		require.NotEmpty(t, w.Imitates)
		if w.Benign {
			benign++
			require.Empty(t, w.Class)
			continue
		}
		attacks++
		require.Equal(t, TechniqueT1611, w.Technique)
		require.NotEmpty(t, w.Class)
		classes[w.Class] = true
		for _, r := range []string{RateFlood, RateStealthy} {
			tf, err := w.timingFor(r, nil)
			require.NoError(t, err)
			require.Positive(t, tf.hz)
		}
	}
	require.GreaterOrEqual(t, benign, 5)
	require.GreaterOrEqual(t, attacks, 7)
	require.GreaterOrEqual(t, len(classes), 6)
	_, err := Lookup("nope")
	require.ErrorContains(t, err, "use one of")
	w, _ := Lookup(WDisk)
	_, err = w.timingFor("medium", nil)
	require.ErrorContains(t, err, "unknown rate")
}

func TestIntensity(t *testing.T) {
	venom, _ := Lookup(WVenom)
	disk, _ := Lookup(WDisk)
	require.Equal(t, sim.Flood, venom.Intensity(RateNatural))
	require.Equal(t, sim.Stealthy, venom.Intensity(RateStealthy))
	require.Equal(t, sim.Placebo, disk.Intensity(RateFlood))
	require.Equal(t, "", disk.Intensity(RateNatural))
}

func TestPrepareIsSeeded(t *testing.T) {
	_, a, err := prepare(Phase{Workload: WNet, Seed: 3})
	require.NoError(t, err)
	_, b, _ := prepare(Phase{Workload: WNet, Seed: 3})
	_, c, _ := prepare(Phase{Workload: WNet, Seed: 4})
	require.Equal(t, a, b)
	require.NotEqual(t, a.timing.hz, c.timing.hz)
	require.Equal(t, "ELAB", string(a.params[:4]))
}

// check inspects one phase of a workload run on real KVM. d is the run's
// length in seconds.
type check func(t *testing.T, p PhaseResult, d float64)

func atLeast(t *testing.T, what string, got uint64, min float64) {
	t.Helper()
	require.GreaterOrEqual(t, float64(got), min, "%s: got %d", what, got)
}

// TestWorkloadsOnKVM runs every workload for a moment in its own VMM
// process and checks the VMM's device-model counters and the payload's
// own report for the exits each one is meant to cause.
func TestWorkloadsOnKVM(t *testing.T) {
	needKVM(t)
	const d = 0.8
	ops := func(p PhaseResult) uint64 { return uint64(p.Guest[0].Ops) }
	floodOps := 400 * d // the flood averages ~1700 ops/s; allow a busy host
	tests := []struct {
		workload, rate string
		check          check
	}{
		{WIdle, "", func(t *testing.T, p PhaseResult, d float64) {
			require.InDelta(t, 100*d, float64(p.Counters.HLT), 40*d)
			require.Equal(t, 2*p.Counters.HLT, p.Counters.PITReads)
		}},
		{WConsole, "", func(t *testing.T, p PhaseResult, d float64) {
			atLeast(t, "serial bytes", p.Counters.SerialBytes, 36)
			require.Equal(t, p.Counters.SerialBytes, p.Counters.SerialOther, "one LSR poll per byte")
			require.Contains(t, p.Serial, "service heartbeat")
		}},
		{WDisk, "", func(t *testing.T, p PhaseResult, d float64) {
			atLeast(t, "ide commands", p.Counters.IDECommands, 3)
			atLeast(t, "sectors", p.Counters.IDESectorsRead+p.Counters.IDESectorsWritten, float64(p.Counters.IDECommands))
		}},
		{WNet, "", func(t *testing.T, p PhaseResult, d float64) {
			atLeast(t, "notifies", p.Counters.VirtioNotifies, 20)
			require.Equal(t, ops(p), p.Counters.VirtioNotifies)
			require.Zero(t, p.Counters.UnassignedReads)
		}},
		{WCompute, "", func(t *testing.T, p PhaseResult, d float64) {
			atLeast(t, "ops", ops(p), 3)
			require.Equal(t, ops(p), p.Counters.SerialBytes)
			require.Equal(t, ops(p), p.Counters.IDERegAccesses)
		}},
		{WBootProbe, "", func(t *testing.T, p PhaseResult, d float64) {
			atLeast(t, "pci reads", p.Counters.PCIDataReads, 32)
			require.LessOrEqual(t, p.Counters.PCIDistinctBDFs, uint64(32), "boot scans bus 0 only")
			require.Zero(t, p.Guest[0].GP, "boot reads only MSRs that exist")
		}},
		{WDisk, RateFlood, func(t *testing.T, p PhaseResult, d float64) { // placebo
			require.Equal(t, sim.Placebo, p.Intensity)
			atLeast(t, "ide commands", p.Counters.IDECommands, floodOps/2)
		}},
		{WVenom, RateFlood, func(t *testing.T, p PhaseResult, d float64) {
			atLeast(t, "fifo writes", p.Counters.FDCFifoWrites, floodOps*0.8)
			atLeast(t, "overflow attempts", p.Counters.FDCOverflows, 1)
		}},
		{WVenom, RateStealthy, stealthy(func(p PhaseResult) uint64 { return p.Counters.FDCFifoWrites + p.Counters.FDCOtherAccess })},
		{WPCIScan, RateFlood, func(t *testing.T, p PhaseResult, d float64) {
			atLeast(t, "distinct functions", p.Counters.PCIDistinctBDFs, floodOps*0.9)
			atLeast(t, "config writes", p.Counters.PCIDataWrites, floodOps/20)
		}},
		{WPCIScan, RateStealthy, stealthy(func(p PhaseResult) uint64 { return p.Counters.PCIDataReads })},
		{WMMIOProbe, RateFlood, func(t *testing.T, p PhaseResult, d float64) {
			atLeast(t, "unassigned reads", p.Counters.UnassignedReads, floodOps*0.7)
			atLeast(t, "pages", p.Counters.UnassignedPages, 40)
		}},
		{WMMIOProbe, RateStealthy, stealthy(func(p PhaseResult) uint64 { return p.Counters.UnassignedReads + p.Counters.UnassignedWrites })},
		{WMSRSweep, RateFlood, func(t *testing.T, p PhaseResult, d float64) {
			atLeast(t, "#GP", uint64(p.Guest[0].GP), floodOps*0.8)
			require.Zero(t, p.Counters.UnknownPortReads+p.Counters.UnknownPortWrites, "MSR accesses never reach the VMM")
		}},
		{WMSRSweep, RateStealthy, stealthy(func(p PhaseResult) uint64 { return uint64(p.Guest[0].Ops) })},
		{WCPUIDSweep, RateFlood, func(t *testing.T, p PhaseResult, d float64) {
			atLeast(t, "ops", ops(p), floodOps)
			require.Zero(t, p.Guest[0].GP+p.Guest[0].UD)
		}},
		{WCPUIDSweep, RateStealthy, stealthy(func(p PhaseResult) uint64 { return uint64(p.Guest[0].Ops) })},
		{WHypercall, RateFlood, func(t *testing.T, p PhaseResult, d float64) {
			atLeast(t, "#UD of VMMCALL", uint64(p.Guest[0].UD), floodOps/4)
			atLeast(t, "backdoor calls", p.Counters.BackdoorCalls, floodOps/4)
		}},
		{WHypercall, RateStealthy, stealthy(func(p PhaseResult) uint64 { return uint64(p.Guest[0].Ops) })},
		{WFaultStorm, RateFlood, func(t *testing.T, p PhaseResult, d float64) {
			atLeast(t, "rom writes", p.Counters.ROMWrites, floodOps/5)
			atLeast(t, "unassigned writes", p.Counters.UnassignedWrites, floodOps/3)
			require.True(t, p.Counters.ReadOnlyROMMapped)
		}},
		{WFaultStorm, RateStealthy, stealthy(func(p PhaseResult) uint64 { return p.Counters.ROMWrites + p.Counters.UnassignedWrites })},
		{WPostExploit, RateFlood, func(t *testing.T, p PhaseResult, d float64) {
			atLeast(t, "triggers", p.Post.Triggers, 10*d*0.5)
			require.Equal(t, p.Post.Triggers, p.Counters.Triggers)
			require.Equal(t, p.Post.Triggers, p.Post.ShellRuns, "every /bin/sh -c true exited 0: %s", p.Post.LastError)
			require.Equal(t, p.Post.Triggers, p.Post.Opens)
			require.Equal(t, p.Post.Triggers, p.Post.Connects)
			require.Equal(t, p.Post.Triggers, p.Post.Mprotects)
		}},
		{WPostExploit, RateStealthy, func(t *testing.T, p PhaseResult, d float64) {
			require.Equal(t, uint64(1), p.Post.Triggers, "one trigger every 10 s: the first at once")
			require.Equal(t, uint64(1), p.Post.ShellRuns)
		}},
	}
	for i, tc := range tests {
		t.Run(tc.workload+"/"+tc.rate, func(t *testing.T) {
			res, err := Run(context.Background(), Spec{Name: "lab-test-" + tc.workload, Workload: tc.workload, Rate: tc.rate,
				Duration: time.Duration(d * float64(time.Second)), Seed: uint64(i + 1)})
			require.NoError(t, err)
			require.Len(t, res.Phases, 1)
			require.NotZero(t, res.PID)
			p := res.Phases[0]
			require.Equal(t, uint64(1), p.Counters.ControlWrites-p.Counters.Triggers, "the payload reports ready once")
			tc.check(t, p, d)
		})
	}
}

// stealthy checks that a stealthy run did its technique, but only a few
// times: about one op per second.
func stealthy(n func(PhaseResult) uint64) check {
	return func(t *testing.T, p PhaseResult, d float64) {
		require.Equal(t, sim.Stealthy, p.Intensity)
		ops := p.Guest[0].Ops
		require.GreaterOrEqual(t, ops, uint32(1))
		require.LessOrEqual(t, ops, uint32(4))
		require.GreaterOrEqual(t, n(p), uint64(1))
	}
}

// A pinned level gives the ends of a benign workload's natural range, and
// the same pacing whatever the seed.
func TestLevelPinsNaturalIntensity(t *testing.T) {
	disk, err := Lookup(WDisk)
	require.NoError(t, err)
	at := func(level float64) timing {
		tm, err := disk.timingFor(RateNatural, func() float64 { return level })
		require.NoError(t, err)
		return tm
	}
	require.InDelta(t, 10, at(0).hz, 1e-9)
	require.InDelta(t, 40, at(1).hz, 1e-9)
	for _, seed := range []uint64{1, 2, 3} {
		level := 0.5
		_, b, err := prepare(Phase{Workload: WDisk, Seed: seed, Level: &level})
		require.NoError(t, err)
		_, b0, err := prepare(Phase{Workload: WDisk, Seed: 7, Level: &level})
		require.NoError(t, err)
		require.Equal(t, b0.timing, b.timing)
	}
}

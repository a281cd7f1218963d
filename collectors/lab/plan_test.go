package lab

import (
	"context"
	"testing"
	"time"

	"github.com/escapement/escapement/collectors/sim"
	"github.com/stretchr/testify/require"
)

const testPlan = `
seed: 42
duration: 3s
vms:
  - name: vm-a
    workload: net-mmio
    windows:
      - {workload: venom-floppy-fifo, rate: flood, start: 1s, duration: 1s}
  - name: vm-b
    workload: idle
    windows:
      - {workload: disk-io, rate: flood, start: 1500ms, duration: 1s}
      - {workload: msr-sweep, rate: stealthy, start: 0.2, duration: 1}
`

func TestParsePlan(t *testing.T) {
	p, err := ParsePlan([]byte(testPlan))
	require.NoError(t, err)
	require.Equal(t, Duration(3*time.Second), p.Duration)
	require.Equal(t, Duration(200*time.Millisecond), p.VMs[1].Windows[1].Start)

	var ids int
	slots := p.schedule(1, &ids)
	var got []string
	var total time.Duration
	for _, s := range slots {
		got = append(got, s.phase.Workload+"/"+s.phase.Rate)
		total += s.phase.Duration
	}
	require.Equal(t, []string{"idle/", "msr-sweep/stealthy", "idle/", "disk-io/flood", "idle/"}, got)
	require.Equal(t, 3*time.Second, total)
	require.Equal(t, 2, ids)
	require.Equal(t, &sim.Scenario{ID: "s000", Name: WMSRSweep, Class: sim.ClassMSRProbing, Intensity: sim.Stealthy, VMID: "vm-b"}, slots[1].label)
	require.Equal(t, &sim.Scenario{ID: "p001", Name: WDisk, Class: sim.ClassPlacebo, Intensity: sim.Placebo, VMID: "vm-b", Placebo: true}, slots[3].label)

	// The same plan as JSON.
	j, err := ParsePlan([]byte(`{"seed": 42, "duration": "3s", "vms": [{"name": "x", "workload": "idle"}]}`))
	require.NoError(t, err)
	require.Equal(t, "idle", j.VMs[0].Workload)
}

func TestPlanErrorsSayWhatToDo(t *testing.T) {
	tests := []struct{ name, plan, want string }{
		{"no duration", "vms: [{name: a, workload: idle}]", "duration must be positive"},
		{"no vms", "duration: 1s", "list at least one"},
		{"bad name", "duration: 1s\nvms: [{name: 'a b', workload: idle}]", "invalid or repeated"},
		{"repeated name", "duration: 1s\nvms: [{name: a, workload: idle}, {name: a, workload: idle}]", "invalid or repeated"},
		{"level above 1", "duration: 1s\nvms: [{name: a, workload: disk-io, level: 1.5}]", "from 0 (lowest) to 1 (highest)"},
		{"level on qemu", "duration: 1s\nvms: [{name: a, vmm: qemu, workload: firmware, level: 0}]", "QEMU guests run at their own pace"},
		{"settle on a lab vm", "duration: 1s\nvms: [{name: a, workload: idle, settle: 5s}]", "only to a QEMU VM with windows"},
		{"settle without windows", "duration: 1s\nvms: [{name: a, vmm: qemu, workload: console-pit, settle: 5s}]", "only to a QEMU VM with windows"},
		{"negative settle", "duration: 9s\nvms: [{name: a, vmm: qemu, workload: console-pit, settle: -1s, windows: [{workload: pci-config-scan, rate: flood, start: 1s, duration: 1s}]}]", "non-negative"},
		{"attack as base", "duration: 1s\nvms: [{name: a, workload: msr-sweep}]", "give a benign base"},
		{"unknown workload", "duration: 1s\nvms: [{name: a, workload: bogus}]", "use one of"},
		{"bad rate", "duration: 5s\nvms: [{name: a, workload: idle, windows: [{workload: msr-sweep, rate: loud, start: 1s, duration: 1s}]}]", "use flood or stealthy"},
		{"overlap", "duration: 5s\nvms: [{name: a, workload: idle, windows: [{workload: msr-sweep, rate: flood, start: 1s, duration: 2s}, {workload: venom-floppy-fifo, rate: flood, start: 2s, duration: 1s}]}]", "overlaps"},
		{"past the end", "duration: 5s\nvms: [{name: a, workload: idle, windows: [{workload: msr-sweep, rate: flood, start: 4s, duration: 2s}]}]", "leaves the run"},
		{"bad duration", "duration: soon\nvms: [{name: a, workload: idle}]", "Go duration"},
		{"unknown field", "duration: 1s\nvm: []", "field vm not found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePlan([]byte(tc.plan))
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func FuzzParsePlan(f *testing.F) {
	f.Add([]byte(testPlan))
	f.Add([]byte(`{"duration": "1s", "vms": [{"name": "a", "workload": "idle"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePlan(b)
		if err != nil {
			return
		}
		// A valid plan schedules every VM over exactly its duration.
		var ids int
		for i := range p.VMs {
			var total time.Duration
			for _, s := range p.schedule(i, &ids) {
				total += s.phase.Duration
			}
			if total != time.Duration(p.Duration) {
				t.Fatalf("VM %d scheduled for %v of %v", i, total, time.Duration(p.Duration))
			}
		}
	})
}

func TestRunPlanOnKVM(t *testing.T) {
	needKVM(t)
	p, err := ParsePlan([]byte(testPlan))
	require.NoError(t, err)
	res, err := RunPlan(context.Background(), p, "")
	require.NoError(t, err)
	require.Len(t, res.VMs, 2)
	require.NotEqual(t, res.VMs[0].PID, res.VMs[1].PID, "each VM is its own process")
	require.Len(t, res.Labels, 3)
	for _, l := range res.Labels {
		require.True(t, l.End.After(l.Start), l.ID)
		require.False(t, l.Start.Before(res.Start), l.ID)
		require.InDelta(t, 1.0, l.End.Sub(l.Start).Seconds(), 0.3, l.ID)
	}
	a := res.VMs[0]
	require.Equal(t, "vm-a", a.VM)
	require.Len(t, a.Phases, 3)
	require.Equal(t, WVenom, a.Phases[1].Workload)
	require.Greater(t, a.Phases[1].Counters.FDCFifoWrites, uint64(300))
	require.Zero(t, a.Phases[0].Counters.FDCFifoWrites+a.Phases[2].Counters.FDCFifoWrites, "the floppy is untouched outside the window")
	require.Greater(t, a.Phases[0].Counters.VirtioNotifies, uint64(0))
}

func TestRunRejectsBadSpecs(t *testing.T) {
	ctx := context.Background()
	_, err := Run(ctx, Spec{Name: "a", Workload: WIdle})
	require.ErrorContains(t, err, "positive duration")
	_, err = Run(ctx, Spec{Name: "a b", Workload: WIdle, Duration: time.Second})
	require.ErrorContains(t, err, "letters, digits")
	_, err = Run(ctx, Spec{Name: "a", Workload: "bogus", Duration: time.Second})
	require.ErrorContains(t, err, "use one of")
}

func TestRunStopsWithTheContext(t *testing.T) {
	needKVM(t)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err := Run(ctx, Spec{Name: "lab-cancel", Workload: WIdle, Duration: time.Minute, Seed: 1})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 5*time.Second)
	require.Len(t, res.Phases, 1, "the VMM reports what it did before SIGTERM")
	require.Positive(t, res.Phases[0].Counters.HLT)
}

func TestSpecForScenario(t *testing.T) {
	s, err := SpecForScenario("venom-floppy-fifo:stealthy", time.Second, 3)
	require.NoError(t, err)
	require.Equal(t, Spec{Name: "lab-venom-floppy-fifo-stealthy", Workload: WVenom, Rate: RateStealthy, Duration: time.Second, Seed: 3}, s)
	s, err = SpecForScenario("idle", time.Second, 3)
	require.NoError(t, err)
	require.Equal(t, "lab-idle", s.Name)
	_, err = SpecForScenario("idle:loud", time.Second, 3)
	require.ErrorContains(t, err, "unknown rate")
	_, err = SpecForScenario("nope", time.Second, 3)
	require.ErrorContains(t, err, "use one of")
}

func TestPlanGroups(t *testing.T) {
	p, err := ParsePlan([]byte(`
duration: 10s
vms:
  - {name: a, workload: idle}
  - {name: b, vmm: lab, workload: disk-io, windows: [{workload: msr-sweep, rate: flood, start: 1s, duration: 2s}]}
  - {name: c, vmm: qemu, workload: firmware}
`))
	require.NoError(t, err)
	require.Equal(t, map[string]string{"a": "lab/idle", "b": "lab/disk-io", "c": "qemu/firmware"}, p.Groups())
}

package lab

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/collectors/kvm"
	"github.com/escapement/escapement/events"
)

func TestQEMUPlanValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		vm   string
		err  string
	}{
		{"firmware", `{name: q1, vmm: qemu, workload: firmware}`, ""},
		{"console-pit on 2 vCPUs", `{name: q1, vmm: qemu, workload: console-pit, vcpus: 2}`, ""},
		{"lab VMM spelled out", `{name: l1, vmm: lab, workload: idle}`, ""},
		{"lab workload under QEMU", `{name: q1, vmm: qemu, workload: idle}`, `QEMU workload "idle"`},
		{"QEMU workload under the lab", `{name: l1, workload: firmware}`, "firmware"},
		{"windows under QEMU firmware", `{name: q1, vmm: qemu, workload: firmware, windows: [{workload: pci-config-scan, rate: flood, start: 1s, duration: 1s}]}`, "takes no windows"},
		{"QEMU PCI scan", `{name: q1, vmm: qemu, workload: console-pit, windows: [{workload: pci-config-scan, rate: flood, start: 1s, duration: 1s}]}`, ""},
		{"QEMU attack it cannot run", `{name: q1, vmm: qemu, workload: console-pit, windows: [{workload: venom-floppy-fifo, rate: flood, start: 1s, duration: 1s}]}`, "runs only [pci-config-scan] at flood rate"},
		{"QEMU stealthy", `{name: q1, vmm: qemu, workload: console-pit, windows: [{workload: pci-config-scan, rate: stealthy, start: 1s, duration: 1s}]}`, "at flood rate"},
		{"QEMU window past the run", `{name: q1, vmm: qemu, workload: console-pit, windows: [{workload: pci-config-scan, rate: flood, start: 9s, duration: 2s}]}`, "leaves the run"},
		{"unknown VMM", `{name: q1, vmm: xen, workload: firmware}`, `vmm "xen": use lab or qemu`},
		{"too many vCPUs", `{name: q1, vmm: qemu, workload: firmware, vcpus: 5}`, "give 1 to 4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePlan([]byte("duration: 10s\nvms:\n  - " + tc.vm + "\n"))
			if tc.err == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.err)
		})
	}
}

func TestQEMUArgs(t *testing.T) {
	fw := strings.Join(qemuArgs("vm-q", QEMUFirmware, 0, "/s", "/d", ""), " ")
	require.Contains(t, fw, "-name guest=vm-q,debug-threads=on")
	require.Contains(t, fw, "-enable-kvm")
	require.Contains(t, fw, "-smp 1")
	require.Contains(t, fw, "-nic none")
	require.Contains(t, fw, "-serial file:/s")
	require.Contains(t, fw, "reboot-timeout=1000")
	require.NotContains(t, fw, "-drive")
	require.Contains(t, fw, "-nodefaults")

	boot := strings.Join(qemuArgs("vm-b", QEMUConsolePIT, 2, "/s", "/d", "/q"), " ")
	require.Contains(t, boot, "-nodefaults -drive format=raw,file=/d,if=ide -boot order=c")
	require.NotContains(t, boot, "if=floppy")
	require.Contains(t, boot, "-qmp unix:/q,server=on,wait=off")
	require.NotContains(t, fw, "-qmp")
	require.Contains(t, boot, "-smp 2")
}

// TestQEMUBootSector checks the embedded boot sectors: 512 bytes ending in
// 0x55AA, the same bytes nasm makes of their sources.
func TestQEMUBootSector(t *testing.T) {
	for _, tc := range []struct {
		src string
		bin []byte
	}{{"qemuboot.asm", qemuBoot}, {"qemuattack.asm", qemuAttack}} {
		require.Len(t, tc.bin, 512, tc.src)
		require.Equal(t, []byte{0x55, 0xaa}, tc.bin[510:], tc.src)
		nasm, err := exec.LookPath("nasm")
		if err != nil {
			t.Skip("nasm is not installed (apt-get install -y nasm): cannot check the .bin files against their sources")
		}
		out := filepath.Join(t.TempDir(), "sector.bin")
		msg, err := exec.Command(nasm, "-f", "bin", "-o", out, tc.src).CombinedOutput()
		require.NoError(t, err, "nasm %s: %s", tc.src, msg)
		b, err := os.ReadFile(out)
		require.NoError(t, err)
		require.Equal(t, b, tc.bin, "the .bin of %s is stale: run go generate ./collectors/lab", tc.src)
	}

	img := filepath.Join(t.TempDir(), "boot.img")
	require.NoError(t, diskImage(img, qemuBoot))
	st, err := os.Stat(img)
	require.NoError(t, err)
	require.Equal(t, int64(1474560), st.Size())
}

// requireQEMU skips unless QEMU VMs can run here.
func requireQEMU(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("QEMU test skipped in -short mode")
	}
	if err := CheckQEMU(); err != nil {
		t.Skip(err.Error())
	}
}

// qemuPIDs returns the pids of processes whose command line is QEMU's
// with -name guest=<vm>.
func qemuPIDs(t *testing.T, vm string) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	require.NoError(t, err)
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(bytes.TrimRight(cmd, "\x00")), "\x00")
		if filepath.Base(args[0]) == QEMUBinary && strings.Contains(string(cmd), "guest="+vm+",") {
			out = append(out, pid)
		}
	}
	return out
}

// TestQEMUPlanRun runs a 10 s plan with both QEMU workloads beside a lab
// VM: each QEMU starts with the plan, runs its firmware, and is gone when
// RunPlan returns, with no labels (benign).
func TestQEMUPlanRun(t *testing.T) {
	requireQEMU(t)
	p, err := ParsePlan([]byte(`
seed: 3
duration: 10s
vms:
  - {name: lab-qemu-fw, vmm: qemu, workload: firmware}
  - {name: lab-qemu-boot, vmm: qemu, workload: console-pit}
  - {name: lab-beside, workload: idle, windows: [{workload: venom-floppy-fifo, rate: stealthy, start: 2s, duration: 3s}]}
`))
	require.NoError(t, err)

	seen := map[string]int{}
	var mu sync.Mutex
	ctx, cancel := context.WithCancel(context.Background())
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for ctx.Err() == nil {
			for _, vm := range []string{"lab-qemu-fw", "lab-qemu-boot"} {
				if pids := qemuPIDs(t, vm); len(pids) == 1 {
					mu.Lock()
					seen[vm] = pids[0]
					mu.Unlock()
				}
			}
			time.Sleep(200 * time.Millisecond)
		}
	}()
	began := time.Now()
	res, err := RunPlan(context.Background(), p, "")
	took := time.Since(began)
	cancel()
	<-watched
	require.NoError(t, err)
	require.GreaterOrEqual(t, took, 10*time.Second)
	require.Less(t, took, 20*time.Second, "QEMU must stop at the end of the plan")
	require.Len(t, res.Labels, 1, "QEMU VMs are benign for the whole run: the lab VM's window is the only label")
	require.Equal(t, "lab-beside", res.Labels[0].VMID)
	require.Len(t, res.VMs, 3)
	require.Empty(t, res.VMs[2].VMM)
	for i, vm := range []string{"lab-qemu-fw", "lab-qemu-boot"} {
		r := res.VMs[i]
		require.Equal(t, vm, r.VM)
		require.Equal(t, VMMQEMU, r.VMM)
		require.Equal(t, seen[vm], r.PID, "the QEMU process seen running is the one in the result")
		require.Len(t, r.Phases, 1)
		require.InDelta(t, 10, r.Phases[0].End.Sub(r.Phases[0].Start).Seconds(), 2)
		require.Empty(t, qemuPIDs(t, vm), "QEMU of %s outlived the plan", vm)
	}
	// SeaBIOS ran in both (under PVM it takes about 10 s to reach a floppy's
	// boot sector on a loaded machine: TestQEMULiveCapture checks ours runs).
	// Serial keeps the last 256 bytes: once our boot sector runs, its own
	// "lab ..." lines have pushed SeaBIOS's "Booting from" out.
	for _, r := range res.VMs[:2] {
		out := r.Phases[0].Serial
		require.True(t, strings.Contains(out, "Boot") || strings.Contains(out, "lab "),
			"SeaBIOS or our boot sector on COM1 of %s: %q", r.VM, out)
	}
}

// TestQEMUAttackWindow runs a QEMU guest with a PCI-scan window: the window
// starts once the boot sector runs (pressed through QMP), the guest answers
// "scan on", and the label has the times the keys were pressed.
func TestQEMUAttackWindow(t *testing.T) {
	requireQEMU(t)
	p, err := ParsePlan([]byte(`
seed: 4
duration: 40s
vms:
  - {name: lab-qemu-attack, vmm: qemu, workload: console-pit, windows: [{workload: pci-config-scan, rate: flood, start: 2s, duration: 3s}]}
`))
	require.NoError(t, err)
	res, err := RunPlan(context.Background(), p, "")
	require.NoError(t, err, "SeaBIOS must reach the boot sector within the 40 s run (5-25 s here)")
	require.Len(t, res.Labels, 1)
	l := res.Labels[0]
	require.Equal(t, "lab-qemu-attack", l.VMID)
	require.Equal(t, WPCIScan, l.Name)
	require.Equal(t, RateFlood, l.Intensity)
	require.InDelta(t, 3, l.End.Sub(l.Start).Seconds(), 0.5)
	require.False(t, l.Start.Before(res.Start.Add(2*time.Second)), "not before its planned start")
	ph := res.VMs[0].Phases
	require.Len(t, ph, 3, "base, window, base")
	require.Equal(t, ph[0].End, ph[1].Start)
	require.Equal(t, ph[1].End, ph[2].Start)
	require.Equal(t, l.Start, ph[1].Start)
	require.Contains(t, ph[2].Serial, "lab ", "the boot sector went back to its console chatter")
	require.Empty(t, qemuPIDs(t, "lab-qemu-attack"))
}

// TestQEMUPlanCancel stops a plan early: QEMU goes with it.
func TestQEMUPlanCancel(t *testing.T) {
	requireQEMU(t)
	p := Plan{Duration: Duration(time.Minute), VMs: []PlanVM{{Name: "lab-qemu-cancel", VMM: VMMQEMU, Workload: QEMUFirmware}}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	began := time.Now()
	res, err := RunPlan(ctx, p, "")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(began), 10*time.Second)
	require.NotZero(t, res.VMs[0].PID)
	require.Empty(t, qemuPIDs(t, "lab-qemu-cancel"))
}

// TestQEMULiveCapture runs a QEMU VM under the live KVM collector and
// checks that the boot sector's UART writes and PIT reads reach the
// events with the VM's name as vm_id.
func TestQEMULiveCapture(t *testing.T) {
	requireQEMU(t)
	if err := kvm.CheckAccess(kvm.DefaultTracefs); err != nil {
		t.Skipf("live capture needs root, /dev/kvm and tracefs: %v", err)
	}
	c, err := kvm.New(kvm.Config{Poll: 20 * time.Millisecond, Rescan: 100 * time.Millisecond, EmulationBufferKB: -1}, nil, nil)
	require.NoError(t, err)
	const vm = "lab-qemu-live"
	// SeaBIOS alone has taken 10 s to reach the boot sector here (every
	// guest instruction is emulated under PVM).
	p := Plan{Duration: Duration(40 * time.Second), VMs: []PlanVM{{Name: vm, VMM: VMMQEMU, Workload: QEMUConsolePIT}}}
	var mu sync.Mutex
	counts := map[string]int{}
	others := 0
	res, err := Capture(context.Background(), p, c, CaptureConfig{Lead: time.Second}, func(_ context.Context, evs []events.Event) error {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range evs {
			if e.VMID != vm {
				others++
				continue
			}
			if e.Kind == events.KindIO {
				counts[strconv.FormatUint(e.Code, 16)+"/"+strconv.FormatUint(e.Args[0], 10)]++
			}
		}
		return nil
	})
	require.NoError(t, err)
	t.Logf("port/direction counts of %s: %v", vm, counts)
	require.Zero(t, others, "Capture passes on the plan's VMs only")
	require.Regexp(t, `lab [0-9a-f]{4} [0-9a-f]{4}`, res.VMs[0].Phases[0].Serial)
	require.Positive(t, counts["3f8/1"], "COM1 THR writes attributed to %s; port/dir counts: %v", vm, counts)
	require.Positive(t, counts["3fd/0"], "COM1 LSR reads attributed to %s; port/dir counts: %v", vm, counts)
	require.Positive(t, counts["40/0"], "PIT channel 0 reads attributed to %s; port/dir counts: %v", vm, counts)
	require.Positive(t, counts["43/1"], "PIT latch commands attributed to %s; port/dir counts: %v", vm, counts)
}

func TestQEMUPlanFile(t *testing.T) {
	p, err := LoadPlan(filepath.Join("testdata", "qemu-plan.yaml"))
	require.NoError(t, err)
	var qemu []string
	for _, v := range p.VMs {
		if v.VMM == VMMQEMU {
			qemu = append(qemu, v.Workload)
		}
	}
	require.ElementsMatch(t, QEMUWorkloads(), qemu, "the example plan shows every QEMU workload")
}

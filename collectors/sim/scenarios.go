package sim

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/escapement/escapement/events"
)

// Scenario is the ground truth of one injected scenario. It is never part of
// the events.
type Scenario struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`  // the technique
	Class     string    `json:"class"` // the threat class; "placebo" for placebos
	Intensity string    `json:"intensity"`
	VMID      string    `json:"vm_id"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Placebo   bool      `json:"placebo"`
}

// Intensities.
const (
	Flood    = "flood"
	Stealthy = "stealthy"
	Placebo  = "placebo"
)

// Threat classes.
const (
	ClassDeviceFuzzing = "device-emulation-fuzzing"
	ClassPCIProbing    = "pci-mmio-probing"
	ClassMSRProbing    = "msr-probing"
	ClassCPUIDProbing  = "cpuid-probing"
	ClassHypercall     = "hypercall-abuse"
	ClassFaultStorm    = "memory-fault-storm"
	ClassSideChannel   = "side-channel-probing"
	ClassPostEscape    = "post-escape-vmm"
	ClassPlacebo       = "placebo"
)

// technique is one scenario kind: its payload and its rates.
type technique struct {
	class, name      string
	flood, stealthy  float64 // occurrences per second
	floodD, stealthD [2]time.Duration
	gen              func(sc *scenRun) gen
	start            func(v *vm, sc *scenRun, t int64) // optional script at the start
}

var (
	floodDur   = [2]time.Duration{10 * time.Second, 30 * time.Second}
	stealthDur = [2]time.Duration{20 * time.Second, 60 * time.Second}
	plainGen   = func(g gen) func(*scenRun) gen { return func(*scenRun) gen { return g } }
)

// techniques holds one technique per threat class, in the order scenarios
// cycle through them.
var techniques = []technique{
	{ClassDeviceFuzzing, "venom-floppy-fifo", 1200, 2, floodDur, stealthDur, plainGen(genFloppyFuzz), nil},
	{ClassPCIProbing, "pci-config-and-mmio-scan", 800, 1.5, floodDur, stealthDur, plainGen(genPCIProbe), nil},
	{ClassMSRProbing, "msr-sweep", 600, 1, floodDur, stealthDur, plainGen(genMSRProbe), nil},
	{ClassCPUIDProbing, "cpuid-leaf-sweep", 1500, 3, floodDur, stealthDur, plainGen(genCPUIDProbe), nil},
	{ClassHypercall, "unknown-hypercall-fuzzing", 700, 1, floodDur, stealthDur, plainGen(genHypercallAbuse), nil},
	{ClassFaultStorm, "ept-fault-storm", 2500, 15, floodDur, stealthDur, plainGen(genFaultStorm), nil},
	{ClassSideChannel, "pmc-timing-probe", 2000, 25, floodDur, stealthDur, plainGen(genSideChannel), nil},
	{ClassPostEscape, "vmm-shell-and-exfiltration", 40, 0.2, floodDur, stealthDur, genPostEscape, startPostEscape},
}

// placebos are benign bursts placed like scenarios.
var placebos = []technique{
	{ClassPlacebo, "disk-io-burst", 600, 0, stealthDur, stealthDur, plainGen(genDisk), nil},
	{ClassPlacebo, "network-burst", 1200, 0, stealthDur, stealthDur, plainGen(genNet), nil},
	{ClassPlacebo, "memory-growth", 400, 0, stealthDur, stealthDur, plainGen(genWriteFault), nil},
	{ClassPlacebo, "cpu-burst", 400, 0, stealthDur, stealthDur, plainGen(genTimer), nil},
	{ClassPlacebo, "guest-reboot", 0, 0, stealthDur, stealthDur, plainGen(genHLT),
		func(v *vm, _ *scenRun, t int64) { v.startBoot(t) }},
}

// scenRun is a scenario in progress on one VM.
type scenRun struct {
	Scenario
	tech       *technique
	start, end int64
	rate       float64
	src        *source
	started    bool
	// rng is the scenario's own random stream: while the scenario runs the
	// VM draws from it, so the VM's benign stream is the same with or
	// without the scenario.
	rng   *rand.Rand
	tids  int32 // thread ids handed out by the scenario
	child int32 // post-escape: the shell's pid
}

// newTID returns a thread id for a process the scenario starts, from a
// range of the VMM's pid space the benign threads do not use.
func (sc *scenRun) newTID(v *vm) int32 {
	sc.tids++
	return v.pid + 40_000 + sc.tids
}

func (sc *scenRun) run(v *vm, t0, t1 int64) {
	if t1 <= sc.start || t0 >= sc.end {
		return
	}
	saved := v.rng
	v.rng = sc.rng
	defer func() { v.rng = saved }()
	if !sc.started {
		sc.started = true
		mark := len(v.buf)
		if sc.tech.start != nil {
			sc.tech.start(v, sc, sc.start)
		}
		v.script(mark)
	}
	sc.src.run(v, max(t0, sc.start), min(t1, sc.end), sc.rate)
}

// Truth returns the scenarios and placebos of the run, ordered by start.
func (f *Fleet) Truth() []Scenario { return append([]Scenario(nil), f.truth...) }

// WriteTruth writes the ground truth as a JSON array of scenarios.
func (f *Fleet) WriteTruth(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(f.Truth()); err != nil {
		return fmt.Errorf("sim: write ground truth: %w", err)
	}
	return nil
}

// place draws the scenarios and placebos of the run.
func (f *Fleet) place() {
	if f.cfg.Scenarios+f.cfg.Placebos == 0 {
		return
	}
	r := newRand(f.cfg.Seed, streamScenarios)
	lo := f.cfg.Start.Add(leadIn).UnixNano()
	hi := f.cfg.Start.Add(f.cfg.Duration - tailOut).UnixNano()
	var runs []*scenRun
	add := func(id string, tech *technique, intensity string) {
		dur, rate := tech.floodD, tech.flood
		if intensity == Stealthy {
			dur, rate = tech.stealthD, tech.stealthy
		}
		length := min(uniformDur(r, dur[0], dur[1]), hi-lo)
		var vmi int
		var start int64
		for try := 0; try < 20; try++ {
			vmi = r.IntN(len(f.vms))
			start = lo + r.Int64N(hi-lo-length+1)
			if !overlaps(f.vms[vmi].scens, start, start+length) {
				break
			}
		}
		v := f.vms[vmi]
		sc := &scenRun{
			Scenario: Scenario{
				ID: id, Name: tech.name, Class: tech.class, Intensity: intensity, VMID: v.id,
				Start: time.Unix(0, start).UTC(), End: time.Unix(0, start+length).UTC(),
				Placebo: intensity == Placebo,
			},
			tech: tech, start: start, end: start + length, rate: rate,
		}
		sc.rng = newRand(f.cfg.Seed, streamScenarios+1+uint64(len(runs)))
		sc.src = newSource(sc.rng, 1, false, tech.gen(sc))
		v.scens = append(v.scens, sc)
		runs = append(runs, sc)
	}
	for i := 0; i < f.cfg.Scenarios; i++ {
		intensity := Flood
		if (i/len(techniques))%2 == 1 {
			intensity = Stealthy
		}
		add(fmt.Sprintf("s%03d", i), &techniques[i%len(techniques)], intensity)
	}
	for i := 0; i < f.cfg.Placebos; i++ {
		add(fmt.Sprintf("p%03d", i), &placebos[i%len(placebos)], Placebo)
	}
	for _, sc := range runs {
		f.truth = append(f.truth, sc.Scenario)
	}
	sortScenarios(f.truth)
}

func overlaps(scens []*scenRun, start, end int64) bool {
	for _, sc := range scens {
		if start < sc.end && sc.start < end {
			return true
		}
	}
	return false
}

// Attack payloads.

func genFloppyFuzz(v *vm, t int64) {
	c := v.vcpu()
	if v.rng.IntN(5) == 0 {
		v.userIO(t, c, portFDCStatus, events.DirRead, 1, 0x80)
		return
	}
	cmds := [...]uint64{fdcDriveSpec, fdcReadID, fdcReadData, fdcDumpRegisters, fdcConfigure}
	val := v.rng.Uint64N(256)
	if v.rng.IntN(2) == 0 {
		val = cmds[v.rng.IntN(len(cmds))]
	}
	v.userIO(t, c, portFDCFIFO, events.DirWrite, 1, val)
}

func genPCIProbe(v *vm, t int64) {
	c := v.vcpu()
	if v.rng.IntN(5) < 3 {
		addr := pciAddr(v.rng.Uint64N(256), v.rng.Uint64N(32), v.rng.Uint64N(8), v.rng.Uint64N(256))
		v.userIO(t, c, portPCIAddr, events.DirWrite, 4, addr)
		v.userIO(t+3_000, c, portPCIData, events.DirRead, 4, 0xFFFFFFFF)
		return
	}
	gpa := gpaPCIHole + v.rng.Uint64N(0x1EB00000)&^0xFFF
	v.userMMIO(t, c, gpa, events.DirRead, 4, 0xFFFFFFFF)
}

func genMSRProbe(v *vm, t int64) {
	var idx uint64
	switch v.rng.IntN(4) {
	case 0:
		idx = v.rng.Uint64N(0x2000)
	case 1:
		idx = 0xC0000000 + v.rng.Uint64N(0x2000)
	case 2:
		idx = 0x40000000 + v.rng.Uint64N(0x100)
	default:
		idx = uint64(v.rng.Uint32())
	}
	c := v.vcpu()
	dir := uint64(events.DirRead)
	if v.rng.IntN(10) < 3 {
		dir = events.DirWrite
	}
	faulted := v.rng.IntN(100) < 85
	f := uint64(0)
	if faulted {
		f = 1
	}
	v.guest(t, c, events.KindMSR, idx, dir, v.rng.Uint64(), f, 0)
	if faulted {
		v.guest(t+1000, c, events.KindException, excGP, 0, 0, 0, 0)
	}
}

func genCPUIDProbe(v *vm, t int64) {
	var leaf uint64
	switch v.rng.IntN(10) {
	case 0, 1, 2, 3:
		leaf = 0x40000000 + v.rng.Uint64N(0x100)
	case 4, 5, 6:
		leaf = 0x80000000 + v.rng.Uint64N(0x100)
	default:
		leaf = v.rng.Uint64N(0x40)
	}
	found := uint64(1)
	if (leaf > 0x0D && leaf < 0x40000000) || (leaf > 0x40000001 && leaf < 0x80000000) || leaf > 0x80000008 {
		found = 0
	}
	v.guest(t, v.vcpu(), events.KindCPUID, leaf, v.rng.Uint64N(16), 0, found, 0)
}

func genHypercallAbuse(v *vm, t int64) {
	var nr uint64
	switch r := v.rng.IntN(10); {
	case r < 7:
		nr = 13 + v.rng.Uint64N(0xFFF0)
	case r < 9:
		nr = uint64(v.rng.Uint32())
	default:
		nr = hcKickCPU
	}
	v.guest(t, v.vcpu(), events.KindHypercall, nr, v.rng.Uint64(), v.rng.Uint64(), v.rng.Uint64(), v.rng.Uint64())
}

func genFaultStorm(v *vm, t int64) {
	gpa := v.rng.Uint64N(1<<36) &^ 0xFFF
	ec := uint64(events.PFPresent)
	switch v.rng.IntN(10) {
	case 0:
	case 1, 2, 3, 4:
		ec |= events.PFWrite
	default:
		ec |= events.PFFetch
	}
	v.guest(t, v.vcpu(), events.KindPageFault, gpa, ec, v.rng.Uint64()&^0xFFF, 0, 0)
	if v.rng.IntN(5) == 0 {
		genHostFault(v, t+2_000)
	}
}

// genSideChannel: performance-counter reads around timed accesses to a few
// pages. CLFLUSH, RDTSC and RDPMC do not exit; what shows is RDMSR of the
// counters and faults on the probed pages when the host reclaims them.
func genSideChannel(v *vm, t int64) {
	c := v.vcpu()
	switch r := v.rng.IntN(10); {
	case r < 7:
		v.guest(t, c, events.KindMSR, msrPMC0+v.rng.Uint64N(4), events.DirRead, v.rng.Uint64N(1<<40), 0, 0)
	case r < 8:
		v.guest(t, c, events.KindMSR, msrPerfEvtSel0+v.rng.Uint64N(4), events.DirWrite, 0x4300D1, 0, 0)
	default:
		gpa := (v.ram/2)&^0xFFFF + v.rng.Uint64N(16)*0x1000
		v.guest(t, c, events.KindPageFault, gpa, 0, 0x7f0000000000+gpa, 0, 0)
	}
}

// startPostEscape: the compromised VMM spawns a shell.
func startPostEscape(v *vm, sc *scenRun, t int64) {
	tid := v.mainTID()
	sc.child = sc.newTID(v)
	if sc.Intensity == Stealthy {
		v.sys(t, tid, sysClone, sigchld, 0, 0, 0, "")
	} else {
		v.sys(t, tid, sysFork, 0, 0, 0, 0, "")
	}
	v.vmmEvent(t+10_000, tid, events.KindProcFork, uint64(sc.child), uint64(v.pid), 0, "")
	v.sys(t+20_000, sc.child, sysExecve, 0x55d000200000, 0x55d000201000, 0, 0, shPath)
	v.vmmEvent(t+30_000, sc.child, events.KindProcExec, uint64(sc.child), 0, 0, shPath)
}

// genPostEscape: what the shell and the hijacked VMM do next.
func genPostEscape(sc *scenRun) gen {
	return func(v *vm, t int64) {
		ch := sc.child
		switch v.rng.IntN(8) {
		case 0:
			v.sys(t, ch, sysSocket, afInet, sockStream, 0, 0, "")
			v.sys(t+50_000, ch, sysConnect, 3, 0x7ffc00000000, 16, 0, "")
		case 1:
			target := uint64(1 + v.rng.Int32N(v.pid))
			v.sys(t, ch, sysPtrace, ptraceAttach, target, 0, 0, "")
			v.sys(t+80_000, ch, sysPtrace, ptracePoke, target, 0x401000, v.rng.Uint64(), "")
		case 2:
			v.sys(t, v.mainTID(), sysMprotect, 0x7f8000000000, 1<<12, protRead|protWrite|protExec, 0, "")
		case 3:
			v.sys(t, ch, sysOpenat, 0xFFFFFF9C, 0x7ffc00001000, 0, 0, escapeOpenPaths[v.rng.IntN(len(escapeOpenPaths))])
			v.sys(t+20_000, ch, sysRead, 3, 0x7ffc00002000, 4096, 0, "")
		case 4:
			sub := sc.newTID(v)
			v.sys(t, ch, sysFork, 0, 0, 0, 0, "")
			v.vmmEvent(t+10_000, ch, events.KindProcFork, uint64(sub), uint64(ch), 0, "")
			v.sys(t+20_000, sub, sysExecve, 0x55d000200000, 0x55d000201000, 0, 0, shPath)
			v.vmmEvent(t+30_000, sub, events.KindProcExec, uint64(sub), 0, 0, shPath)
			v.vmmEvent(t+900_000, sub, events.KindProcExit, 0, 0, 0, "")
		default:
			v.sys(t, ch, sysWrite, 3, 0x7ffc00003000, 1+v.rng.Uint64N(4096), 0, "")
		}
	}
}

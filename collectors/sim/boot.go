package sim

import (
	"time"

	"github.com/escapement/escapement/events"
)

// pciPresent lists the devices of the simulated machine on bus 0: host
// bridge, ISA bridge (multi-function), VGA, virtio-net, virtio-blk, balloon.
var pciPresent = [...]uint64{0, 1, 2, 3, 4, 5}

func pciAddr(bus, dev, fn, reg uint64) uint64 {
	return 1<<31 | bus<<16 | dev<<11 | fn<<8 | reg&0xFC
}

// spread returns a time in [t0, t0+d) for the next scripted step.
func (v *vm) spread(t0, d int64) int64 { return t0 + v.rng.Int64N(d) }

// pciScan is what a Linux guest (or lspci) does: read the vendor id of every
// device on bus 0, then the functions and BARs of the devices present.
func (v *vm) pciScan(t0, d int64) {
	c := v.vcpu()
	t := t0
	step := d / 400
	read := func(bus, dev, fn, reg uint64, val uint64) {
		v.userIO(t, c, portPCIAddr, events.DirWrite, 4, pciAddr(bus, dev, fn, reg))
		v.userIO(t+step/2, c, portPCIData, events.DirRead, 4, val)
		t += step
	}
	for dev := uint64(0); dev < 32; dev++ {
		present := dev < uint64(len(pciPresent))
		val := uint64(0xFFFFFFFF)
		if present {
			val = 0x1AF4 | (0x1000+dev)<<16
		}
		read(0, dev, 0, 0, val)
		if !present {
			continue
		}
		fns := uint64(1)
		if dev == 1 {
			fns = 8
		}
		for fn := uint64(0); fn < fns; fn++ {
			for reg := uint64(0x10); reg <= 0x24; reg += 4 {
				v.userIO(t, c, portPCIAddr, events.DirWrite, 4, pciAddr(0, dev, fn, reg))
				v.userIO(t+step/3, c, portPCIData, events.DirWrite, 4, 0xFFFFFFFF) // BAR sizing
				read(0, dev, fn, reg, 0xFEB00000)
			}
		}
	}
}

// cpuidDump queries the standard, hypervisor and extended leaves; leaves
// beyond the maxima come back not found.
func (v *vm) cpuidDump(t0, d int64, full bool) {
	std, hv, ext := uint64(0x0D), uint64(0x40000001), uint64(0x80000008)
	if full { // cpuid(1)-style tools walk past the maxima
		std, hv, ext = 0x20, 0x40000010, 0x80000021
	}
	for c := 0; c < v.vcpus; c++ {
		for _, r := range [][2]uint64{{0, std}, {0x40000000, hv}, {0x80000000, ext}} {
			for leaf := r[0]; leaf <= r[1]; leaf++ {
				found := uint64(1)
				if (leaf > 0x0D && leaf < 0x40000000) || (leaf > 0x40000001 && leaf < 0x80000000) || leaf > 0x80000008 {
					found = 0
				}
				v.guest(v.spread(t0, d), c, events.KindCPUID, leaf, 0, 0x1F, found, 0)
			}
		}
	}
}

// msrBoot is what Linux reads and writes on each vCPU at boot; rdmsr_safe and
// wrmsr_safe of MSRs the vCPU lacks fault and inject #GP.
func (v *vm) msrBoot(t0, d int64) {
	type acc struct {
		idx     uint64
		dir     uint64
		faulted bool
	}
	list := []acc{
		{msrAPICBase, events.DirRead, false}, {msrFeatureCtl, events.DirRead, false},
		{msrArchCaps, events.DirRead, false}, {msrSpecCtrl, events.DirWrite, false},
		{msrMicrocode, events.DirRead, false}, {msrPlatformInfo, events.DirRead, true},
		{msrMiscEnable, events.DirRead, false}, {msrEFER, events.DirWrite, false},
		{msrSTAR, events.DirWrite, false}, {msrSTAR + 1, events.DirWrite, false},
		{msrSTAR + 3, events.DirWrite, false}, {msrSysenterCS, events.DirWrite, false},
		{msrPAT, events.DirWrite, false}, {msrKVMWallClock, events.DirWrite, false},
		{msrKVMWallClock + 1, events.DirWrite, false}, {msrKVMWallClock + 2, events.DirWrite, false},
		{msrKVMWallClock + 4, events.DirWrite, false}, {msrX2APICSVR, events.DirWrite, false},
		{msrX2APICTMICT, events.DirWrite, false}, {msrAMDDECfg, events.DirRead, true},
		{msrAMDDECfg, events.DirWrite, true}, {msrPerfGlobalCtl, events.DirWrite, false},
		{msrPerfEvtSel0, events.DirWrite, false}, {msrPMC0, events.DirRead, false},
	}
	for c := 0; c < v.vcpus; c++ {
		for _, a := range list {
			t := v.spread(t0, d)
			f := uint64(0)
			if a.faulted {
				f = 1
			}
			v.guest(t, c, events.KindMSR, a.idx, a.dir, 0, f, 0)
			if a.faulted {
				v.guest(t+1000, c, events.KindException, excGP, 0, 0, 0, 0)
			}
		}
		v.guest(v.spread(t0, d), c, events.KindCR, 0, events.DirWrite, 0x80050033, 0, 0)
		v.guest(v.spread(t0, d), c, events.KindCR, 4, events.DirWrite, 0x3706F0, 0, 0)
	}
}

// floppyProbe is the Linux floppy driver looking for a controller: reset
// through the DOR, VERSION and SENSE INTERRUPT through the FIFO.
func (v *vm) floppyProbe(t0, d int64) {
	c := v.vcpu()
	t := v.spread(t0, d/2)
	step := int64(200_000)
	io := func(port, dir, val uint64) {
		v.userIO(t, c, port, dir, 1, val)
		t += step
	}
	io(portFDCDOR, events.DirWrite, 0x00)
	io(portFDCDOR, events.DirWrite, 0x0C)
	for _, cmd := range []uint64{fdcVersion, fdcSenseInt, fdcSenseInt, fdcSpecify} {
		io(portFDCStatus, events.DirRead, 0x80)
		io(portFDCFIFO, events.DirWrite, cmd)
		io(portFDCStatus, events.DirRead, 0xD0)
		io(portFDCFIFO, events.DirRead, 0x90)
	}
	io(portFDCDIR, events.DirRead, 0)
}

// startBoot begins a boot (or reboot) at t: the boot-phase activities run
// for a few seconds and the probing script is queued.
func (v *vm) startBoot(t int64) {
	d := int64(3*time.Second) + v.rng.Int64N(int64(3*time.Second))
	v.bootUntil = t + d
	mark := len(v.buf)
	v.pciScan(t+d/10, d/2)
	v.cpuidDump(t, d, false)
	v.msrBoot(t, d)
	if v.rng.IntN(10) < 3 { // only some guests load the floppy driver
		v.floppyProbe(t+d/3, d/2)
	}
	// Linux probes the TPM TIS window, which is not assigned.
	for i := 0; i < 2+v.rng.IntN(4); i++ {
		v.userMMIO(v.spread(t, d), 0, gpaTPM+uint64(i)*0x1000, events.DirRead, 4, 0xFFFFFFFF)
	}
	v.guest(v.spread(t, d), 0, events.KindMMIO, gpaHPET, events.DirRead, 4, 0x8086A201, 0)
	v.guest(v.spread(t, d), 0, events.KindMMIO, gpaIOAPIC, events.DirWrite, 4, 0, 0)
	if v.rng.IntN(2) == 0 {
		v.guest(v.spread(t, d), 0, events.KindHypercall, hcMapGPARange, 0, 0, 0, 0)
	}
	v.guest(v.spread(t, d), 0, events.KindHypercall, hcClockPairing, 0, 0, 0, 0)
	v.vmmReset(t)
	if v.prof.restartVMM {
		v.vmmRestart(t)
	}
	v.script(mark)
}

// vmmReset is the VMM's side of a system reset: registers reloaded,
// firmware re-read, the vhost-user/monitor socket reconnected. No exec, no
// executable memory.
func (v *vm) vmmReset(t int64) {
	tid := v.mainTID()
	for c := 0; c < v.vcpus; c++ {
		v.sys(t+int64(c)*10_000, v.vcpuTID(c), sysIoctl, 9+uint64(c), kvmSetRegs, 0x7ffd00005000, 0, "")
		v.sys(t+int64(c)*10_000+5_000, v.vcpuTID(c), sysIoctl, 9+uint64(c), kvmSetSregs, 0x7ffd00006000, 0, "")
	}
	v.sys(t+100_000, tid, sysOpenat, 0xFFFFFF9C, 0x7ffd00004000, 0, 0, benignOpenPaths[4])
	v.sys(t+150_000, tid, sysMmap, 0, 256<<10, protRead, 0x2, "")
	v.sys(t+160_000, tid, sysPread64, 23, 0x7f6000000000, 256<<10, 0, "")
	v.sys(t+170_000, tid, sysMprotect, 0x7f6000000000, 256<<10, protRead, 0, "")
	v.sys(t+180_000, tid, sysMunmap, 0x7f6100000000, 64<<10, 0, 0, "")
	v.sys(t+300_000, tid, sysSocket, afUnix, sockStream|0x80000, 0, 0, "")
	v.sys(t+310_000, tid, sysConnect, 24, 0x7ffd00007000, 110, 0, "")
}

// vmmRestart is what a VMM that is restarted with its guest does: drop
// privileges (reads the passwd database), arm a crash handler (PTRACE_TRACEME
// self-check), allocate its code-generation buffer (RWX), and run the network
// setup script through fork and exec.
func (v *vm) vmmRestart(t int64) {
	tid := v.mainTID()
	t += 400_000
	for i, p := range passwdPaths {
		v.sys(t+int64(i)*20_000, tid, sysOpenat, 0xFFFFFF9C, 0x7ffd00004000, 0x80000, 0, p)
	}
	v.sys(t+100_000, tid, sysPtrace, ptraceMe, 0, 0, 0, "")
	v.sys(t+150_000, tid, sysMmap, 0, 32<<20, protRead|protWrite, 0x22, "")
	v.sys(t+160_000, tid, sysMprotect, 0x7f7000000000, 32<<20, protRead|protWrite|protExec, 0, "")
	child := v.newTID()
	v.sys(t+200_000, tid, sysFork, 0, 0, 0, 0, "")
	v.vmmEvent(t+210_000, tid, events.KindProcFork, uint64(child), uint64(v.pid), 0, "")
	v.sys(t+220_000, child, sysExecve, 0x55d000200000, 0x55d000201000, 0x55d000202000, 0, ifupPath)
	v.vmmEvent(t+230_000, child, events.KindProcExec, uint64(child), 0, 0, ifupPath)
	v.sys(t+240_000, child, sysOpenat, 0xFFFFFF9C, 0x7ffd00004000, 0, 0, "/dev/net/tun")
	v.sys(t+250_000, child, sysSocket, afInet, 2, 0, 0, "") // ioctl socket for SIOCSIFFLAGS
	v.vmmEvent(t+600_000, child, events.KindProcExit, 0, 0, 0, "")
	v.sys(t+610_000, tid, sysWait4, uint64(child), 0, 0, 0, "")
}

// inventoryScan is a hardware-inventory agent's periodic run: lspci, cpuid,
// turbostat-style MSR reads (the power MSRs fault in a VM), perf counters.
func (v *vm) inventoryScan(t int64) {
	d := int64(2 * time.Second)
	mark := len(v.buf)
	v.pciScan(t, d)
	v.cpuidDump(t, d, true)
	for c := 0; c < v.vcpus; c++ {
		for _, idx := range []uint64{msrMPERF, msrAPERF, msrThermStatus, msrPkgThermStat, msrRAPLPowerUnit, msrPkgEnergy, msrPlatformInfo} {
			tt := v.spread(t, d)
			faulted := uint64(0)
			if idx >= msrRAPLPowerUnit || idx == msrPlatformInfo || idx == msrPkgThermStat {
				faulted = 1
			}
			v.guest(tt, c, events.KindMSR, idx, events.DirRead, 0, faulted, 0)
			if faulted == 1 {
				v.guest(tt+1000, c, events.KindException, excGP, 0, 0, 0, 0)
			}
		}
		for i := uint64(0); i < 8; i++ {
			v.guest(v.spread(t, d), c, events.KindMSR, msrPMC0+i, events.DirRead, 0, 0, 0)
		}
	}
	v.script(mark)
}

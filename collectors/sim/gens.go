package sim

import "github.com/escapement/escapement/events"

// Benign guest and VMM activities. Each appends the events of one occurrence.

// genTimer: the guest programs its TSC-deadline timer, the timer fires and
// the guest acknowledges it.
func genTimer(v *vm, t int64) {
	c := v.vcpu()
	v.guest(t, c, events.KindMSR, msrTSCDeadline, events.DirWrite, uint64(t)*3, 0, 0)
	v.guest(t+50_000+int64(v.rng.IntN(900_000)), c, events.KindInterrupt, vecLocalTimer, 0, 0, 0, 0)
	v.guest(t+1_000_000, c, events.KindMSR, msrX2APICEOI, events.DirWrite, 0, 0, 0)
}

func genHLT(v *vm, t int64) { v.guest(t, v.vcpu(), events.KindHLT, 0, 0, 0, 0, 0) }

// genIPI: a reschedule IPI through the x2APIC ICR, or paravirtual.
func genIPI(v *vm, t int64) {
	c := v.vcpu()
	switch v.rng.IntN(4) {
	case 0:
		v.guest(t, c, events.KindHypercall, hcSendIPI, v.rng.Uint64N(16), 0, 0, vecIPI)
	case 1:
		v.guest(t, c, events.KindHypercall, hcKickCPU, 0, uint64(v.vcpu()), 0, 0)
	default:
		v.guest(t, c, events.KindMSR, msrX2APICICR, events.DirWrite, vecIPI|uint64(v.vcpu())<<32, 0, 0)
	}
	if v.vcpus > 1 {
		v.guest(t+20_000, (c+1)%v.vcpus, events.KindInterrupt, vecIPI, 0, 0, 0, 0)
	}
}

// genYield: a paravirtual spinlock yield.
func genYield(v *vm, t int64) {
	v.guest(t, v.vcpu(), events.KindHypercall, hcSchedYield, uint64(v.vcpu()), 0, 0, 0)
}

// genSerial: one console character (write to THR after polling LSR).
func genSerial(v *vm, t int64) {
	c := v.vcpu()
	v.userIO(t, c, portCOM1LSR, events.DirRead, 1, 0x60)
	v.userIO(t+8_000, c, portCOM1, events.DirWrite, 1, 0x20+v.rng.Uint64N(0x5F))
}

// genRTC: reading the CMOS clock.
func genRTC(v *vm, t int64) {
	c := v.vcpu()
	v.userIO(t, c, portRTCIndex, events.DirWrite, 1, v.rng.Uint64N(10))
	v.userIO(t+10_000, c, portRTCData, events.DirRead, 1, v.rng.Uint64N(60))
}

// genLegacyTimer: PIT and 8259 PIC accesses (in-kernel devices).
func genLegacyTimer(v *vm, t int64) {
	c := v.vcpu()
	switch v.rng.IntN(4) {
	case 0:
		v.guest(t, c, events.KindIO, portPITCmd, events.DirWrite, 1, 0x34, 1)
		v.guest(t+5_000, c, events.KindIO, portPIT0+v.rng.Uint64N(3), events.DirWrite, 1, v.rng.Uint64N(256), 1)
	case 1:
		v.guest(t, c, events.KindIO, portPIC1Cmd, events.DirWrite, 1, 0x20, 1)
	case 2:
		v.guest(t, c, events.KindIO, portPIC2Cmd, events.DirWrite, 1, 0x20, 1)
	default:
		p := uint64(portPIC1Data)
		if v.rng.IntN(2) == 0 {
			p = portPIC2Data
		}
		v.guest(t, c, events.KindIO, p, events.DirRead, 1, 0xFF, 1)
	}
}

// genDisk: a virtio-blk request: queue notify (ioeventfd, no userspace
// exit), the VMM's I/O thread submits and reaps it, completion interrupt.
func genDisk(v *vm, t int64) {
	c := v.vcpu()
	v.guest(t, c, events.KindMMIO, gpaVirtioBase+0x4000+virtioNotify, events.DirWrite, 2, 0, 0)
	tid := v.ioTID()
	off := v.rng.Uint64N(v.ram) &^ 511
	n := uint64(512 << v.rng.IntN(8))
	switch v.rng.IntN(5) {
	case 0:
		v.sys(t+15_000, tid, sysPread64, 20, 0x7f0000000000+off, n, off, "")
	case 1:
		v.sys(t+15_000, tid, sysPwrite64, 20, 0x7f0000000000+off, n, off, "")
	default:
		v.sys(t+15_000, tid, sysIoSubmit, 0x7f3a00000000, 1, 0x7f3a10000000, 0, "")
		v.sys(t+90_000+int64(v.rng.IntN(400_000)), tid, sysIoGetevents, 0x7f3a00000000, 1, 64, 0, "")
	}
	v.sys(t+100_000, tid, sysWrite, 22, 0x7f3a20000000, 8, 0, "") // irqfd
	v.guest(t+500_000, c, events.KindInterrupt, vecDiskMSI, 0, 0, 0, 0)
	v.guest(t+520_000, c, events.KindMSR, msrX2APICEOI, events.DirWrite, 0, 0, 0)
}

// genFsync: a flush request.
func genFsync(v *vm, t int64) {
	v.guest(t, v.vcpu(), events.KindMMIO, gpaVirtioBase+0x4000+virtioNotify, events.DirWrite, 2, 0, 0)
	v.sys(t+20_000, v.ioTID(), sysFdatasync, 20, 0, 0, 0, "")
}

// genNet: a packet through a userspace tap backend.
func genNet(v *vm, t int64) {
	c := v.vcpu()
	if v.rng.IntN(2) == 0 { // transmit
		v.guest(t, c, events.KindMMIO, gpaVirtioBase+virtioNotify, events.DirWrite, 2, 1, 0)
		v.sys(t+12_000, v.mainTID(), sysWrite, 18, 0x7f3b00000000, 60+v.rng.Uint64N(1440), 0, "")
		return
	}
	v.sys(t, v.mainTID(), sysRead, 18, 0x7f3b00000000, 65536, 0, "")
	v.guest(t+30_000, c, events.KindInterrupt, vecNetMSI, 0, 0, 0, 0)
	v.guest(t+40_000, c, events.KindMSR, msrX2APICEOI, events.DirWrite, 0, 0, 0)
}

// genMainLoop: the VMM's event loop.
func genMainLoop(v *vm, t int64) {
	tid := v.mainTID()
	switch v.rng.IntN(10) {
	case 0, 1, 2, 3:
		v.sys(t, tid, sysPpoll, 0x55d000000000, 12+v.rng.Uint64N(6), 0x7ffd00000000, 0, "")
	case 4, 5:
		v.sys(t, tid, sysRead, 5+v.rng.Uint64N(4), 0x7ffd00001000, 8, 0, "")
	case 6:
		v.sys(t, tid, sysWrite, 5+v.rng.Uint64N(4), 0x7ffd00001000, 8, 0, "")
	case 7, 8:
		v.sys(t, v.pid+v.rng.Int32N(int32(v.vcpus)+3), sysFutex, 0x55d000100000, 1+v.rng.Uint64N(2)*128, 1, 0, "")
	default:
		v.sys(t, tid, sysClockGettime, 1, 0x7ffd00002000, 0, 0, "")
	}
}

// genMonitor: the management daemon polls the monitor socket.
func genMonitor(v *vm, t int64) {
	v.sys(t, v.mainTID(), sysRecvmsg, 15, 0x7ffd00003000, 0x40, 0, "")
	v.sys(t+200_000, v.mainTID(), sysSendmsg, 15, 0x7ffd00003000, 0x40, 0, "")
}

// genVMMHousekeeping: allocator and logging activity of the VMM, never
// executable memory.
func genVMMHousekeeping(v *vm, t int64) {
	tid := v.pid + v.rng.Int32N(int32(v.vcpus)+3)
	switch v.rng.IntN(6) {
	case 0:
		v.sys(t, tid, sysOpenat, 0xFFFFFF9C, 0x7ffd00004000, 0x80000, 0, benignOpenPaths[v.rng.IntN(3)])
	case 1, 2:
		v.sys(t, tid, sysMmap, 0, 1<<(16+v.rng.IntN(6)), protRead|protWrite, 0x22, "")
	case 3:
		v.sys(t, tid, sysMunmap, 0x7f4000000000+v.rng.Uint64N(1<<30)&^0xFFF, 1<<16, 0, 0, "")
	case 4:
		v.sys(t, tid, sysMadvise, 0x7f4000000000+v.rng.Uint64N(1<<30)&^0xFFF, 1<<21, 4, 0, "")
	default:
		v.sys(t, tid, sysMprotect, 0x7f4000000000+v.rng.Uint64N(1<<30)&^0xFFF, 1<<12, protRead|protWrite, 0, "")
	}
}

// genWorkerThread: the VMM's thread pool grows by one worker.
func genWorkerThread(v *vm, t int64) {
	v.sys(t, v.mainTID(), sysClone, cloneThread, 0x7f5000000000, 0, 0, "")
	tid := v.newTID()
	v.sys(t+100_000, tid, sysFutex, 0x55d000100000, 0, 0, 0, "")
}

// genPageFault: an EPT violation at a random guest-physical page; fetch
// faults when the guest starts programs.
func genPageFault(v *vm, t int64) {
	gpa := v.rng.Uint64N(v.ram) &^ 0xFFF
	var ec uint64
	switch r := v.rng.IntN(100); {
	case r < 3:
		ec = events.PFFetch
	case r < 45:
		ec = events.PFWrite
	}
	v.guest(t, v.vcpu(), events.KindPageFault, gpa, ec, 0xFFFF888000000000+gpa, 0, 0)
}

// genWriteFault: page faults of a growing heap (writes only).
func genWriteFault(v *vm, t int64) {
	gpa := v.rng.Uint64N(v.ram) &^ 0xFFF
	v.guest(t, v.vcpu(), events.KindPageFault, gpa, events.PFWrite, 0x7f0000000000+gpa, 0, 0)
}

func genHostFault(v *vm, t int64) {
	off := v.rng.Uint64N(v.ram) &^ 0xFFF
	v.vmmEvent(t, v.vcpuTID(v.vcpu()), events.KindHostFault, v.hva+off, events.PFWrite|events.PFUser, 0x55d000010000, "")
}

func genEmulation(v *vm, t int64) {
	v.guest(t, v.vcpu(), events.KindEmulation, 0, 1+v.rng.Uint64N(4), 0, 0, 0)
}

// genCPUIDRuntime: software asking for CPU features.
func genCPUIDRuntime(v *vm, t int64) {
	leaves := [...]uint64{0, 1, 7, 0xB, 0xD, 0x80000001, 0x80000007}
	v.guest(t, v.vcpu(), events.KindCPUID, leaves[v.rng.IntN(len(leaves))], 0, 0x1F, 1, 0)
}

// genException: the occasional #UD, #DB or #BP that reaches the hypervisor
// (debuggers, instruction probing by runtimes).
func genException(v *vm, t int64) {
	vecs := [...]uint64{excUD, excDB, excBP}
	v.guest(t, v.vcpu(), events.KindException, vecs[v.rng.IntN(3)], 0, 0, 0, 0)
}

// genPMC: a profiler (perf) reading and reprogramming counters.
func genPMC(v *vm, t int64) {
	c := v.vcpu()
	if v.rng.IntN(8) == 0 {
		v.guest(t, c, events.KindMSR, msrPerfEvtSel0+v.rng.Uint64N(4), events.DirWrite, 0x43003C, 0, 0)
		return
	}
	v.guest(t, c, events.KindMSR, msrPMC0+v.rng.Uint64N(8), events.DirRead, v.rng.Uint64N(1<<40), 0, 0)
}

// genClockRead: the guest reads the TSC or the PV clock MSRs.
func genClockRead(v *vm, t int64) {
	v.guest(t, v.vcpu(), events.KindMSR, msrTSC, events.DirRead, uint64(t)*3, 0, 0)
}

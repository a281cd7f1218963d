package features

import (
	"github.com/escapement/escapement/events"
)

// Counters of a window besides the per-kind counts.
const (
	cIOWrite = iota
	cFloppy
	cFloppyFIFOWrite
	cPCICfg
	cMSRWrite
	cMSRFault
	cMSRPMC
	cLost
	cCPUIDHypervisor
	cFaultWrite
	cFaultExec
	cSysExec
	cSysFork
	cSysPtrace
	cSysSocket
	cSysProtExec
	cSysOpen
	numCounters
)

// x86_64 system call numbers the dangerous-call features watch.
const (
	sysOpen         = 2
	sysMmap         = 9
	sysMprotect     = 10
	sysSocket       = 41
	sysConnect      = 42
	sysClone        = 56
	sysFork         = 57
	sysVfork        = 58
	sysExecve       = 59
	sysPtrace       = 101
	sysOpenat       = 257
	sysExecveat     = 322
	sysPkeyMprotect = 329
	sysClone3       = 435
	sysOpenat2      = 437
	protExec        = 4
)

// window accumulates one VM's events of one window. Windows are pooled by
// the Featurizer and reset on reuse.
type window struct {
	start    int64
	events   uint32
	kinds    [events.NumKinds]uint32
	c        [numCounters]uint32
	novel    [numHist]uint32
	emulated uint64
	d        [numDistinct]distinct
	sk       sketch
}

func (w *window) reset(start int64) {
	sk := w.sk
	sk.reset()
	*w = window{start: start, sk: sk}
}

// add folds ev into the window; v supplies the VM's history and threads.
func (w *window) add(ev *events.Event, v *vmState, n int) {
	w.events++
	k := ev.Kind
	if k >= events.NumKinds {
		k = events.KindUnknown
	}
	w.kinds[k]++
	switch k {
	case events.KindIO:
		port := ev.Code & 0xffff
		w.item(v, sPorts, port)
		write := ev.Args[0] == events.DirWrite
		if write {
			w.c[cIOWrite]++
		}
		switch {
		case port >= 0x3F0 && port <= 0x3F7:
			w.c[cFloppy]++
			if write && port == 0x3F5 {
				w.c[cFloppyFIFOWrite]++
			}
		case port >= 0xCF8 && port <= 0xCFF:
			w.c[cPCICfg]++
			if write && port == 0xCF8 {
				w.d[sPCIAddrs].add(mix(ev.Args[2]))
			}
		}
	case events.KindMMIO:
		w.item(v, sMMIOPages, ev.Code>>12)
	case events.KindMSR:
		w.item(v, sMSRs, ev.Code)
		if ev.Args[0] == events.DirWrite {
			w.c[cMSRWrite]++
		}
		if ev.Args[2] != 0 {
			w.c[cMSRFault]++
		}
		if pmcMSR(ev.Code) {
			w.c[cMSRPMC]++
		}
	case events.KindExitOther:
		if ev.Code == events.LossCode {
			w.c[cLost] += uint32(min(ev.Args[0], 1<<31))
		}
	case events.KindCPUID:
		w.item(v, sCPUIDLeaves, ev.Code)
		if ev.Code >= 0x40000000 && ev.Code <= 0x400000FF {
			w.c[cCPUIDHypervisor]++
		}
	case events.KindHypercall:
		w.item(v, sHypercalls, ev.Code)
	case events.KindPageFault:
		if ev.Args[0]&events.PFWrite != 0 {
			w.c[cFaultWrite]++
		}
		if ev.Args[0]&events.PFFetch != 0 {
			w.c[cFaultExec]++
		}
		w.d[sGPARegions].add(mix(ev.Code >> 21))
	case events.KindEmulation:
		w.emulated += ev.Args[0]
		return // a count, not an exit: no n-gram
	case events.KindSyscall:
		w.syscall(ev, v, n)
		return
	}
	if k.GuestSide() {
		w.ngram(v, ev.TID, StreamExit, uint32(k), n)
	}
}

func (w *window) syscall(ev *events.Event, v *vmState, n int) {
	nr := ev.Code
	w.item(v, sSyscalls, nr)
	switch nr {
	case sysExecve, sysExecveat:
		w.c[cSysExec]++
	case sysFork, sysVfork, sysClone, sysClone3:
		w.c[cSysFork]++
	case sysPtrace:
		w.c[cSysPtrace]++
	case sysSocket, sysConnect:
		w.c[cSysSocket]++
	case sysMmap, sysMprotect, sysPkeyMprotect:
		if ev.Args[2]&protExec != 0 {
			w.c[cSysProtExec]++
		}
	case sysOpen, sysOpenat, sysOpenat2:
		w.c[cSysOpen]++
	}
	w.ngram(v, ev.TID, StreamSyscall, uint32(nr), n)
}

// item counts x as a distinct item of stream s and as novel if the VM's
// history did not hold it.
func (w *window) item(v *vmState, s int, x uint64) {
	h := mix(x)
	w.d[s].add(h)
	if !v.hist.seenOrAdd(s, h) {
		w.novel[s]++
	}
}

func (w *window) ngram(v *vmState, tid int32, stream uint8, it uint32, n int) {
	h, ok := v.threads.push(tid, stream, it, n)
	if !ok {
		return
	}
	w.sk.add(h)
	s := sExitNGrams
	if stream == StreamSyscall {
		s = sSyscallNGrams
	}
	w.item(v, s, h)
}

// values computes the window's feature vector. warm reports whether the VM
// is past its warm-up (novelty features are 0 before).
func (w *window) values(secs float64, warm bool) []float64 {
	x := make([]float64, numFeatures)
	rate := func(c uint32) float64 { return float64(c) / secs }
	k := &w.kinds
	var exits uint32
	for kind := events.KindIO; kind <= events.KindInterrupt; kind++ {
		if kind != events.KindEmulation {
			exits += k[kind]
		}
	}
	x[fExitsTotal] = float64(exits)
	x[fRateIO] = rate(k[events.KindIO])
	x[fRateMMIO] = rate(k[events.KindMMIO])
	x[fRateMSR] = rate(k[events.KindMSR])
	x[fRateCPUID] = rate(k[events.KindCPUID])
	x[fRateHLT] = rate(k[events.KindHLT])
	x[fRateHypercall] = rate(k[events.KindHypercall])
	x[fRateCRDR] = rate(k[events.KindCR] + k[events.KindDR])
	x[fRateException] = rate(k[events.KindException])
	x[fRatePageFault] = rate(k[events.KindPageFault])
	x[fRateUserspaceExit] = rate(k[events.KindUserspaceExit])
	x[fRateInterrupt] = rate(k[events.KindInterrupt])
	x[fRateExitOther] = rate(k[events.KindExitOther])
	x[fEmulationRate] = float64(w.emulated) / secs

	x[fIOPortsDistinct] = w.d[sPorts].estimate()
	if k[events.KindIO] > 0 {
		x[fIOWriteShare] = float64(w.c[cIOWrite]) / float64(k[events.KindIO])
	}
	x[fFloppyRate] = rate(w.c[cFloppy])
	x[fFloppyFIFOWriteRate] = rate(w.c[cFloppyFIFOWrite])
	x[fPCICfgRate] = rate(w.c[cPCICfg])
	x[fPCICfgAddrDistinct] = w.d[sPCIAddrs].estimate()
	x[fMMIOPagesDistinct] = w.d[sMMIOPages].estimate()
	x[fMSRDistinct] = w.d[sMSRs].estimate()
	x[fMSRWriteRate] = rate(w.c[cMSRWrite])
	x[fMSRFaultRate] = rate(w.c[cMSRFault])
	x[fMSRPMCRate] = rate(w.c[cMSRPMC])
	x[fSensorLost] = float64(w.c[cLost])
	x[fCPUIDLeavesDistinct] = w.d[sCPUIDLeaves].estimate()
	x[fCPUIDHypervisorRate] = rate(w.c[cCPUIDHypervisor])
	x[fHypercallNrsDistinct] = w.d[sHypercalls].estimate()
	x[fGuestFaultWriteRate] = rate(w.c[cFaultWrite])
	x[fGuestFaultExecRate] = rate(w.c[cFaultExec])
	x[fGuestFaultRegions] = w.d[sGPARegions].estimate()
	x[fSyscallRate] = rate(k[events.KindSyscall])
	x[fSyscallNrsDistinct] = w.d[sSyscalls].estimate()
	x[fSyscallExecRate] = rate(w.c[cSysExec])
	x[fSyscallForkRate] = rate(w.c[cSysFork])
	x[fSyscallPtraceRate] = rate(w.c[cSysPtrace])
	x[fSyscallSocketRate] = rate(w.c[cSysSocket])
	x[fSyscallProtExecRate] = rate(w.c[cSysProtExec])
	x[fSyscallOpenRate] = rate(w.c[cSysOpen])
	x[fProcForks] = float64(k[events.KindProcFork])
	x[fProcExecs] = float64(k[events.KindProcExec])
	x[fProcExits] = float64(k[events.KindProcExit])
	x[fFatalSignals] = float64(k[events.KindSignal])
	x[fHostFaultRate] = rate(k[events.KindHostFault])

	if warm {
		x[fIOPortsNovel] = float64(w.novel[sPorts])
		x[fMMIOPagesNovel] = float64(w.novel[sMMIOPages])
		x[fMSRNovel] = float64(w.novel[sMSRs])
		x[fCPUIDLeavesNovel] = float64(w.novel[sCPUIDLeaves])
		x[fHypercallNrsNovel] = float64(w.novel[sHypercalls])
		x[fSyscallNrsNovel] = float64(w.novel[sSyscalls])
		x[fSyscallNGramNovelty] = share(w.novel[sSyscallNGrams], w.d[sSyscallNGrams].estimate())
		x[fExitNGramNovelty] = share(w.novel[sExitNGrams], w.d[sExitNGrams].estimate())
	}
	return x
}

// share is novel/distinct capped to [0, 1] (distinct is an estimate).
func share(novel uint32, distinct float64) float64 {
	if novel == 0 || distinct <= 0 {
		return 0
	}
	return min(float64(novel)/distinct, 1)
}

// pmcMSR reports whether idx is a performance-monitoring MSR: the general
// counters IA32_PMC0-7 (0xC1-0xC8), their event selectors IA32_PERFEVTSEL0-7
// (0x186-0x18D), the fixed counters and their control (0x309-0x30B, 0x38D)
// and the global status/control (0x38E-0x390), and AMD's PerfCtl/PerfCtr
// (0xC0010000-0xC0010007). Timing side channels that use the vPMU program
// and read these.
func pmcMSR(idx uint64) bool {
	switch {
	case idx >= 0xC1 && idx <= 0xC8, idx >= 0x186 && idx <= 0x18D,
		idx >= 0x309 && idx <= 0x30B, idx >= 0x38D && idx <= 0x390,
		idx >= 0xC0010000 && idx <= 0xC0010007:
		return true
	}
	return false
}

// Package vmbase is the per-VM streaming baseline detector: it scores how far
// a VM's window rises above what that same VM has done before, so a VM doing
// for the first time what other VMs do routinely (a few floppy-controller
// writes, CPUID of hypervisor leaves, an exec of the VMM) stands out even
// when the rate is well inside the fleet's benign envelope.
//
// # State per VM
//
// For every feature j the State keeps, in log1p units of the raw value:
//
//   - an envelope e_j, a decaying maximum: e_j ← max(l_j, e_j − Decay) per
//     learned window (Decay 0.0001 per 1 s window forgets one log1p unit,
//     a factor e on the rate, in about 2.8 hours);
//   - a location m_j, an exponentially weighted median by stochastic
//     approximation: m_j ← m_j + Eta·sign(l_j − m_j) (the first 30 windows
//     move it by a tenth of the difference so it settles quickly).
//
// That is 2 float32 per feature plus a counter: 53 features take 424 bytes.
// The scorer calls Learn only for windows that are not anomalous, so the
// baseline is frozen while the VM is above threshold.
//
// # Score
//
// Features are grouped by the primitive they count (device emulation, the
// instruction emulator, privileged instructions, hypercalls, memory faults,
// VMM system calls; Groups maps feature names). For each group g:
//
//   - rise_g = max over its features of (l_j − e_j) / max(s_j, e_j), the rise
//     above the VM's own envelope in units of the feature's fleet-wide
//     robust scale s_j (the Standardizer's), or of the envelope itself when
//     the VM already used the primitive (so a VM that already ran lspci at
//     100/s is not alarming at 300/s, while one that never touched the PCI
//     configuration ports is at 2/s);
//   - act_g = max over its features of (l_j − m_j) / s_j, how far the group is
//     above the VM's usual level right now.
//
// The score is
//
//	ln(1 + max(0, rise_b − Slack) / (1 + Beta·Σ_{g≠b} max(0, act_g − Delta)))
//
// with b the group of the largest rise (Slack 7, Beta 1, Delta 2). Slack
// makes one event of a rare feature free (log1p(1)/0.1 = 6.93 at the floor
// scale): benign VMs do a single thing they had not done in hours now and
// then (a worker thread's clone, an open, an exception), an attempt does
// more. The logarithm keeps the top of the benign distribution, a few
// discrete levels, from reading as a heavy tail. An escape attempt works one primitive;
// a benign change of regime (a reboot's probing, a job starting) moves
// several groups at once, and the penalty explains it away: a reboot probes
// the floppy and PCI ports the VM had not touched for hours, but it also
// emulates hundreds of instructions per second and faults in fresh memory.
//
// # Warm-up
//
// A State scores 0 until it has learned Warmup windows (default 900: fifteen
// minutes of 1 s windows), the time a VM needs to show its periodic
// activity (timers, agents) once. Training sets another with
// training.TrainConfig.BaselineWarmup (escapement train --vmbase-warmup) for
// VMs whose slowest benign cycle is far shorter, such as the lab's guests.
//
// # Fit
//
// The detector has no parameters learned from data beyond the Standardizer
// it is given (Median, Scale): Fit checks the sequences and the dimension.
// What training does learn is its calibration, by replaying held-out VMs'
// windows in time order through fresh States (training.Fit). The score is
// on a log scale, so the detector is a models.TailScaler: its calibrated tail
// is exponential with a scale of at least DefaultMinTailScale.
package vmbase

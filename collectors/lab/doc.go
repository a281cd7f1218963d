// Package lab runs real guests on /dev/kvm that behave normally or attempt
// VM-escape techniques, with ground truth, so that Escapement can be shown
// to detect escapes from real hypervisor telemetry.
//
// Each lab VM is its own process, a small VMM (package vmm) running one of
// the real-mode payloads of package guest. The process is started as
//
//	escapement-lab-vmm -name guest=<vm> -vcpus N -phases <JSON>
//
// (argv[0] and -name as QEMU writes them), so the live collector discovers
// it by its command line, or by its open /dev/kvm, and names it as it names
// a QEMU guest. By default Run and RunPlan re-execute the running binary
// with EnvVMM=1 set; that binary must call VMMMain first thing when IsVMM
// reports true (cmd/escapement and this package's TestMain do). Spec.Exe
// may instead name collectors/lab/cmd/escapement-lab-vmm.
//
// The lab produces no events itself. What a guest does reaches detection
// only through the kernel: KVM tracepoints and the VMM process's system
// calls, read by the live collector. The VMM's device-model counters and
// the payloads' self-reports in Result exist to test that each workload
// does what it claims.
//
// Workloads: six benign ones (idle, console, disk-io, net-mmio, compute,
// boot-probe) at their own randomised pace, and eight escape techniques
// (threat classes and names shared with the fleet simulator, ATT&CK T1611)
// at a flood or a stealthy rate. A benign workload at an attack's rate is a
// placebo. A Plan mixes VMs, base workloads and attack windows; RunPlan
// runs it and returns labels in the simulator's Scenario shape with the
// window times as the VMMs actually ran them. docs/lab.md describes every
// workload at instruction level and the exits it causes.
//
// A plan VM with VMM "qemu" is run by qemu-system-x86_64 instead (started
// with -name guest=<vm> as well, stopped at the end of the plan): SeaBIOS
// looping with nothing to boot, or a benign UART/PIT boot sector of ours
// (qemuboot.asm) from an IDE disk image: traffic from a VMM nobody here
// wrote. Without windows it is benign for the whole run; a console-pit VM
// may take QEMUAttacks windows, which its boot sector (qemuattack.asm) runs
// when the lab presses a key through QMP, once the sector runs.
//
// Capture runs a plan under a collector given by the caller (the live KVM
// collector in practice) and passes on only the events of the plan's VMs;
// PlanSource wraps the same as a collectors.Collector for the publisher.
// The package does not import the collector it is given.
package lab

package lab

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"time"
)

//go:generate nasm -f bin -o qemuboot.bin qemuboot.asm

// qemuBoot is qemuboot.asm assembled: the boot sector of QEMU workload
// QEMUConsolePIT.
//
//go:embed qemuboot.bin
var qemuBoot []byte

// VMMs a plan VM may run under (PlanVM.VMM).
const (
	VMMLab  = "lab"  // the lab's own VMM (the default, also written "")
	VMMQEMU = "qemu" // Debian's qemu-system-x86_64 on KVM
)

// QEMU workloads: what a plan VM with vmm: qemu runs. Both are benign.
const (
	// QEMUFirmware is SeaBIOS with no bootable device, no default drives
	// and no NIC: it probes PCI and the disk controllers, prints "No
	// bootable device", waits a second and reboots, for the whole run.
	QEMUFirmware = "firmware"
	// QEMUConsolePIT is the boot sector qemuboot.asm booted from an IDE
	// disk image (no default devices: no floppy drive, CD-ROM or NIC):
	// UART chatter and PIT reads through QEMU's own 16550 and 8254 at a
	// randomised pace on SeaBIOS's 18.2 Hz timer tick.
	QEMUConsolePIT = "console-pit"
)

// QEMUBinary is the QEMU executable a plan VM with vmm: qemu runs, looked
// up in PATH.
const QEMUBinary = "qemu-system-x86_64"

// QEMUWorkloads lists the workloads of VMs run by QEMU.
func QEMUWorkloads() []string { return []string{QEMUConsolePIT, QEMUFirmware} }

// CheckQEMU reports whether QEMU VMs can run here: it finds QEMUBinary and
// /dev/kvm, and says what to install or fix when they are missing.
func CheckQEMU() error {
	if _, err := exec.LookPath(QEMUBinary); err != nil {
		return fmt.Errorf("lab: %s not found: install it (apt-get install -y qemu-system-x86) to run plan VMs with vmm: qemu", QEMUBinary)
	}
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("lab: QEMU VMs need /dev/kvm read-write (run as root on a KVM host): %w", err)
	}
	return f.Close()
}

// validateQEMU checks a plan VM run by QEMU.
func validateQEMU(v PlanVM) error {
	if !slices.Contains(QEMUWorkloads(), v.Workload) {
		return fmt.Errorf("lab: VM %s: QEMU workload %q: use one of %v", v.Name, v.Workload, QEMUWorkloads())
	}
	if v.VCPUs < 0 || v.VCPUs > 4 {
		return fmt.Errorf("lab: VM %s: vcpus %d: give 1 to 4", v.Name, v.VCPUs)
	}
	return nil
}

// qemuArgs is QEMU's command line (after argv[0]) for a VM called name
// running workload, with its serial port written to serial and, for
// QEMUConsolePIT, the boot disk image disk; qmp, when set, is the path of a
// QMP control socket.
func qemuArgs(name, workload string, vcpus int, serial, disk, qmp string) []string {
	if vcpus == 0 {
		vcpus = 1
	}
	args := []string{"-enable-kvm", "-m", "64", "-smp", fmt.Sprint(vcpus),
		"-nographic", "-display", "none", "-monitor", "none", "-vga", "none",
		// No NIC: iPXE's option ROM stops with a KVM emulation failure
		// under PVM (an iret in its protected-mode code), see docs/lab.md.
		"-nic", "none",
		"-serial", "file:" + serial,
		// -name guest=: how the collector discovers and names the VM;
		// debug-threads: vCPU threads are named "CPU n/KVM".
		"-name", "guest=" + name + ",debug-threads=on"}
	if qmp != "" {
		args = append(args, "-qmp", "unix:"+qmp+",server=on,wait=off")
	}
	switch workload {
	case QEMUConsolePIT:
		// An IDE disk and no default devices. Not a floppy: SeaBIOS's
		// floppy timeouts expire under PVM emulation on a loaded machine
		// (boot failed, then an endless reboot loop), and its floppy
		// reads put bursts of FIFO writes on 0x3F5, whose size and timing
		// vary from boot to boot with the load, into benign traffic.
		args = append(args, "-nodefaults", "-drive", "format=raw,file="+disk+",if=ide", "-boot", "order=c")
	case QEMUFirmware:
		// Nothing to boot and no default drives (no CD-ROM or floppy
		// drive to time out on): SeaBIOS probes, fails, waits a second
		// and reboots, a cycle of about 4 s here.
		args = append(args, "-nodefaults", "-boot", "reboot-timeout=1000")
	}
	return args
}

// diskImage writes a 1.44 MB raw disk image with boot sector b at path.
func diskImage(path string, b []byte) error {
	img := make([]byte, 1474560)
	copy(img, b)
	return os.WriteFile(path, img, 0o600)
}

// runQEMU runs QEMU as the VMM of plan VM v for d (or until ctx ends) and
// returns a Result with one phase (its start, end and serial tail) or, when
// v has windows, one per phase of phases with the times the windows really
// ran (see qemuWindows; the serial tail is on the last). QEMU is stopped
// with SIGTERM (SIGKILL 5 s later); an exit before the end of d is an error,
// with QEMU's stderr, and so is a window the guest did not start.
func runQEMU(ctx context.Context, v PlanVM, d time.Duration, phases []Phase) (Result, error) {
	vcpus := v.VCPUs
	if vcpus == 0 {
		vcpus = 1
	}
	res := Result{VM: v.Name, VMM: VMMQEMU, VCPUs: vcpus}
	dir, err := os.MkdirTemp("", "escapement-qemu-")
	if err != nil {
		return res, fmt.Errorf("lab: QEMU VM %s: temporary directory: %w", v.Name, err)
	}
	defer os.RemoveAll(dir) //nolint:errcheck // best effort
	serial := filepath.Join(dir, "serial.txt")
	disk := filepath.Join(dir, "disk.img")
	sector, qmpPath := qemuBoot, ""
	if len(v.Windows) > 0 {
		sector, qmpPath = qemuAttack, filepath.Join(dir, "qmp.sock")
	}
	if v.Workload == QEMUConsolePIT {
		if err := diskImage(disk, sector); err != nil {
			return res, fmt.Errorf("lab: QEMU VM %s: boot image: %w", v.Name, err)
		}
	}
	exe, err := exec.LookPath(QEMUBinary)
	if err != nil {
		return res, CheckQEMU()
	}
	var stderr bytes.Buffer
	cmd := exec.Command(exe, qemuArgs(v.Name, v.Workload, v.VCPUs, serial, disk, qmpPath)...)
	cmd.Stderr = &stderr
	// QEMU must not outlive the run that started it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	pr := PhaseResult{Workload: v.Workload, Start: time.Now().UTC()}
	if err := cmd.Start(); err != nil {
		return res, fmt.Errorf("lab: start QEMU VM %s: %w", v.Name, err)
	}
	res.PID = cmd.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	timer := time.NewTimer(d)
	defer timer.Stop()
	type windowsResult struct {
		phases []PhaseResult
		err    error
	}
	wctx, stopWindows := context.WithCancel(ctx)
	defer stopWindows()
	var windows chan windowsResult // nil (never ready) without windows
	if qmpPath != "" {
		windows = make(chan windowsResult, 1)
		go func() {
			ph, err := qemuWindows(wctx, pr.Start, phases, qmpPath, serial, time.Duration(v.Settle))
			windows <- windowsResult{ph, err}
		}()
	}
	var runErr error
	var winPhases []PhaseResult
	early := false
	for running := true; running; {
		select {
		case w := <-windows: // the last window is over, or one failed
			winPhases, windows = w.phases, nil
			if w.err != nil {
				runErr, running = fmt.Errorf("lab: QEMU VM %s: window: %w", v.Name, w.err), false
			}
		case err := <-exited:
			early, running = true, false
			runErr = fmt.Errorf("lab: QEMU VM %s exited after %v, before its run of %v ended (%v); stderr: %s",
				v.Name, time.Since(pr.Start).Round(time.Millisecond), d, err, bytes.TrimSpace(stderr.Bytes()))
		case <-timer.C:
			running = false
		case <-ctx.Done():
			runErr, running = ctx.Err(), false
		}
	}
	if !early {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited: //nolint:errcheck // stopped on purpose: its exit status is SIGTERM's
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited //nolint:errcheck // killed on purpose
		}
	}
	stopWindows()
	if windows != nil {
		w := <-windows
		winPhases = w.phases
		if w.err != nil && runErr == nil && !errors.Is(w.err, context.Canceled) {
			runErr = fmt.Errorf("lab: QEMU VM %s: window: %w", v.Name, w.err)
		}
	}
	pr.End = time.Now().UTC()
	if s, err := os.ReadFile(serial); err == nil {
		if len(s) > 256 {
			s = s[len(s)-256:]
		}
		pr.Serial = string(s)
	}
	res.Phases = []PhaseResult{pr}
	if qmpPath != "" {
		res.Phases = winPhases
		if n := len(res.Phases); n > 0 {
			if res.Phases[n-1].End.IsZero() {
				res.Phases[n-1].End = pr.End
			}
			res.Phases[n-1].Serial = pr.Serial
		}
	}
	return res, runErr
}

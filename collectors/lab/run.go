package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"syscall"
	"time"
)

// Spec is one lab VM running one workload.
type Spec struct {
	// Name is the VM's opaque name: its VMM runs as
	// "escapement-lab-vmm -name guest=<Name> ...", which is how the
	// collector discovers it and names its vm_id. Letters, digits, '.',
	// '_' and '-' only.
	Name     string
	Workload string        // a Workload name (Workloads)
	Rate     string        // RateFlood, RateStealthy or RateNatural ("")
	Duration time.Duration // > 0
	Seed     uint64
	VCPUs    int // 1..4; default 1
	// Exe is the binary to run as the VMM: one that calls VMMMain when
	// IsVMM (cmd/escapement, a test binary with TestMain doing so) or
	// collectors/lab/cmd/escapement-lab-vmm. Default: this executable.
	Exe string
}

var validName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// Run starts the VMM of spec as its own process (so it has its own pid and
// vm_id), waits for the duration and returns what the VMM counted. When
// ctx ends first the VMM is stopped with SIGTERM and the partial result is
// returned with ctx's error.
func Run(ctx context.Context, spec Spec) (Result, error) {
	if spec.Duration <= 0 {
		return Result{}, fmt.Errorf("lab: Spec.Duration is %v: give a positive duration", spec.Duration)
	}
	return runVMM(ctx, spec.Name, spec.VCPUs, spec.Exe, []Phase{{Workload: spec.Workload, Rate: spec.Rate, Seed: spec.Seed, Duration: spec.Duration}})
}

// runVMM runs the phases in one VMM child process.
func runVMM(ctx context.Context, name string, vcpus int, exe string, phases []Phase) (Result, error) {
	if !validName.MatchString(name) {
		return Result{}, fmt.Errorf("lab: VM name %q: use 1-64 letters, digits, '.', '_' or '-'", name)
	}
	if vcpus == 0 {
		vcpus = 1
	}
	var total time.Duration
	for i, ph := range phases {
		if _, _, err := prepare(ph); err != nil {
			return Result{}, fmt.Errorf("phase %d: %w", i, err)
		}
		if ph.Duration <= 0 {
			return Result{}, fmt.Errorf("lab: phase %d of %s has duration %v: give a positive duration", i, name, ph.Duration)
		}
		total += ph.Duration
	}
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return Result{}, fmt.Errorf("lab: find this executable to re-run as the VMM: %w (set Spec.Exe)", err)
		}
	}
	pj, err := json.Marshal(phases)
	if err != nil {
		return Result{}, err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, exe)
	cmd.Args = []string{VMMArgv0, "-name", "guest=" + name, "-vcpus", fmt.Sprint(vcpus), "-phases", string(pj)}
	cmd.Env = append(os.Environ(), EnvVMM+"=1")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	runErr := cmd.Run()
	var res Result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		return res, fmt.Errorf("lab: VMM %s (%s) gave no result: %v; stderr: %s (does %s call lab.VMMMain when lab.IsVMM()?)",
			name, exe, errors.Join(runErr, err), bytes.TrimSpace(stderr.Bytes()), exe)
	}
	if res.Error != "" {
		return res, fmt.Errorf("lab: VMM %s: %s", name, res.Error)
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	if runErr != nil {
		return res, fmt.Errorf("lab: VMM %s: %w; stderr: %s", name, runErr, bytes.TrimSpace(stderr.Bytes()))
	}
	return res, nil
}

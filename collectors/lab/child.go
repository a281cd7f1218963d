package lab

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/escapement/escapement/collectors/lab/vmm"
	"golang.org/x/sys/unix"
)

// EnvVMM is set to "1" in the environment of a lab VMM process. A binary
// that starts lab VMMs by re-executing itself (the default, see Spec.Exe)
// must call VMMMain when IsVMM reports true, before anything else:
//
//	if lab.IsVMM() { os.Exit(lab.VMMMain(os.Args[1:], os.Stdout)) }
const EnvVMM = "ESCAPEMENT_LAB_VMM"

// VMMArgv0 is argv[0] of every lab VMM process; with "-name guest=<vm>"
// after it, a collector discovers the VM as it discovers QEMU's.
const VMMArgv0 = "escapement-lab-vmm"

// IsVMM reports whether this process was started as a lab VMM.
func IsVMM() bool { return os.Getenv(EnvVMM) == "1" }

// Phase is one stretch of a lab VM's life: a workload at a rate, for a
// duration. Consecutive phases reboot the same VM into the next payload.
type Phase struct {
	Workload string        `json:"workload"`
	Rate     string        `json:"rate,omitempty"`
	Seed     uint64        `json:"seed"`
	Duration time.Duration `json:"duration"`
	// Level, when set, pins a benign workload's natural intensity at this
	// point of its range (0 the lowest, 1 the highest) instead of drawing
	// it from Seed.
	Level *float64 `json:"level,omitempty"`
}

// PhaseResult is what the VMM saw during one phase: its own device-model
// counters and the payload's report, never telemetry for detection.
type PhaseResult struct {
	Workload  string            `json:"workload"`
	Rate      string            `json:"rate,omitempty"`
	Intensity string            `json:"intensity,omitempty"`
	Start     time.Time         `json:"start"`
	End       time.Time         `json:"end"`
	TickHz    float64           `json:"tick_hz"`
	Burst     int               `json:"burst"`
	Counters  vmm.Counters      `json:"counters"`
	Guest     []vmm.GuestReport `json:"guest"`
	Post      PostCounts        `json:"post"`
	Serial    string            `json:"serial,omitempty"` // last 256 bytes of COM1
}

// Result is the outcome of one lab VMM process.
type Result struct {
	VM     string        `json:"vm"`
	VMM    string        `json:"vmm,omitempty"` // VMMQEMU for a QEMU VM, "" for the lab's VMM
	PID    int           `json:"pid"`
	VCPUs  int           `json:"vcpus"`
	Phases []PhaseResult `json:"phases"`
	Error  string        `json:"error,omitempty"`
}

// VMMMain is the body of a lab VMM process: it parses its arguments
// (-name guest=<vm> -vcpus N -phases <JSON array of Phase>), runs the
// phases on one KVM VM until they end or SIGTERM/SIGINT arrives, writes
// its Result as JSON to out and returns the exit status (0 ok, 1 the VM
// failed, 2 bad arguments).
func VMMMain(args []string, out io.Writer) int {
	fs := flag.NewFlagSet(VMMArgv0, flag.ContinueOnError)
	name := fs.String("name", "", "guest=<vm name>, as QEMU's -name")
	vcpus := fs.Int("vcpus", 1, "number of vCPUs")
	phasesJSON := fs.String("phases", "", "JSON array of phases")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	vm, ok := strings.CutPrefix(*name, "guest=")
	var phases []Phase
	if err := json.Unmarshal([]byte(*phasesJSON), &phases); err != nil || !ok || vm == "" || len(phases) == 0 {
		fmt.Fprintf(os.Stderr, "%s: give -name guest=<vm> and -phases with a JSON array of phases (%v)\n", VMMArgv0, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	// Die with the parent: a lab VM must not outlive the run that started it.
	_ = unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(syscall.SIGTERM), 0, 0, 0)
	res := runPhases(ctx, vm, *vcpus, phases)
	if err := json.NewEncoder(out).Encode(res); err != nil {
		return 1
	}
	if res.Error != "" {
		return 1
	}
	return 0
}

func runPhases(ctx context.Context, vm string, vcpus int, phases []Phase) Result {
	res := Result{VM: vm, PID: os.Getpid(), VCPUs: vcpus}
	fail := func(err error) Result {
		res.Error = err.Error()
		return res
	}
	post, err := newPostExploit()
	if err != nil {
		return fail(err)
	}
	var m *vmm.Machine
	defer func() {
		if m != nil {
			m.Close()
		}
	}()
	for i, ph := range phases {
		if ctx.Err() != nil {
			break
		}
		w, b, err := prepare(ph)
		if err != nil {
			return fail(fmt.Errorf("phase %d: %w", i, err))
		}
		if m == nil {
			m, err = vmm.New(vmm.Config{
				VCPUs: vcpus, Program: b.program, Params: b.params, TickHz: b.timing.hz, Jitter: b.timing.jitter,
				Seed: ph.Seed, Logger: slog.New(slog.DiscardHandler),
				OnControl: func(_ int, code uint16) {
					if code == vmm.CtlTrigger {
						post.run()
					}
				},
			})
		} else {
			err = m.Reboot(b.program, b.params, b.timing.hz, b.timing.jitter)
		}
		if err != nil {
			return fail(fmt.Errorf("phase %d (%s): %w", i, ph.Workload, err))
		}
		before := post.snapshot()
		pr := PhaseResult{Workload: w.Name, Rate: ph.Rate, Intensity: w.Intensity(ph.Rate),
			TickHz: b.timing.hz, Burst: int(b.timing.burst), Start: time.Now().UTC()}
		pctx, cancel := context.WithTimeout(ctx, ph.Duration)
		err = m.Run(pctx)
		cancel()
		pr.End = time.Now().UTC()
		pr.Counters = m.Counters()
		for c := 0; c < vcpus; c++ {
			pr.Guest = append(pr.Guest, m.Report(c))
		}
		pr.Post = diffPost(post.snapshot(), before)
		if s := m.SerialOutput(); len(s) > 256 {
			pr.Serial = s[len(s)-256:]
		} else {
			pr.Serial = s
		}
		res.Phases = append(res.Phases, pr)
		if err != nil {
			return fail(fmt.Errorf("phase %d (%s): %w", i, ph.Workload, err))
		}
	}
	return res // stopped by a signal or at the end of the phases: a normal end
}

func diffPost(a, b PostCounts) PostCounts {
	return PostCounts{
		Triggers: a.Triggers - b.Triggers, ShellRuns: a.ShellRuns - b.ShellRuns, ShellFails: a.ShellFails - b.ShellFails,
		Opens: a.Opens - b.Opens, Connects: a.Connects - b.Connects, Mprotects: a.Mprotects - b.Mprotects,
		LastError: a.LastError,
	}
}

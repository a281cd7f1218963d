// Command lab-eval measures, on real KVM guests, whether the detector
// ensemble beats each of its detectors alone: it records a benign training
// dataset and a detection dataset (benign VMs, stealthy and flood escape
// attempts, QEMU guests) with `escapement lab record`, trains a model on the
// first (`escapement train --platform pvm --grace-windows ...`), evaluates it
// on the second (`escapement eval --per-detector --json`) and prints the
// table of docs/models.md ("On lab recordings"): per-window PR-AUC, ROC-AUC,
// detection at 1 % and 0.1 % false positives, floods and stealthy attempts
// detected, false alerts per VM-hour, and whether the ensemble beats every
// single detector on PR-AUC and meets the alert budget.
//
// Needs root, /dev/kvm, tracefs with the kvm events and (unless -no-qemu)
// qemu-system-x86_64. Run from the repository root:
//
//	go run ./scripts/lab-eval -out /tmp/lab-eval
//
// Progress goes to stderr, the table to stdout. The datasets, plans, model
// and eval JSON stay in -out; -reuse skips the recordings already there, so
// the training and evaluation steps can be re-run on the same recordings.
// Exit status: 0 when the claim holds, 3 when it does not, 1 on errors.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/escapement/escapement/collectors/kvm"
	"github.com/escapement/escapement/collectors/lab"
)

type config struct {
	out, bin, tracefs string
	plans             planConfig
	grace, novelty    int
	vmbaseWarmup      int
	holdout           float64
	trainSeed         uint64
	budget            float64
	reuse             bool
}

func main() {
	var c config
	flag.StringVar(&c.out, "out", "", "working `directory`: plans, datasets (train, detect), model, eval.json (default: a new temporary directory)")
	flag.StringVar(&c.bin, "bin", "", "escapement `binary` to run (default: built from ./cmd/escapement into -out)")
	flag.StringVar(&c.tracefs, "tracefs", kvm.DefaultTracefs, "tracefs mount `point`")
	flag.Uint64Var(&c.plans.Seed, "seed", 301, "plan `seed` (the detection plan uses seed+1)")
	flag.DurationVar(&c.plans.TrainDuration, "train-duration", 210*time.Second, "length of the benign training recording")
	flag.DurationVar(&c.plans.DetectDuration, "detect-duration", 210*time.Second, "length of the detection recording (must hold the quiet start, the stealthy and the flood windows)")
	flag.DurationVar(&c.plans.Stealthy, "stealthy", 60*time.Second, "length of each stealthy attempt")
	flag.DurationVar(&c.plans.Flood, "flood", 15*time.Second, "length of each flood")
	flag.BoolVar(&c.plans.NoQEMU, "no-qemu", false, "leave the QEMU guests out of both plans")
	flag.IntVar(&c.grace, "grace-windows", 20, "escapement train --grace-windows: each VM's first windows (start-up, SeaBIOS boot) neither learnt nor judged")
	flag.IntVar(&c.novelty, "warmup-windows", 20, "escapement lab record --warmup-windows: novelty features stay 0 over a VM's first windows")
	flag.IntVar(&c.vmbaseWarmup, "vmbase-warmup", 60, "escapement train --vmbase-warmup: windows the per-VM baseline learns before it scores (0 = its default of 900, longer than these recordings)")
	flag.Float64Var(&c.holdout, "holdout", 0.5, "escapement train --holdout: share of the training VMs (per group) held out for calibration")
	flag.Uint64Var(&c.trainSeed, "train-seed", 1, "escapement train --seed")
	flag.Float64Var(&c.budget, "budget", 1, "alert budget, false incidents per VM-day (escapement train --budget)")
	flag.BoolVar(&c.reuse, "reuse", false, "keep recordings already in -out (their manifest.json exists) instead of recording again")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ok, err := run(ctx, c, os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "lab-eval:", err)
		os.Exit(1)
	}
	if !ok {
		os.Exit(3)
	}
}

func run(ctx context.Context, c config, stdout, stderr io.Writer) (bool, error) {
	began := time.Now()
	if c.out == "" {
		d, err := os.MkdirTemp("", "lab-eval-")
		if err != nil {
			return false, err
		}
		c.out = d
	}
	if err := os.MkdirAll(c.out, 0o755); err != nil {
		return false, err
	}
	warm := c.vmbaseWarmup
	if warm == 0 {
		warm = 900
	}
	// Every VM is quiet until the grace and the baseline's warm-up are
	// over (1 s windows), plus a margin for VMs discovered late.
	c.plans.Quiet = time.Duration(c.grace+warm+10) * time.Second
	tp, err := trainPlan(c.plans)
	if err != nil {
		return false, err
	}
	dp, err := detectPlan(c.plans)
	if err != nil {
		return false, err
	}
	trainDir, detectDir := filepath.Join(c.out, "train"), filepath.Join(c.out, "detect")
	needRecord := !(c.reuse && exists(filepath.Join(trainDir, "manifest.json")) && exists(filepath.Join(detectDir, "manifest.json")))
	if needRecord {
		if err := kvm.CheckAccess(c.tracefs); err != nil {
			return false, fmt.Errorf("the lab records real guests: %w", err)
		}
		if !c.plans.NoQEMU {
			if err := lab.CheckQEMU(); err != nil {
				return false, fmt.Errorf("%w (or pass -no-qemu)", err)
			}
		}
	}
	if c.bin == "" {
		c.bin = filepath.Join(c.out, "escapement")
		progress(stderr, began, "building %s", c.bin)
		if err := command(ctx, io.Discard, stderr, "go", "build", "-o", c.bin, "./cmd/escapement"); err != nil {
			return false, fmt.Errorf("build escapement (run from the repository root, or pass -bin): %w", err)
		}
	}
	record := func(name, dir string, plan any) error {
		if c.reuse && exists(filepath.Join(dir, "manifest.json")) {
			progress(stderr, began, "reusing %s", dir)
			return nil
		}
		planFile := filepath.Join(c.out, name+"-plan.json")
		b, err := json.MarshalIndent(plan, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(planFile, b, 0o644); err != nil {
			return err
		}
		progress(stderr, began, "recording %s (plan %s)", dir, planFile)
		return command(ctx, stderr, stderr, c.bin, "lab", "record", "--plan", planFile, "--out", dir,
			"--warmup-windows", strconv.Itoa(c.novelty), "--tracefs", c.tracefs, "--log-level", "warn")
	}
	progress(stderr, began, "training plan: %d VMs for %v; detection plan: %d VMs for %v (attacks from %v)",
		len(tp.VMs), c.plans.TrainDuration, len(dp.VMs), c.plans.DetectDuration, c.plans.Quiet)
	if err := record("train", trainDir, tp); err != nil {
		return false, err
	}
	model := filepath.Join(c.out, "model")
	progress(stderr, began, "training %s", model)
	if err := command(ctx, stderr, stderr, c.bin, "train", "--data", trainDir, "--out", model, "--platform", "pvm",
		"--holdout", fmt.Sprint(c.holdout), "--grace-windows", strconv.Itoa(c.grace), "--vmbase-warmup", strconv.Itoa(c.vmbaseWarmup),
		"--seed", fmt.Sprint(c.trainSeed), "--budget", fmt.Sprint(c.budget)); err != nil {
		return false, err
	}
	if err := record("detect", detectDir, dp); err != nil {
		return false, err
	}
	progress(stderr, began, "evaluating %s on %s", model, detectDir)
	evalFile := filepath.Join(c.out, "eval.json")
	f, err := os.Create(evalFile)
	if err != nil {
		return false, err
	}
	err = command(ctx, f, stderr, c.bin, "eval", "--data", detectDir, "--model", model, "--json", "--report", filepath.Join(c.out, "eval.html"))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return false, err
	}
	rep, err := readReport(evalFile)
	if err != nil {
		return false, err
	}
	budget, err := modelBudget(model)
	if err != nil {
		return false, err
	}
	progress(stderr, began, "done; everything is in %s", c.out)
	return printTable(stdout, rep, budget), nil
}

// command runs name with args, its output to stdout and stderr.
func command(ctx context.Context, stdout, stderr io.Writer, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("%s %s: %w (its output is above)", filepath.Base(name), args[0], err)
		}
		return err
	}
	return nil
}

func progress(w io.Writer, began time.Time, format string, args ...any) {
	fmt.Fprintf(w, "lab-eval [%s] %s\n", time.Since(began).Round(time.Second), fmt.Sprintf(format, args...))
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

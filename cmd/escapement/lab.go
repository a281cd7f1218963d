package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/escapement/escapement/collectors"
	"github.com/escapement/escapement/collectors/kvm"
	"github.com/escapement/escapement/collectors/lab"
	"github.com/escapement/escapement/datasets"
	"github.com/escapement/escapement/events"
	"github.com/escapement/escapement/features"
)

func cmdLab(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stdout, "usage: escapement lab run --scenario NAME[:flood|:stealthy] --duration D\n       escapement lab record --plan FILE --out DIR [--duration D] [--events] [--record FILE]\n       escapement lab list\n\nReal guests on /dev/kvm that behave normally or attempt escape techniques (docs/lab.md).\n`lab run` produces no events itself: run `escapement collect --source kvm` beside it.\n`lab record` runs a plan under the live KVM collector and writes a labelled dataset.")
		return nil
	}
	switch args[0] {
	case "list":
		w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "WORKLOAD\tCLASS\tBENIGN")
		for _, wl := range lab.Workloads() {
			fmt.Fprintf(w, "%s\t%s\t%v\n", wl.Name, wl.Class, wl.Benign)
		}
		return w.Flush()
	case "run":
		fs, cfgFile := newFlagSet("lab run", "Run one lab VM (its own VMM process on /dev/kvm) with a workload, then print its result as JSON.", stderr)
		scenario := fs.String("scenario", "", "workload `name`, optionally with :flood or :stealthy (see `escapement lab list`)")
		duration := fs.Duration("duration", 10*time.Second, "how long the guest runs")
		seed := fs.Uint64("seed", 1, "`seed` of the guest's randomised timing")
		name := fs.String("name", "", "opaque VM `name` (the vm_id the collector reports); default derived from the seed")
		if err := parseFlags(fs, cfgFile, args[1:]); err != nil {
			return err
		}
		if *scenario == "" {
			return fmt.Errorf("--scenario is required: one of the workloads `escapement lab list` prints")
		}
		spec, err := lab.SpecForScenario(*scenario, *duration, *seed)
		if err != nil {
			return err
		}
		if *name != "" {
			spec.Name = *name
		}
		res, err := lab.Run(ctx, spec)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	case "record":
		return labRecord(ctx, args[1:], stdout, stderr)
	default:
		return fmt.Errorf("unknown lab command %q: want run, record or list", args[0])
	}
}

func labRecord(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cfgFile := newFlagSet("lab record", "Run a lab plan (VMs, workloads, attack windows) under the live KVM collector and write a labelled dataset:\nfeatures.parquet, labels.json, manifest.json and, with --events, events.parquet. Needs root, /dev/kvm and tracefs.", stderr)
	var of obsFlags
	var ff featurizeFlags
	of.register(fs, false)
	ff.register(fs)
	planFile := fs.String("plan", "", "plan `file` (YAML or JSON, docs/lab.md); required")
	out := fs.String("out", "", "output dataset `directory`; required")
	duration := fs.Duration("duration", 0, "override the plan's duration (windows must still fit)")
	withEvents := fs.Bool("events", false, "also write the plan VMs' events to events.parquet")
	record := fs.String("record", "", "also write the plan VMs' events to this Arrow IPC `file` (replayable with --source replay)")
	tracefs := fs.String("tracefs", kvm.DefaultTracefs, "tracefs mount `point` (mounted when absent)")
	if err := parseFlags(fs, cfgFile, args); err != nil {
		return err
	}
	if *planFile == "" || *out == "" {
		return errors.New("lab record needs --plan FILE and --out DIR")
	}
	plan, err := lab.LoadPlan(*planFile)
	if err != nil {
		return err
	}
	if *duration > 0 {
		plan.Duration = lab.Duration(*duration)
		if err := plan.Validate(); err != nil {
			return fmt.Errorf("--duration %v: %w", *duration, err)
		}
	}
	rt, err := of.start("lab-record", stderr)
	if err != nil {
		return err
	}
	defer rt.close()
	if err := kvm.CheckAccess(*tracefs); err != nil {
		return err
	}
	host, _ := os.Hostname()
	kc, err := kvm.New(kvm.Config{Tracefs: *tracefs, Host: host, Rescan: 200 * time.Millisecond}, rt.log, rt.reg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "recording %d VMs for %v into %s\n", len(plan.VMs), time.Duration(plan.Duration), *out)
	m, err := recordPlan(ctx, plan, kc, recordOptions{Dir: *out, Host: host, Events: *withEvents, Record: *record,
		Featurizer: ff.config(), Platform: kvm.DetectPlatform("/sys/module", "/proc/cpuinfo")})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %d VMs × %s on %s, %d events, %d feature rows, %d scenarios, %d placebos\n",
		*out, m.VMs, m.Duration, m.Platform, m.Events, m.FeatureRows, m.Scenarios, m.Placebos)
	return nil
}

// recordOptions say what recordPlan writes.
type recordOptions struct {
	Dir        string
	Host       string
	Platform   string // pvm, vmx or svm
	Events     bool   // events.parquet
	Record     string // Arrow IPC recording path, "" for none
	Featurizer features.Config
	Exe        string // VMM binary (lab.CaptureConfig.Exe)
}

// recordPlan runs plan under collector c (lab.Capture), featurizes the plan
// VMs' events as they arrive and writes the dataset directory.
func recordPlan(ctx context.Context, plan lab.Plan, c collectors.Collector, opt recordOptions) (datasets.Manifest, error) {
	if err := os.MkdirAll(opt.Dir, 0o755); err != nil {
		return datasets.Manifest{}, fmt.Errorf("--out: %w", err)
	}
	names := features.Names()
	ff, err := newAtomicFile(filepath.Join(opt.Dir, datasets.FeaturesFile))
	if err != nil {
		return datasets.Manifest{}, err
	}
	defer ff.abort()
	fw, err := datasets.NewFeatureWriter(ff.f, names)
	if err != nil {
		return datasets.Manifest{}, err
	}
	var ef *atomicFile
	var ew *datasets.EventWriter
	if opt.Events {
		if ef, err = newAtomicFile(filepath.Join(opt.Dir, datasets.EventsFile)); err != nil {
			return datasets.Manifest{}, err
		}
		defer ef.abort()
		if ew, err = datasets.NewEventWriter(ef.f); err != nil {
			return datasets.Manifest{}, err
		}
	}
	var rec *kvm.Recorder
	if opt.Record != "" {
		if rec, err = kvm.NewRecorder(opt.Record, opt.Platform); err != nil {
			return datasets.Manifest{}, fmt.Errorf("--record: %w", err)
		}
		defer rec.Close()
	}

	fz := features.New(opt.Featurizer)
	var rows []features.Row
	emitRow := func(r features.Row) { rows = append(rows, r) }
	var nEvents, nRows int64
	writeRows := func() error {
		if len(rows) == 0 {
			return nil
		}
		nRows += int64(len(rows))
		err := fw.Write(rows)
		rows = rows[:0]
		return err
	}
	emit := func(_ context.Context, evs []events.Event) error {
		nEvents += int64(len(evs))
		if ew != nil {
			if err := ew.Write(evs); err != nil {
				return err
			}
		}
		if rec != nil {
			if err := rec.Write(evs); err != nil {
				return err
			}
		}
		fz.Add(evs, emitRow)
		return writeRows()
	}
	res, err := lab.Capture(ctx, plan, c, lab.CaptureConfig{Exe: opt.Exe}, emit)
	if err != nil {
		return datasets.Manifest{}, err
	}
	fz.Flush(emitRow)
	if err := writeRows(); err != nil {
		return datasets.Manifest{}, err
	}
	if err := fw.Close(); err != nil {
		return datasets.Manifest{}, err
	}
	if err := ff.commit(); err != nil {
		return datasets.Manifest{}, err
	}
	if ew != nil {
		if err := ew.Close(); err != nil {
			return datasets.Manifest{}, err
		}
		if err := ef.commit(); err != nil {
			return datasets.Manifest{}, err
		}
	}
	if rec != nil {
		if err := rec.Close(); err != nil {
			return datasets.Manifest{}, fmt.Errorf("--record: %w", err)
		}
	}
	labels := make([]datasets.Label, len(res.Labels))
	m := datasets.Manifest{Generator: "lab", GeneratorVersion: lab.Version, Seed: plan.Seed, VMs: len(plan.VMs),
		Host: opt.Host, Start: res.Start, Duration: res.End.Sub(res.Start).Round(time.Millisecond).String(),
		DurationSeconds: res.End.Sub(res.Start).Seconds(), Events: nEvents, EventsFileAbsent: !opt.Events,
		FeatureNames: names, FeatureRows: nRows, FeatureSchemaHash: features.SchemaHash(),
		WindowSeconds: fz.Config().Window.Seconds(), Platform: opt.Platform, VMGroups: plan.Groups()}
	for i, l := range res.Labels {
		labels[i] = datasets.Label(l)
		if l.Placebo {
			m.Placebos++
		} else {
			m.Scenarios++
		}
	}
	if err := datasets.WriteLabels(opt.Dir, labels); err != nil {
		return m, err
	}
	return m, datasets.WriteManifest(opt.Dir, m)
}

// atomicFile is a file written as path.tmp and renamed into place on commit.
type atomicFile struct {
	f    *os.File
	path string
	done bool
}

func newAtomicFile(path string) (*atomicFile, error) {
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return nil, err
	}
	return &atomicFile{f: f, path: path}, nil
}

// commit renames the file into place; the writer on it must be closed.
func (a *atomicFile) commit() error {
	a.done = true
	_ = a.f.Close() // the Parquet writer closes it already
	return os.Rename(a.path+".tmp", a.path)
}

// abort removes an uncommitted file.
func (a *atomicFile) abort() {
	if !a.done {
		a.f.Close()
		os.Remove(a.path + ".tmp")
	}
}

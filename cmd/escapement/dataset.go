package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/escapement/escapement/collectors/kvm"
	"github.com/escapement/escapement/datasets"
)

func cmdDataset(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stdout, `usage: escapement dataset generate --out DIR [flags]   simulated, labelled dataset (features, labels, optional events) as Parquet
       escapement dataset inspect FILE [--json]            per-VM event counts by kind of a --record file

See docs/datasets.md.`)
		return nil
	}
	switch args[0] {
	case "generate":
		return datasetGenerate(ctx, args[1:], stdout, stderr)
	case "inspect":
		return datasetInspect(args[1:], stdout, stderr)
	default:
		return fmt.Errorf("unknown dataset command %q: want generate or inspect", args[0])
	}
}

func datasetGenerate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cfgFile := newFlagSet("dataset generate", "Simulate a fleet offline, far faster than real time, and write a labelled dataset:\nfeatures.parquet, labels.json, manifest.json and (with --events) events.parquet.", stderr)
	var sf simFlags
	var ff featurizeFlags
	sf.register(fs, 16, 4)
	ff.register(fs)
	out := fs.String("out", "", "output `directory` (required)")
	duration := fs.Duration("duration", time.Hour, "simulated time to generate")
	start := fs.String("start", "2025-01-01T00:00:00Z", "simulated start `time` (RFC 3339)")
	withEvents := fs.Bool("events", false, "also write events.parquet (about 1000 events per VM-second)")
	if err := parseFlags(fs, cfgFile, args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("--out DIR is required")
	}
	t0, err := time.Parse(time.RFC3339, *start)
	if err != nil {
		return fmt.Errorf("--start %q: want RFC 3339, e.g. 2025-01-01T00:00:00Z", *start)
	}
	began := time.Now()
	lastPrint := began
	opt := datasets.GenerateOptions{Events: *withEvents, Featurizer: ff.config(),
		Progress: func(now, end time.Time, events, rows int64) {
			if time.Since(lastPrint) < 5*time.Second && !now.Equal(end) {
				return
			}
			lastPrint = time.Now()
			done := now.Sub(t0).Seconds() / end.Sub(t0).Seconds()
			el := time.Since(began)
			eta := time.Duration(float64(el) / max(done, 1e-9) * (1 - done))
			fmt.Fprintf(stderr, "generate: %5.1f%%  %s simulated, %s events (%s/s), %d windows, eta %s\n",
				100*done, now.Sub(t0).Round(time.Second), human(float64(events)), human(float64(events)/el.Seconds()), rows, eta.Round(time.Second))
		}}
	m, err := datasets.GenerateSim(ctx, *out, sf.config(t0, *duration), opt, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %d VMs × %s (%.1f VM-days), %d events, %d feature rows, %d scenarios, %d placebos in %s\n",
		*out, m.VMs, m.Duration, float64(m.VMs)*m.DurationSeconds/86400, m.Events, m.FeatureRows, m.Scenarios, m.Placebos, time.Since(began).Round(time.Second))
	return nil
}

func datasetInspect(args []string, stdout, stderr io.Writer) error {
	fs, cfgFile := newFlagSet("dataset inspect", "Count the events of a recording (collect --record FILE) per VM and kind.", stderr)
	asJSON := fs.Bool("json", false, `print {"platform": ..., "vms": {"<vm_id>": {"<kind>": count}}}`)
	argsAllowed[fs] = true
	if err := parseFlags(fs, cfgFile, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("dataset inspect needs exactly one FILE (a recording written by collect --record)")
	}
	ins, err := kvm.Inspect(fs.Arg(0))
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(ins)
	}
	fmt.Fprintf(stdout, "platform: %s\n", ins.Platform)
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "VM\tKIND\tEVENTS")
	vms := make([]string, 0, len(ins.VMs))
	for vm := range ins.VMs {
		vms = append(vms, vm)
	}
	sort.Strings(vms)
	for _, vm := range vms {
		kinds := make([]string, 0, len(ins.VMs[vm]))
		for k := range ins.VMs[vm] {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		for _, k := range kinds {
			fmt.Fprintf(w, "%s\t%s\t%d\n", vm, k, ins.VMs[vm][k])
		}
	}
	return w.Flush()
}

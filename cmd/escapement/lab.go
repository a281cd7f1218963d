package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/escapement/escapement/collectors/lab"
)

func cmdLab(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stdout, "usage: escapement lab run --scenario NAME[:flood|:stealthy] --duration D\n       escapement lab list\n\nReal guests on /dev/kvm that behave normally or attempt escape techniques (docs/lab.md).\nThe lab produces no events itself: run `escapement collect --source kvm` beside it.")
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
	default:
		return fmt.Errorf("unknown lab command %q: want run or list", args[0])
	}
}

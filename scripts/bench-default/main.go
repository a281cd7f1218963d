// Command bench-default measures the streaming scorer with the default model
// (the embedded ensemble: isolation forest, zmax and the per-VM baseline
// vmbase) on the windows of labelled datasets, in vectors per CPU-second:
// the per-core figure on a shared machine.
//
// It reads every window of the datasets into memory, then scores them all,
// in file order, through a fresh scoring.Scorer per pass (the whole path of a
// window: validation, standardisation, the detectors, tail calibration,
// incident state, metrics and drift sampling; each VM's baseline warms up
// again). It prints each pass and the median. The scorer's ScoreStream
// benchmark uses a model fitted on synthetic rows; this uses the model that
// ships and the feature values the simulator and featurizer produce.
//
// Usage (from the repository root):
//
//	escapement dataset generate --out /tmp/ds --vms 24 --duration 45m --seed 777 --scenarios 24 --placebos 6
//	go run ./scripts/bench-default -data /tmp/ds
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/escapement/escapement/datasets"
	"github.com/escapement/escapement/features"
	"github.com/escapement/escapement/models"
	"github.com/escapement/escapement/models/defaultmodel"
	"github.com/escapement/escapement/scoring"
)

func main() {
	data := flag.String("data", "", "comma-separated dataset `directories` (features.parquet from escapement dataset generate)")
	passes := flag.Int("passes", 9, "times every window is scored, each by a fresh scorer")
	flag.Parse()
	if err := run(strings.Split(*data, ","), *passes); err != nil {
		fmt.Fprintln(os.Stderr, "bench-default:", err)
		os.Exit(1)
	}
}

func run(dirs []string, passes int) error {
	if len(dirs) == 0 || dirs[0] == "" {
		return errors.New("-data is required: generate a dataset with `escapement dataset generate --out DIR`")
	}
	if passes < 1 {
		return errors.New("-passes must be at least 1")
	}
	model, err := defaultmodel.Load(models.SchemaHash(features.Names()), features.Names())
	if err != nil {
		return fmt.Errorf("the built-in default model: %w", err)
	}
	var sets [][]features.Row
	total := 0
	for _, dir := range dirs {
		var rows []features.Row
		err := datasets.ReadFeatures(filepath.Join(dir, datasets.FeaturesFile), func(_ []string, rs []features.Row) error {
			for _, r := range rs {
				r.Values = slices.Clone(r.Values)
				r.NGrams = slices.Clone(r.NGrams)
				rows = append(rows, r)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("%s: %w", dir, err)
		}
		sets = append(sets, rows)
		total += len(rows)
	}
	fmt.Printf("model %s (%s), %d windows in %d datasets\n", model.Manifest.ModelVersion, strings.Join(model.DetectorNames(), "+"), total, len(sets))
	var rates []float64
	for pass := range passes {
		runtime.GC()
		records := 0
		cpu, wall := cpuSeconds(), time.Now()
		for _, rows := range sets {
			// A scorer per dataset, as escapement eval does: VM ids and
			// times of different datasets are unrelated.
			sc := scoring.NewScorer(model, scoring.Config{}, nil, nil)
			for _, r := range rows {
				out, err := sc.Score(r)
				if err != nil {
					return err
				}
				records += len(out)
			}
		}
		c, w := cpuSeconds()-cpu, time.Since(wall).Seconds()
		rates = append(rates, float64(total)/c)
		fmt.Printf("pass %d: %d records, %.1f k vectors/s, %.1f k vectors/cpu-s\n", pass+1, records, float64(total)/w/1e3, float64(total)/c/1e3)
	}
	slices.Sort(rates)
	fmt.Printf("median of %d passes: %.1f k vectors/cpu-s\n", passes, rates[len(rates)/2]/1e3)
	return nil
}

// cpuSeconds is the user+system CPU time of the process so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/escapement/escapement/datasets"
	"github.com/escapement/escapement/datasets/archive"
	"github.com/escapement/escapement/features"
	"github.com/escapement/escapement/models"
	"github.com/escapement/escapement/models/defaultmodel"
	"github.com/escapement/escapement/training"
)

// defaultModelSeeds are the simulator seeds the built-in model is trained
// on. No evaluation, test or demo default uses them.
var defaultModelSeeds = []uint64{900001, 900002, 900003}

const (
	defaultModelVMs      = 24
	defaultModelDuration = 2 * time.Hour
)

func cmdTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cfgFile := newFlagSet("train", "Fit the detector ensemble on the benign windows of one or more datasets (escapement dataset generate)\nand write a versioned model artifact. Windows inside labelled scenarios are left out; placebos are kept.\nWith --data on a feature archive (escapement archive), it streams the range --since..--until with bounded\nmemory, leaves out incidents (--store) and labelled attacks (--labels) and writes a model card (docs/retraining.md).", stderr)
	data := fs.String("data", "", "comma-separated dataset `directories` holding features.parquet (and labels.json), or one feature archive directory")
	var af archiveTrainFlags
	af.register(fs)
	out := fs.String("out", "", "artifact `directory` to write (required unless --default-model)")
	seed := fs.Uint64("seed", 1, "training `seed`")
	trees := fs.Int("trees", 100, "isolation forest trees")
	subsample := fs.Int("subsample", 256, "isolation forest subsample size ψ")
	streamDets := fs.String("stream", strings.Join(training.DefaultStream, ","), "comma-separated stream `detectors` besides iforest and zmax: vmbase (per-VM baseline), ngram (n-gram sketch); none for neither")
	budget := fs.Float64("budget", 1, "alert budget: false incidents per VM-day the threshold is calibrated for")
	holdout := fs.Float64("holdout", 0.3, "share of VMs held out to calibrate the threshold on windows the model was not fit on")
	platform := fs.String("platform", "sim", "platform of the training data: sim, pvm, vmx or svm")
	grace := fs.Int("grace-windows", 0, "first windows of each VM left out of training; the model records it and the scorer raises no incident on them (a VMM's start-up)")
	baseWarmup := fs.Int("vmbase-warmup", 0, "windows the per-VM baseline (vmbase) learns of each VM before it scores; 0 = its default of 900 (15 min of 1 s windows). Lower it only when the VMs' slowest benign cycle is far shorter, e.g. lab recordings (docs/models.md)")
	simDir := fs.String("sim-dir", "", "with --default-model: keep the simulated fleets in this `directory` and reuse those already there")
	defModel := fs.Bool("default-model", false, "regenerate the built-in default model: simulate benign fleets from its fixed seeds and write "+defaultmodel.Dir+" (run from the repository root)")
	if err := parseFlags(fs, cfgFile, args); err != nil {
		return err
	}
	dirs := splitList(*data)
	if *defModel {
		if *out == "" {
			*out = defaultmodel.Dir
		}
		tmp := *simDir
		if tmp == "" {
			t, err := os.MkdirTemp("", "escapement-default-model-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(t)
			tmp = t
		}
		dirs = nil
		for i, s := range defaultModelSeeds {
			dir := filepath.Join(tmp, fmt.Sprintf("seed-%d", s))
			// Each seed starts at another time of day, so the diurnal
			// cycles of busy guests are covered.
			start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * 24 * time.Hour / time.Duration(len(defaultModelSeeds)))
			if _, err := datasets.ReadManifest(dir); err == nil && *simDir != "" {
				dirs = append(dirs, dir) // simulated by an earlier run
				continue
			}
			fmt.Fprintf(stderr, "simulating %d benign VMs for %s from %s (seed %d)\n", defaultModelVMs, defaultModelDuration, start.Format("15:04"), s)
			cfg := simFlags{vms: defaultModelVMs, seed: s, rateScale: 1}
			if _, err := datasets.GenerateSim(ctx, dir, cfg.config(start, defaultModelDuration),
				datasets.GenerateOptions{}, nil); err != nil {
				return err
			}
			dirs = append(dirs, dir)
		}
	}
	if len(dirs) == 0 || *out == "" {
		return errors.New("train needs --data DIR[,DIR] and --out DIR (or --default-model)")
	}
	if len(dirs) == 1 && archive.IsArchive(dirs[0]) {
		return trainArchive(dirs[0], *out, af, training.TrainConfig{Seed: *seed, Trees: *trees, Subsample: *subsample,
			HoldoutFraction: *holdout, Budget: *budget, Platform: *platform, SchemaHash: models.SchemaHash(features.Names()),
			GraceWindows: *grace}, stdout, stderr)
	}
	if af.since != "" || af.until != "" || af.store != "" {
		return errors.New("--since, --until and --store apply to a feature archive; --data names dataset directories (use their labels.json)")
	}
	began := time.Now()
	rows, info, err := loadTrainingRows(dirs, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "fitting on %d benign windows of %d VMs (%d windows inside scenarios left out)\n", len(rows), info.vms, info.excluded)
	streamNames := []string{}
	if *streamDets != "none" {
		streamNames = append(streamNames, splitList(*streamDets)...)
	}
	a, err := training.Fit(rows, features.Names(), training.TrainConfig{Seed: *seed, Trees: *trees, Subsample: *subsample, Stream: streamNames,
		HoldoutFraction: *holdout, Budget: *budget, Platform: *platform, SchemaHash: models.SchemaHash(features.Names()),
		Strata: info.strata, GraceWindows: *grace, BaselineWarmup: *baseWarmup})
	if err != nil {
		return err
	}
	if err := a.Save(*out); err != nil {
		return err
	}
	if !*defModel {
		if err := writeDatasetCard(a, rows, info, strings.Join(dirs, ","), af.previous, *out, stderr); err != nil {
			return err
		}
	}
	al := a.Manifest.Calibration.Alert
	fmt.Fprintf(stdout, "wrote model %s to %s in %s: %d windows, threshold %.3f (%s tail, %s) for %.2g false incidents per VM-day, calibrated on %.1f held-out VM-days\n",
		a.Manifest.ModelVersion, *out, time.Since(began).Round(time.Second), len(rows), al.Threshold, al.Method, crossFitNote(al.CrossFitted), al.Budget, al.VMDays)
	return nil
}

type trainInfo struct {
	vms      int
	excluded int
	strata   map[string]string // vm_id → group, from the manifests' vm_groups
}

// loadTrainingRows reads the feature rows of dirs (with their n-gram
// sketches, which the sequence detector learns from), dropping every window
// that overlaps a labelled attack scenario on its VM (3 windows of slack
// after its end).
func loadTrainingRows(dirs []string, stderr io.Writer) ([]features.Row, trainInfo, error) {
	var rows []features.Row
	var info trainInfo
	vms := map[string]bool{}
	for _, dir := range dirs {
		labels, err := datasets.ReadLabels(dir)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, info, err
		}
		if m, err := datasets.ReadManifest(dir); err == nil && len(m.VMGroups) > 0 {
			if info.strata == nil {
				info.strata = map[string]string{}
			}
			maps.Copy(info.strata, m.VMGroups)
		}
		attacks := map[string][]datasets.Label{}
		for _, l := range labels {
			if !l.Placebo {
				attacks[l.VMID] = append(attacks[l.VMID], l)
			}
		}
		err = datasets.ReadFeatures(filepath.Join(dir, datasets.FeaturesFile), func(names []string, rs []features.Row) error {
			if strings.Join(names, ",") != strings.Join(features.Names(), ",") {
				return fmt.Errorf("%s: its features are not this featurizer's (%d columns, want %d): regenerate the dataset", dir, len(names), len(features.Names()))
			}
			for _, r := range rs {
				if insideScenario(r, attacks[r.VMID], training.DetectionWindows) {
					info.excluded++
					continue
				}
				rows = append(rows, r)
				vms[dir+"/"+r.VMID] = true
			}
			return nil
		})
		if err != nil {
			return nil, info, fmt.Errorf("read %s: %w", dir, err)
		}
		fmt.Fprintf(stderr, "read %s: %d windows so far\n", dir, len(rows))
	}
	info.vms = len(vms)
	if len(rows) == 0 {
		return nil, info, errors.New("no benign feature rows in the datasets given")
	}
	return rows, info, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// crossFitNote is how train's summary line names the alert threshold's scores.
func crossFitNote(crossFitted bool) string {
	if crossFitted {
		return "cross-fitted"
	}
	return "in sample: too few held-out windows for two folds"
}

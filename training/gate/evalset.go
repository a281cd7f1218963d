package gate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/escapement/escapement/datasets"
	"github.com/escapement/escapement/datasets/archive"
	"github.com/escapement/escapement/features"
	"github.com/escapement/escapement/training"
)

// EvalSet is a stream of feature rows with its ground truth, one part of
// what the champion/challenger gate measures (a recording of the suite, an
// archive of recent benign data).
type EvalSet struct {
	Name string
	// Platform of the rows (sim, pvm, vmx, svm; "" = unknown, matches any
	// model).
	Platform string
	Window   time.Duration // window length; default 1 s
	// Labels are the attacks (and placebos, benign) on the set's VMs;
	// Verdicts adds the analysts' to them.
	Labels []training.Scenario
	// AlertRate: the set's windows count towards the alert rate of models
	// of its platform.
	AlertRate bool
	// Read streams the rows, in time order per VM, to fn.
	Read func(fn func(rows []features.Row) error) error
}

// LoadDataset returns the dataset in dir (features.parquet, labels.json,
// manifest.json, as written by escapement dataset generate or lab record)
// as an EvalSet, after checking its feature names against names.
func LoadDataset(dir string, names []string) (EvalSet, error) {
	m, err := datasets.ReadManifest(dir)
	if err != nil {
		return EvalSet{}, fmt.Errorf("evaluation set %s: %w", dir, err)
	}
	if len(m.FeatureNames) > 0 && !slices.Equal(m.FeatureNames, names) {
		return EvalSet{}, fmt.Errorf("evaluation set %s: %w: its %d features are not this featurizer's %d: regenerate it (docs/registry.md)",
			dir, ErrSchemaChanged, len(m.FeatureNames), len(names))
	}
	ls, err := datasets.ReadLabels(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return EvalSet{}, fmt.Errorf("evaluation set %s: %w", dir, err)
	}
	set := EvalSet{Name: dir, Platform: m.Platform, Window: time.Duration(m.WindowSeconds * float64(time.Second))}
	for _, l := range ls {
		set.Labels = append(set.Labels, training.Scenario(l))
	}
	path := filepath.Join(dir, datasets.FeaturesFile)
	set.Read = func(fn func([]features.Row) error) error {
		return datasets.ReadFeatures(path, func(got []string, rows []features.Row) error {
			if !slices.Equal(got, names) {
				return fmt.Errorf("%s: %w: regenerate it", path, ErrSchemaChanged)
			}
			return fn(rows)
		})
	}
	return set, nil
}

// ErrSchemaChanged: an evaluation set was recorded with another feature
// catalog.
var ErrSchemaChanged = errors.New("feature schema differs from the featurizer's")

// LoadSuite returns every dataset directory directly under dir (each holding
// features.parquet), sorted by name. Suite sets count towards recall; their
// benign windows count towards the alert rate of models of their platform.
func LoadSuite(dir string, names []string) ([]EvalSet, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("attack suite: %w (pass --suite DIR; the repository's is datasets/suite)", err)
	}
	var out []EvalSet
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		sub := filepath.Join(dir, e.Name())
		if _, err := os.Stat(filepath.Join(sub, datasets.FeaturesFile)); err != nil {
			continue
		}
		s, err := LoadDataset(sub, names)
		if err != nil {
			return nil, err
		}
		s.AlertRate = true
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("attack suite %s holds no dataset directories (DIR/*/features.parquet): regenerate it with scripts/gen-suite", dir)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// LoadBenign returns the rows of dir, a dataset directory or a feature
// archive (escapement archive), restricted to windows starting in [since,
// until) (zero = open), as an EvalSet for the alert rate. A dataset's labels
// are kept: its attack windows do not count as false alerts.
func LoadBenign(dir string, names []string, since, until time.Time) (EvalSet, error) {
	if _, err := os.Stat(filepath.Join(dir, datasets.FeaturesFile)); err == nil {
		s, err := LoadDataset(dir, names)
		if err != nil {
			return s, err
		}
		read := s.Read
		s.Read = func(fn func([]features.Row) error) error {
			return read(func(rows []features.Row) error { return fn(inRange(rows, since, until)) })
		}
		s.Labels = LabelsIn(s.Labels, since, until)
		s.AlertRate = true
		return s, nil
	}
	files, err := archive.Files(dir, since, until)
	if err != nil {
		return EvalSet{}, fmt.Errorf("benign data %s: %w", dir, err)
	}
	if len(files) == 0 {
		return EvalSet{}, fmt.Errorf("benign data %s: neither a dataset (features.parquet) nor an archive with files in the time range", dir)
	}
	return EvalSet{Name: dir, AlertRate: true, Read: func(fn func([]features.Row) error) error {
		return archive.Read(dir, since, until, func(got []string, rows []features.Row) error {
			if !slices.Equal(got, names) {
				return fmt.Errorf("archive %s: %w: pass a --since after the catalog change", dir, ErrSchemaChanged)
			}
			return fn(rows)
		})
	}}, nil
}

// LabelsIn keeps the labels overlapping [since, until) (zero = open): an
// attack outside the rows read cannot be detected and must not count.
func LabelsIn(labels []training.Scenario, since, until time.Time) []training.Scenario {
	var out []training.Scenario
	for _, l := range labels {
		if (since.IsZero() || l.End.After(since)) && (until.IsZero() || l.Start.Before(until)) {
			out = append(out, l)
		}
	}
	return out
}

func inRange(rows []features.Row, since, until time.Time) []features.Row {
	if since.IsZero() && until.IsZero() {
		return rows
	}
	out := rows[:0:0]
	for _, r := range rows {
		if (since.IsZero() || r.Start >= since.UnixNano()) && (until.IsZero() || r.Start < until.UnixNano()) {
			out = append(out, r)
		}
	}
	return out
}

package datasets

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// File names inside a dataset directory.
const (
	EventsFile   = "events.parquet"
	FeaturesFile = "features.parquet"
	LabelsFile   = "labels.json"
	ManifestFile = "manifest.json"
)

// Format identifies the dataset layout in manifests.
const Format = "escapement.dataset.v1"

// Manifest says what produced a dataset.
type Manifest struct {
	Format           string    `json:"format"`
	Generator        string    `json:"generator"` // "sim", "lab", "replay", ...
	GeneratorVersion string    `json:"generator_version"`
	Seed             uint64    `json:"seed"`
	VMs              int       `json:"vms"`
	Host             string    `json:"host"`
	Start            time.Time `json:"start"`
	// Duration is a Go duration string ("24h0m0s"); DurationSeconds the same
	// in seconds for tools without Go's syntax.
	Duration        string  `json:"duration"`
	DurationSeconds float64 `json:"duration_seconds"`
	Scenarios       int     `json:"scenarios"`
	Placebos        int     `json:"placebos"`
	Events          int64   `json:"events"`
	// EventsFileAbsent is set when the dataset holds features only.
	EventsFileAbsent  bool     `json:"events_file_absent,omitempty"`
	FeatureNames      []string `json:"feature_names,omitempty"`
	FeatureRows       int64    `json:"feature_rows,omitempty"`
	FeatureSchemaHash string   `json:"feature_schema_hash,omitempty"`
	WindowSeconds     float64  `json:"window_seconds,omitempty"`
	// Platform is where the events came from: sim, pvm, vmx or svm.
	Platform string `json:"platform,omitempty"`
	// VMGroups maps vm_id to the VM's kind ("lab/disk-io",
	// "qemu/firmware"), when the generator knows it: training holds out a
	// share of each group for calibration (training.TrainConfig.Strata).
	VMGroups map[string]string `json:"vm_groups,omitempty"`
}

// Label is the ground truth of one scenario or placebo. The simulator's
// sim.Scenario has the same JSON form.
type Label struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Class     string    `json:"class"`
	Intensity string    `json:"intensity"` // flood, stealthy or placebo
	VMID      string    `json:"vm_id"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Placebo   bool      `json:"placebo"`
}

// WriteManifest writes dir/manifest.json.
func WriteManifest(dir string, m Manifest) error {
	if m.Format == "" {
		m.Format = Format
	}
	return writeJSON(filepath.Join(dir, ManifestFile), m)
}

// ReadManifest reads dir/manifest.json.
func ReadManifest(dir string) (Manifest, error) {
	var m Manifest
	if err := readJSON(filepath.Join(dir, ManifestFile), &m); err != nil {
		return m, err
	}
	if m.Format != Format {
		return m, fmt.Errorf("datasets: %s has format %q, want %q: regenerate the dataset", filepath.Join(dir, ManifestFile), m.Format, Format)
	}
	return m, nil
}

// WriteLabels writes dir/labels.json.
func WriteLabels(dir string, labels []Label) error {
	if labels == nil {
		labels = []Label{}
	}
	return writeJSON(filepath.Join(dir, LabelsFile), labels)
}

// ReadLabels reads dir/labels.json.
func ReadLabels(dir string) ([]Label, error) {
	var l []Label
	err := readJSON(filepath.Join(dir, LabelsFile), &l)
	return l, err
}

// writeJSON writes v to path through a temporary file and a rename, so a
// reader never sees half a file.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("datasets: encode %s: %w", path, err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("datasets: write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("datasets: write %s: %w", path, err)
	}
	return nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("datasets: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("datasets: %s is not valid JSON: %w", path, err)
	}
	return nil
}

package models

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/escapement/escapement/models/autoencoder"
	"github.com/escapement/escapement/models/drift"
	"github.com/escapement/escapement/models/hst"
	"github.com/escapement/escapement/models/iforest"
	"github.com/escapement/escapement/models/stream"
	"github.com/escapement/escapement/models/zmax"
)

// FormatVersion of the artifact directory layout this build writes and reads.
const FormatVersion = 1

// Artifact file names.
const (
	ManifestFile     = "manifest.json"
	StandardizerFile = "standardizer.json"
	DriftFile        = "drift.json" // optional: drift.Reference of the training data
)

// Platforms a model can be trained for.
var Platforms = []string{"sim", "pvm", "vmx", "svm"}

// Artifact is a trained, calibrated model set: the standardizer, the
// detectors and the manifest that describes them.
type Artifact struct {
	Manifest     Manifest
	Standardizer *Standardizer
	Detectors    []Detector
	// Stream holds the detectors that score a VM's windows in time order
	// (per-VM baselines, n-gram sketches); see stream_artifact.go.
	Stream []stream.Detector
	// Drift is the binned training distribution (nil in artifacts made
	// before it existed). It does not affect scoring, so it is not part of
	// ModelVersion.
	Drift *drift.Reference
}

// Manifest is manifest.json.
type Manifest struct {
	FormatVersion     int             `json:"format_version"`
	ModelVersion      string          `json:"model_version"` // content hash, set by Seal
	CreatedAt         time.Time       `json:"created_at"`
	Detectors         []DetectorFile  `json:"detectors"`
	StreamDetectors   []DetectorFile  `json:"stream_detectors,omitempty"`
	FeatureNames      []string        `json:"feature_names"`
	FeatureSchemaHash string          `json:"feature_schema_hash"`
	Platform          string          `json:"platform"`
	Training          TrainingInfo    `json:"training"`
	WindowSeconds     float64         `json:"window_seconds"`
	Threshold         float64         `json:"threshold"` // ensemble score threshold (= Calibration.Alert.Threshold)
	BudgetPerVMDay    float64         `json:"budget_per_vm_day"`
	Calibration       CalibrationSet  `json:"calibration"`
	Params            json.RawMessage `json:"params,omitempty"` // training configuration, free form

	// GraceWindows is how many first windows of each VM the model was not
	// trained on and must not judge: the scorer raises no incident on
	// them. A newly started VMM's first windows are partial (its discovery
	// races its start-up) and full of one-off start-up work.
	GraceWindows int `json:"grace_windows,omitempty"`
}

// DetectorFile names one detector and its MarshalBinary file.
type DetectorFile struct {
	Name   string `json:"name"`
	File   string `json:"file"`
	SHA256 string `json:"sha256"`
}

// TrainingInfo records what the model was fitted and calibrated on.
type TrainingInfo struct {
	From        time.Time `json:"from"`
	To          time.Time `json:"to"`
	Rows        int       `json:"rows"`
	VMs         int       `json:"vms"`
	HoldoutRows int       `json:"holdout_rows"`
	HoldoutVMs  int       `json:"holdout_vms"`
	HoldoutBy   string    `json:"holdout_by"` // "vm" or "time"
	Seeds       []uint64  `json:"seeds"`
}

// CalibrationSet holds one tail calibration per detector (same order as
// Detectors) and the alert calibration of the ensemble score.
type CalibrationSet struct {
	Detectors []Calibration `json:"detectors"`
	Stream    []Calibration `json:"stream,omitempty"` // one per stream detector
	Alert     Calibration   `json:"alert"`
}

// SchemaHash is the hash of a feature schema: hex SHA-256 of the feature
// names in order, one per line.
func SchemaHash(names []string) string {
	h := sha256.New()
	for _, n := range names {
		h.Write([]byte(n))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// NewDetector returns an empty detector of a known name, ready for
// UnmarshalBinary.
func NewDetector(name string) (Detector, error) {
	switch name {
	case iforest.Name:
		return iforest.New(0, 0), nil
	case zmax.Name:
		return zmax.New(), nil
	case autoencoder.Name:
		return autoencoder.New(), nil
	case hst.Name:
		return hst.New(), nil
	}
	return nil, fmt.Errorf("unknown detector %q: this build knows %s, %s, %s, %s; upgrade escapement", name, iforest.Name, zmax.Name, autoencoder.Name, hst.Name)
}

// Seal fills the derived manifest fields (format, schema hash if empty,
// threshold, budget, detector file names and hashes) and sets ModelVersion
// to a content hash of everything that affects scoring, so the same training
// gives the same version and any change gives another. CreatedAt is not
// hashed.
func (a *Artifact) Seal() error {
	m := &a.Manifest
	if len(a.Detectors) == 0 || a.Standardizer == nil {
		return errors.New("seal artifact: it needs a standardizer and at least one detector")
	}
	if len(m.Calibration.Detectors) != len(a.Detectors) {
		return fmt.Errorf("seal artifact: %d detectors but %d calibrations", len(a.Detectors), len(m.Calibration.Detectors))
	}
	if a.Standardizer.Dim() != len(m.FeatureNames) {
		return fmt.Errorf("seal artifact: standardizer has %d features, manifest names %d", a.Standardizer.Dim(), len(m.FeatureNames))
	}
	if !slices.Contains(Platforms, m.Platform) {
		return fmt.Errorf("seal artifact: platform %q: use one of %s", m.Platform, strings.Join(Platforms, ", "))
	}
	m.FormatVersion = FormatVersion
	if m.FeatureSchemaHash == "" {
		m.FeatureSchemaHash = SchemaHash(m.FeatureNames)
	}
	m.Threshold = m.Calibration.Alert.Threshold
	m.BudgetPerVMDay = m.Calibration.Alert.Budget
	m.WindowSeconds = m.Calibration.Alert.WindowSeconds

	h := sha256.New()
	fmt.Fprintf(h, "format %d\nschema %s\nplatform %s\n", FormatVersion, m.FeatureSchemaHash, m.Platform)
	std, err := json.Marshal(a.Standardizer)
	if err != nil {
		return err
	}
	h.Write(std)
	m.Detectors = m.Detectors[:0]
	for i, d := range a.Detectors {
		b, err := d.MarshalBinary()
		if err != nil {
			return fmt.Errorf("seal artifact: detector %s: %w", d.Name(), err)
		}
		sum := sha256.Sum256(b)
		m.Detectors = append(m.Detectors, DetectorFile{
			Name: d.Name(), File: fmt.Sprintf("%02d-%s.bin", i, d.Name()), SHA256: hex.EncodeToString(sum[:]),
		})
		fmt.Fprintf(h, "detector %s %x\n", d.Name(), sum)
	}
	if err := a.sealStream(h); err != nil {
		return err
	}
	cal, err := json.Marshal(m.Calibration)
	if err != nil {
		return err
	}
	h.Write(cal)
	if m.GraceWindows > 0 {
		fmt.Fprintf(h, "grace %d\n", m.GraceWindows)
	}
	m.ModelVersion = hex.EncodeToString(h.Sum(nil))[:16]
	return nil
}

// Save seals the artifact and writes it to dir (created if missing):
// standardizer.json, one file per detector, and manifest.json last, each
// written to a temporary name and renamed, so a directory with a manifest is
// complete.
func (a *Artifact) Save(dir string) error {
	if err := a.Seal(); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save artifact: %w", err)
	}
	std, err := json.MarshalIndent(a.Standardizer, "", " ")
	if err != nil {
		return err
	}
	if err := writeFile(dir, StandardizerFile, std); err != nil {
		return err
	}
	for i, d := range a.Detectors {
		b, err := d.MarshalBinary()
		if err != nil {
			return err
		}
		if err := writeFile(dir, a.Manifest.Detectors[i].File, b); err != nil {
			return err
		}
	}
	for i, d := range a.Stream {
		b, err := d.MarshalBinary()
		if err != nil {
			return err
		}
		if err := writeFile(dir, a.Manifest.StreamDetectors[i].File, b); err != nil {
			return err
		}
	}
	if a.Drift != nil {
		b, err := json.Marshal(a.Drift)
		if err != nil {
			return err
		}
		if err := writeFile(dir, DriftFile, b); err != nil {
			return err
		}
	}
	man, err := json.MarshalIndent(a.Manifest, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(dir, ManifestFile, append(man, '\n'))
}

func writeFile(dir, name string, b []byte) error {
	tmp := filepath.Join(dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("save artifact: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("save artifact: %w", err)
	}
	return nil
}

// Load reads the artifact in dir and checks it against the running
// featurizer: when wantHash is not empty it must equal the manifest's
// feature_schema_hash, and when wantNames is not nil they must equal the
// manifest's feature_names (in order). Mismatches wrap ErrSchemaMismatch;
// missing or corrupt files give errors that name the file.
func Load(dir, wantHash string, wantNames []string) (*Artifact, error) {
	return LoadFS(os.DirFS(dir), dir, wantHash, wantNames)
}

// LoadFS is Load from a file system (such as the model embedded in the
// binary); dir names it in errors.
func LoadFS(fsys fs.FS, dir, wantHash string, wantNames []string) (*Artifact, error) {
	read := func(name string) ([]byte, error) {
		b, err := fs.ReadFile(fsys, name)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("load model %s: %s is missing: point at a directory written by training (escapement train)", dir, name)
		}
		if err != nil {
			return nil, fmt.Errorf("load model %s: %w", dir, err)
		}
		return b, nil
	}
	b, err := read(ManifestFile)
	if err != nil {
		return nil, err
	}
	a := &Artifact{}
	m := &a.Manifest
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("load model %s: %s: %w", dir, ManifestFile, err)
	}
	if m.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("load model %s: format_version %d, this build reads %d: retrain or use a matching escapement", dir, m.FormatVersion, FormatVersion)
	}
	if err := checkSchema(m, wantHash, wantNames); err != nil {
		return nil, fmt.Errorf("load model %s: %w", dir, err)
	}
	if b, err = read(StandardizerFile); err != nil {
		return nil, err
	}
	a.Standardizer = &Standardizer{}
	if err := json.Unmarshal(b, a.Standardizer); err != nil {
		return nil, fmt.Errorf("load model %s: %s: %w", dir, StandardizerFile, err)
	}
	if a.Standardizer.Dim() != len(m.FeatureNames) {
		return nil, fmt.Errorf("load model %s: %s has %d features, manifest names %d: re-export the artifact", dir, StandardizerFile, a.Standardizer.Dim(), len(m.FeatureNames))
	}
	if len(m.Detectors) == 0 || len(m.Calibration.Detectors) != len(m.Detectors) {
		return nil, fmt.Errorf("load model %s: %d detectors and %d calibrations: re-export the artifact", dir, len(m.Detectors), len(m.Calibration.Detectors))
	}
	for i, df := range m.Detectors {
		if df.File != filepath.Base(df.File) {
			return nil, fmt.Errorf("load model %s: detector file %q must be a plain name", dir, df.File)
		}
		if b, err = read(df.File); err != nil {
			return nil, err
		}
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != df.SHA256 {
			return nil, fmt.Errorf("load model %s: %s does not match its sha256 in the manifest: the artifact is corrupt, copy it again", dir, df.File)
		}
		d, err := NewDetector(df.Name)
		if err != nil {
			return nil, fmt.Errorf("load model %s: %w", dir, err)
		}
		if err := d.UnmarshalBinary(b); err != nil {
			return nil, fmt.Errorf("load model %s: %s: %w", dir, df.File, err)
		}
		if dd, ok := d.(interface{ Dim() int }); ok && dd.Dim() != len(m.FeatureNames) {
			return nil, fmt.Errorf("load model %s: %s has %d features, manifest names %d: re-export the artifact", dir, df.File, dd.Dim(), len(m.FeatureNames))
		}
		if err := m.Calibration.Detectors[i].Validate(); err != nil {
			return nil, fmt.Errorf("load model %s: detector %s: %w", dir, df.Name, err)
		}
		a.Detectors = append(a.Detectors, d)
	}
	if err := a.loadStream(dir, read); err != nil {
		return nil, err
	}
	if err := m.Calibration.Alert.Validate(); err != nil {
		return nil, fmt.Errorf("load model %s: alert %w", dir, err)
	}
	if a.Drift, err = loadDrift(fsys, dir, m.FeatureNames); err != nil {
		return nil, err
	}
	return a, nil
}

func checkSchema(m *Manifest, wantHash string, wantNames []string) error {
	if wantHash != "" && wantHash != m.FeatureSchemaHash {
		return fmt.Errorf("%w: model schema %.12s, featurizer schema %.12s", ErrSchemaMismatch, m.FeatureSchemaHash, wantHash)
	}
	if wantNames != nil && !slices.Equal(wantNames, m.FeatureNames) {
		i := 0
		for i < min(len(wantNames), len(m.FeatureNames)) && wantNames[i] == m.FeatureNames[i] {
			i++
		}
		got, want := "(none)", "(none)"
		if i < len(m.FeatureNames) {
			got = m.FeatureNames[i]
		}
		if i < len(wantNames) {
			want = wantNames[i]
		}
		return fmt.Errorf("%w: model has %d features, featurizer %d; first difference at %d: model %q, featurizer %q",
			ErrSchemaMismatch, len(m.FeatureNames), len(wantNames), i, got, want)
	}
	return nil
}

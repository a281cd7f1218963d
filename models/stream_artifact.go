package models

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"path/filepath"

	"github.com/escapement/escapement/models/ngram"
	"github.com/escapement/escapement/models/stream"
	"github.com/escapement/escapement/models/vmbase"
)

// Stream detectors in an artifact: each has a file NN-name.bin numbered after
// the window detectors, an entry in Manifest.StreamDetectors and a tail
// calibration in Calibration.Stream. Artifacts without them load as before.

// NewStreamDetector returns an empty stream detector of a known name, ready
// for UnmarshalBinary.
func NewStreamDetector(name string) (stream.Detector, error) {
	switch name {
	case vmbase.Name:
		return vmbase.New(), nil
	case ngram.Name:
		return ngram.New(), nil
	}
	return nil, fmt.Errorf("unknown stream detector %q: this build knows %s, %s; upgrade escapement", name, vmbase.Name, ngram.Name)
}

// NumDetectors is the number of detectors of the ensemble, window and
// stream detectors together (the D of the Bonferroni bound).
func (a *Artifact) NumDetectors() int { return len(a.Detectors) + len(a.Stream) }

// DetectorNames returns the names of the window detectors then the stream
// detectors, in ensemble order (the order of Combine's buffers).
func (a *Artifact) DetectorNames() []string {
	out := make([]string, 0, a.NumDetectors())
	for _, d := range a.Detectors {
		out = append(out, d.Name())
	}
	for _, d := range a.Stream {
		out = append(out, d.Name())
	}
	return out
}

// NewStates returns fresh per-VM states of the stream detectors (nil when
// the artifact has none).
func (a *Artifact) NewStates() []stream.State {
	if len(a.Stream) == 0 {
		return nil
	}
	out := make([]stream.State, len(a.Stream))
	for i, d := range a.Stream {
		out[i] = d.NewState()
	}
	return out
}

func (a *Artifact) sealStream(h hash.Hash) error {
	m := &a.Manifest
	if len(m.Calibration.Stream) != len(a.Stream) {
		return fmt.Errorf("seal artifact: %d stream detectors but %d calibrations", len(a.Stream), len(m.Calibration.Stream))
	}
	m.StreamDetectors = m.StreamDetectors[:0]
	for i, d := range a.Stream {
		b, err := d.MarshalBinary()
		if err != nil {
			return fmt.Errorf("seal artifact: stream detector %s: %w", d.Name(), err)
		}
		sum := sha256.Sum256(b)
		m.StreamDetectors = append(m.StreamDetectors, DetectorFile{
			Name: d.Name(), File: fmt.Sprintf("%02d-%s.bin", len(a.Detectors)+i, d.Name()), SHA256: hex.EncodeToString(sum[:]),
		})
		fmt.Fprintf(h, "stream %s %x\n", d.Name(), sum)
	}
	if len(m.StreamDetectors) == 0 {
		m.StreamDetectors = nil
	}
	return nil
}

func (a *Artifact) loadStream(dir string, read func(string) ([]byte, error)) error {
	m := &a.Manifest
	if len(m.Calibration.Stream) != len(m.StreamDetectors) {
		return fmt.Errorf("load model %s: %d stream detectors and %d calibrations: re-export the artifact", dir, len(m.StreamDetectors), len(m.Calibration.Stream))
	}
	for i, df := range m.StreamDetectors {
		if df.File != filepath.Base(df.File) {
			return fmt.Errorf("load model %s: detector file %q must be a plain name", dir, df.File)
		}
		b, err := read(df.File)
		if err != nil {
			return err
		}
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != df.SHA256 {
			return fmt.Errorf("load model %s: %s does not match its sha256 in the manifest: the artifact is corrupt, copy it again", dir, df.File)
		}
		d, err := NewStreamDetector(df.Name)
		if err != nil {
			return fmt.Errorf("load model %s: %w", dir, err)
		}
		if err := d.UnmarshalBinary(b); err != nil {
			return fmt.Errorf("load model %s: %s: %w", dir, df.File, err)
		}
		if dd, ok := d.(interface{ Dim() int }); ok && dd.Dim() != len(m.FeatureNames) {
			return fmt.Errorf("load model %s: %s has %d features, manifest names %d: re-export the artifact", dir, df.File, dd.Dim(), len(m.FeatureNames))
		}
		if err := m.Calibration.Stream[i].Validate(); err != nil {
			return fmt.Errorf("load model %s: stream detector %s: %w", dir, df.Name, err)
		}
		a.Stream = append(a.Stream, d)
	}
	return nil
}

// DetectorCalibration returns the tail calibration of detector i in
// ensemble order (window detectors, then stream detectors).
func (a *Artifact) DetectorCalibration(i int) *Calibration {
	if i < len(a.Detectors) {
		return &a.Manifest.Calibration.Detectors[i]
	}
	return &a.Manifest.Calibration.Stream[i-len(a.Detectors)]
}

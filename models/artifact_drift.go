package models

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"

	"github.com/escapement/escapement/models/drift"
)

// Files an artifact directory may hold beside the ones Load requires: the
// drift reference and the model card (written by training). Whoever copies
// an artifact (a registry) should copy those present.
const (
	CardJSONFile     = "model-card.json"
	CardMarkdownFile = "model-card.md"
)

// OptionalFiles lists them.
func OptionalFiles() []string { return []string{DriftFile, CardJSONFile, CardMarkdownFile} }

// loadDrift reads the optional drift reference of an artifact; a missing
// file is no reference, not an error.
func loadDrift(fsys fs.FS, dir string, names []string) (*drift.Reference, error) {
	b, err := fs.ReadFile(fsys, DriftFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", dir, err)
	}
	r := &drift.Reference{}
	if err := json.Unmarshal(b, r); err != nil {
		return nil, fmt.Errorf("load model %s: %s: %w (delete it to load the model without drift monitoring)", dir, DriftFile, err)
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("load model %s: %s: %w", dir, DriftFile, err)
	}
	if !slices.Equal(r.Features, names) {
		return nil, fmt.Errorf("load model %s: %s names other features than the manifest: re-export the artifact", dir, DriftFile)
	}
	return r, nil
}

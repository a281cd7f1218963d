// Package defaultmodel embeds the model `escapement run` and `escapement
// score` use when no --model is given: the ensemble trained on simulator
// seeds that no evaluation uses. `make model` (escapement train
// --default-model) regenerates it; docs/detection.md says how it was made.
package defaultmodel

import (
	"embed"
	"io/fs"

	"github.com/escapement/escapement/models"
)

//go:embed artifact
var files embed.FS

// Dir is where the artifact lives in the source tree, relative to the
// repository root.
const Dir = "models/defaultmodel/artifact"

// Load returns the embedded artifact, checked against the featurizer's
// schema hash and feature names.
func Load(wantHash string, wantNames []string) (*models.Artifact, error) {
	sub, err := fs.Sub(files, "artifact")
	if err != nil {
		return nil, err
	}
	return models.LoadFS(sub, "(embedded default model)", wantHash, wantNames)
}

package models

import (
	"errors"
	"math/rand/v2"

	"github.com/escapement/escapement/models/internal/check"
)

// Detector is an unsupervised anomaly detector over fixed-length feature
// vectors.
//
// Fit learns from the rows of X (all of the same length) and mutates the
// receiver; all randomness comes from rng, so the same X and the same seeded
// rng give the same model, bit for bit. Score returns a number that is higher
// for more anomalous x; its scale is the detector's own and is mapped to a
// tail probability by a Calibration. Score must be safe for concurrent use
// once Fit or UnmarshalBinary has returned.
//
// Shape misuse (a ragged X, an x of the wrong length, Score before Fit) panics;
// bad data (an empty X, NaN or Inf values) returns an error.
type Detector interface {
	Name() string
	Fit(X [][]float64, rng *rand.Rand) error
	Score(x []float64) float64
	MarshalBinary() ([]byte, error)
	UnmarshalBinary(data []byte) error
}

// Errors shared by every detector and by the Standardizer.
var (
	ErrEmpty     = check.ErrEmpty
	ErrNonFinite = check.ErrNonFinite
	// ErrSchemaMismatch reports an artifact trained on other features than
	// the running featurizer emits.
	ErrSchemaMismatch = errors.New("feature schema mismatch: retrain the model for this featurizer or run the featurizer version the model was trained for")
)

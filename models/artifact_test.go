package models

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/models/iforest"
	"github.com/escapement/escapement/models/zmax"
)

// testArtifact fits a small artifact on lognormal-ish data.
func testArtifact(t *testing.T, seed uint64) (*Artifact, [][]float64) {
	t.Helper()
	names := []string{"exit_io_rate", "exit_msr_rate", "fault_rate"}
	rng := rand.New(rand.NewPCG(seed, 1))
	X := make([][]float64, 3000)
	for i := range X {
		X[i] = []float64{100 * rng.ExpFloat64(), 5 * rng.ExpFloat64(), 1000 * rng.ExpFloat64()}
	}
	train, held := X[:2000], X[2000:]
	a := &Artifact{Standardizer: &Standardizer{}}
	require.NoError(t, a.Standardizer.Fit(train))
	Z := make([][]float64, len(train))
	for i, x := range train {
		Z[i] = a.Standardizer.Transform(x, nil)
	}
	a.Detectors = []Detector{iforest.New(50, 128), zmax.New()}
	for _, d := range a.Detectors {
		require.NoError(t, d.Fit(Z, rand.New(rand.NewPCG(seed, 2))))
	}
	raw := make([][]float64, len(a.Detectors))
	for _, x := range held {
		z := a.Standardizer.Transform(x, nil)
		for i, d := range a.Detectors {
			raw[i] = append(raw[i], d.Score(z))
		}
	}
	a.Manifest = Manifest{FeatureNames: names, Platform: "sim"}
	for i := range a.Detectors {
		c, err := Calibrate([][]float64{raw[i]}, CalibrationConfig{WindowSeconds: 1})
		require.NoError(t, err)
		a.Manifest.Calibration.Detectors = append(a.Manifest.Calibration.Detectors, c)
	}
	var ens []float64
	rb, pb := make([]float64, 2), make([]float64, 2)
	for _, x := range held {
		ens = append(ens, a.Combine(a.Standardizer.Transform(x, nil), rb, pb))
	}
	c, err := Calibrate([][]float64{ens}, CalibrationConfig{WindowSeconds: 1, Budget: 50})
	require.NoError(t, err)
	a.Manifest.Calibration.Alert = c
	return a, held
}

func TestArtifactRoundTrip(t *testing.T) {
	a, held := testArtifact(t, 1)
	dir := filepath.Join(t.TempDir(), "model")
	require.NoError(t, a.Save(dir))
	require.Len(t, a.Manifest.ModelVersion, 16)
	require.Equal(t, SchemaHash(a.Manifest.FeatureNames), a.Manifest.FeatureSchemaHash)

	b, err := Load(dir, a.Manifest.FeatureSchemaHash, a.Manifest.FeatureNames)
	require.NoError(t, err)
	require.Equal(t, a.Manifest.ModelVersion, b.Manifest.ModelVersion)
	ra, pa := make([]float64, 2), make([]float64, 2)
	rb, pb := make([]float64, 2), make([]float64, 2)
	for _, x := range held[:200] {
		ea := a.Combine(a.Standardizer.Transform(x, nil), ra, pa)
		eb := b.Combine(b.Standardizer.Transform(x, nil), rb, pb)
		require.Equal(t, ea, eb)
		require.Equal(t, ra, rb)
	}
	// The same training gives the same version; another seed another.
	a2, _ := testArtifact(t, 1)
	require.NoError(t, a2.Seal())
	require.Equal(t, a.Manifest.ModelVersion, a2.Manifest.ModelVersion)
	a3, _ := testArtifact(t, 2)
	require.NoError(t, a3.Seal())
	require.NotEqual(t, a.Manifest.ModelVersion, a3.Manifest.ModelVersion)
}

func TestArtifactLoadErrors(t *testing.T) {
	a, _ := testArtifact(t, 1)
	dir := t.TempDir()
	require.NoError(t, a.Save(dir))
	names := a.Manifest.FeatureNames

	_, err := Load(dir, "", []string{"exit_io_rate", "exit_pio_rate", "fault_rate"})
	require.ErrorIs(t, err, ErrSchemaMismatch)
	require.Contains(t, err.Error(), `"exit_msr_rate"`)
	_, err = Load(dir, SchemaHash(names[:2]), nil)
	require.ErrorIs(t, err, ErrSchemaMismatch)
	_, err = Load(dir, "", nil)
	require.NoError(t, err)

	_, err = Load(t.TempDir(), "", nil)
	require.ErrorContains(t, err, "manifest.json is missing")

	// A corrupted detector file is caught by its hash.
	f := filepath.Join(dir, a.Manifest.Detectors[0].File)
	b, err := os.ReadFile(f)
	require.NoError(t, err)
	b[len(b)-1] ^= 1
	require.NoError(t, os.WriteFile(f, b, 0o644))
	_, err = Load(dir, "", nil)
	require.ErrorContains(t, err, "sha256")
	require.NoError(t, os.Remove(f))
	_, err = Load(dir, "", nil)
	require.ErrorContains(t, err, "is missing")
	require.False(t, errors.Is(err, ErrSchemaMismatch))

	bad := *a
	bad.Manifest.Platform = "xen"
	require.ErrorContains(t, bad.Seal(), "platform")
}

func TestEnsembleFired(t *testing.T) {
	a, held := testArtifact(t, 3)
	raw, p := make([]float64, 2), make([]float64, 2)
	// Benign windows mostly stay under the threshold; a spike on one
	// feature makes zmax fire.
	over := 0
	for _, x := range held {
		if a.Combine(a.Standardizer.Transform(x, nil), raw, p) > a.Manifest.Calibration.Alert.Threshold {
			over++
		}
	}
	require.Less(t, over, len(held)/10)
	e := a.Combine(a.Standardizer.Transform([]float64{100, 5000, 1000}, nil), raw, p)
	require.Greater(t, e, a.Manifest.Calibration.Alert.Threshold)
	require.Contains(t, a.Fired(p), zmax.Name)
}

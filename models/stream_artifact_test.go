package models

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/models/ngram"
	"github.com/escapement/escapement/models/stream"
	"github.com/escapement/escapement/models/vmbase"
)

// TestStreamArtifactRoundTrip saves an artifact with stream detectors and
// checks that the loaded one scores a VM's windows the same way, and that a
// missing stream calibration or file is refused.
func TestStreamArtifactRoundTrip(t *testing.T) {
	a, held := testArtifact(t, 1)
	seq := make([]stream.Window, len(held))
	for i, x := range held {
		seq[i] = stream.Window{Z: a.Standardizer.Transform(x, nil), Grams: []stream.Gram{{Hash: uint64(2 + 2*(i%5)), Count: 1}}}
	}
	vb := vmbase.New()
	vb.Warmup = 10
	vb.Median, vb.Scale, vb.Group = a.Standardizer.Median, a.Standardizer.Scale, vmbase.Groups(a.Manifest.FeatureNames)
	a.Stream = []stream.Detector{vb, ngram.New()}
	for _, d := range a.Stream {
		require.NoError(t, d.Fit([][]stream.Window{seq[:500]}, rand.New(rand.NewPCG(1, 1))))
		raw := make([]float64, 0, len(seq))
		st := d.NewState()
		for _, w := range seq {
			raw = append(raw, st.Score(w))
			st.Learn(w)
		}
		c, err := Calibrate([][]float64{raw}, CalibrationConfig{WindowSeconds: 1, ExpTail: true})
		require.NoError(t, err)
		a.Manifest.Calibration.Stream = append(a.Manifest.Calibration.Stream, c)
	}
	dir := filepath.Join(t.TempDir(), "model")
	require.NoError(t, a.Save(dir))
	require.Equal(t, []string{"iforest", "zmax", "vmbase", "ngram"}, a.DetectorNames())
	require.Equal(t, "02-vmbase.bin", a.Manifest.StreamDetectors[0].File)

	b, err := Load(dir, "", a.Manifest.FeatureNames)
	require.NoError(t, err)
	require.Equal(t, a.Manifest.ModelVersion, b.Manifest.ModelVersion)
	sa, sb := a.NewStates(), b.NewStates()
	n := a.NumDetectors()
	ra, pa, rb, pb := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	for _, w := range seq {
		require.Equal(t, a.CombineStream(w, sa, ra, pa), b.CombineStream(w, sb, rb, pb))
		require.Equal(t, ra, rb)
		for i := range sa {
			sa[i].Learn(w)
			sb[i].Learn(w)
		}
	}
	// Combine alone counts every detector in the Bonferroni bound, so it
	// never exceeds CombineStream on the same window.
	w := seq[len(seq)-1]
	require.LessOrEqual(t, a.Combine(w.Z, ra[:2], pa[:2]), a.CombineStream(w, sa, ra, pa))

	require.NoError(t, os.Remove(filepath.Join(dir, "03-ngram.bin")))
	_, err = Load(dir, "", nil)
	require.ErrorContains(t, err, "03-ngram.bin is missing")
}

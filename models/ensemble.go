package models

import (
	"fmt"
	"math"

	"github.com/escapement/escapement/models/stream"
)

// Ensemble scoring: each detector's raw score is mapped to its p-value p_d,
// the probability that a benign window scores at least as high
// (Calibration.PValue), by its own Calibration; the ensemble
// takes the Bonferroni bound p = min(1, D·min_d p_d) and scores
// E = −log10 p. E is what the alert Calibration (and its threshold) is fitted
// on, so detectors of different scales combine and adding one does not
// inflate the false-alert rate.

// Combine scores the standardised vector z with every window detector,
// writing the raw scores and tail probabilities into raw and p (each of
// length len(a.Detectors)), and returns the ensemble score E of those
// detectors (the Bonferroni factor counts the stream detectors too, so E
// never exceeds CombineStream's on the same window).
func (a *Artifact) Combine(z, raw, p []float64) float64 {
	n := len(a.Detectors)
	if len(raw) != n || len(p) != n {
		panic(fmt.Sprintf("models: Combine needs buffers of %d detectors", n))
	}
	minp := 1.0
	for i, d := range a.Detectors {
		raw[i] = d.Score(z)
		p[i] = a.Manifest.Calibration.Detectors[i].PValue(raw[i])
		minp = min(minp, p[i])
	}
	return EnsembleScore(minp, a.NumDetectors())
}

// CombineStream scores window w with every detector, the stream detectors
// through the VM's states (from NewStates; Score only, the caller decides
// whether to Learn), writing raw scores and tail probabilities into raw and
// p (each of length NumDetectors, window detectors first), and returns the
// ensemble score E.
func (a *Artifact) CombineStream(w stream.Window, states []stream.State, raw, p []float64) float64 {
	nw, n := len(a.Detectors), a.NumDetectors()
	if len(raw) != n || len(p) != n || len(states) != len(a.Stream) {
		panic(fmt.Sprintf("models: CombineStream needs buffers of %d detectors and %d states", n, len(a.Stream)))
	}
	minp := 1.0
	for i, d := range a.Detectors {
		raw[i] = d.Score(w.Z)
		p[i] = a.Manifest.Calibration.Detectors[i].PValue(raw[i])
		minp = min(minp, p[i])
	}
	for i, st := range states {
		raw[nw+i] = st.Score(w)
		p[nw+i] = a.Manifest.Calibration.Stream[i].PValue(raw[nw+i])
		minp = min(minp, p[nw+i])
	}
	return EnsembleScore(minp, n)
}

// EnsembleScore is −log10 min(1, n·p): the ensemble score of a window whose
// most surprised of n detectors gives tail probability p.
func EnsembleScore(p float64, n int) float64 {
	return -math.Log10(min(1, float64(n)*p))
}

// Fired returns the names of the detectors that would have crossed the alert
// threshold on their own, given the tail probabilities from Combine.
// p may cover the window detectors only (Combine) or all (CombineStream).
func (a *Artifact) Fired(p []float64) []string {
	var out []string
	n := a.NumDetectors()
	for i, pi := range p {
		if EnsembleScore(pi, n) > a.Manifest.Calibration.Alert.Threshold {
			if i < len(a.Detectors) {
				out = append(out, a.Detectors[i].Name())
			} else {
				out = append(out, a.Stream[i-len(a.Detectors)].Name())
			}
		}
	}
	return out
}

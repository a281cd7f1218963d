package models

import (
	"fmt"
	"math"
)

// Ensemble scoring: each detector's raw score is mapped to the tail
// probability p_d of a benign window by its own Calibration; the ensemble
// takes the Bonferroni bound p = min(1, D·min_d p_d) and scores
// E = −log10 p. E is what the alert Calibration (and its threshold) is fitted
// on, so detectors of different scales combine and adding one does not
// inflate the false-alert rate.

// Combine scores the standardised vector z with every detector, writing the
// raw scores and tail probabilities into raw and p (each of length
// len(a.Detectors)), and returns the ensemble score E.
func (a *Artifact) Combine(z, raw, p []float64) float64 {
	n := len(a.Detectors)
	if len(raw) != n || len(p) != n {
		panic(fmt.Sprintf("models: Combine needs buffers of %d detectors", n))
	}
	minp := 1.0
	for i, d := range a.Detectors {
		raw[i] = d.Score(z)
		p[i] = a.Manifest.Calibration.Detectors[i].TailProb(raw[i])
		minp = min(minp, p[i])
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
func (a *Artifact) Fired(p []float64) []string {
	var out []string
	n := len(a.Detectors)
	for i, pi := range p {
		if EnsembleScore(pi, n) > a.Manifest.Calibration.Alert.Threshold {
			out = append(out, a.Detectors[i].Name())
		}
	}
	return out
}

// Package models holds Escapement's unsupervised detectors behind one small
// interface, the preprocessing they share, their calibration to an alert
// budget, and the versioned artifact that carries a trained set from
// training to scoring.
//
// The contract, in gonum style: detectors take plain slices; Fit mutates the
// receiver and draws all randomness from an injected seeded *rand.Rand
// (math/rand/v2), so a seed reproduces a model bit for bit; shape misuse
// panics and bad data returns ErrEmpty or ErrNonFinite.
//
// Pipeline of one feature vector (raw, non-negative rates and counts):
//
//	Standardizer: z_j = (log1p x_j − median_j) / robust scale_j
//	each Detector d: raw score s_d(z)                       (iforest, zmax)
//	its Calibration: p_d = P(benign window scores > s_d)    (tail probability)
//	ensemble: E = −log10 min(1, D·min_d p_d)
//	alert Calibration: anomalous when E > Threshold; Risk(E) ∈ [0,100], 60 at the threshold
//
// Thresholds come from an alert budget (false incidents per VM-day) measured
// on held-out benign windows the detectors were not fitted on, counting
// incidents (exceedance runs folded as the scorer folds them) rather than
// windows, and extrapolated with a generalised Pareto tail where the held-out
// data is too short to show the budget's rate. docs/models.md gives the
// details and the artifact layout.
//
// models knows feature vectors only: no Kafka, no collectors, no HTTP.
package models

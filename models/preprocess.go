package models

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"

	"github.com/escapement/escapement/models/internal/check"
)

// Robust scaling constants.
const (
	// MADScale makes the median absolute deviation a consistent estimator
	// of the standard deviation for normal data.
	MADScale = 1.4826
	// MeanADScale does the same for the mean absolute deviation (√(π/2)),
	// used when more than half a column sits on its median (MAD = 0).
	MeanADScale = 1.2533
	// DefaultMinScale floors the scale, in log1p units: a feature that never
	// moved in training still needs a finite z when it moves.
	DefaultMinScale = 0.1
)

// Standardizer maps raw feature vectors (non-negative, heavy-tailed rates and
// counts) to robust z-scores: z_j = (log1p(x_j) − median_j) / scale_j, with
// scale_j = max(MAD_j·1.4826, floor) — or the mean absolute deviation ·1.2533
// when MAD_j is zero — computed on log1p of the training column. Negative
// inputs are treated as 0.
//
// The same transform feeds the detectors and explains their alerts: Baseline
// gives the median back in raw units and Z the z-score of one raw value.
type Standardizer struct {
	// MinScale is the floor of every scale (log1p units); zero selects
	// DefaultMinScale. Set it before Fit.
	MinScale float64   `json:"min_scale"`
	Median   []float64 `json:"median"` // per feature, of log1p(x)
	Scale    []float64 `json:"scale"`  // per feature, robust spread of log1p(x)

	// logs[i] = log1p(i) for the small integers most feature values are
	// (counts and per-second rates of 1 s windows); built by Fit and
	// UnmarshalJSON, nil in a literal (Transform then calls log1p).
	logs []float64
}

// smallInts is the size of the log1p table: 95 % of the values of the
// simulator's 53 features are integers below it.
const smallInts = 1024

// buildLogs fills the log1p table with the very function Transform would
// call, so that the table changes no result.
func (s *Standardizer) buildLogs() {
	s.logs = make([]float64, smallInts)
	for i := range s.logs {
		s.logs[i] = log1p(float64(i))
	}
}

// Fit learns the per-feature median and scale of log1p(X). It panics on a
// ragged X and returns an error for an empty X or non-finite values.
func (s *Standardizer) Fit(X [][]float64) error {
	d, err := check.Matrix(X)
	if err != nil {
		return err
	}
	floor := s.MinScale
	if floor <= 0 {
		floor = DefaultMinScale
	}
	col, dev := make([]float64, len(X)), make([]float64, len(X))
	s.Median, s.Scale = make([]float64, d), make([]float64, d)
	for j := range d {
		for i, row := range X {
			col[i] = log1p(row[j])
		}
		slices.Sort(col)
		med := median(col)
		var sum float64
		for i, v := range col {
			dev[i] = math.Abs(v - med)
			sum += dev[i]
		}
		slices.Sort(dev)
		scale := median(dev) * MADScale
		if scale == 0 {
			scale = sum / float64(len(dev)) * MeanADScale
		}
		s.Median[j], s.Scale[j] = med, max(scale, floor)
	}
	s.MinScale = floor
	s.buildLogs()
	return nil
}

// log1p is log(1+max(v,0)). math.Log is assembly on amd64 and several
// times faster than math.Log1p; 1+v only loses precision for v below 1e-4,
// where Log1p takes over.
func log1p(v float64) float64 {
	if v < 1e-4 {
		return math.Log1p(max(v, 0))
	}
	return math.Log(1 + v)
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// Dim returns the number of features (0 before Fit).
func (s *Standardizer) Dim() int { return len(s.Median) }

// Transform writes the z-scores of raw x into dst (allocated when nil or
// short) and returns it. It panics when x has the wrong length.
func (s *Standardizer) Transform(x, dst []float64) []float64 {
	if len(x) != len(s.Median) {
		panic(fmt.Sprintf("models: vector has %d features, standardizer was fitted on %d", len(x), len(s.Median)))
	}
	if cap(dst) < len(x) {
		dst = make([]float64, len(x))
	}
	dst = dst[:len(x)]
	med, scale := s.Median[:len(x)], s.Scale[:len(x)]
	if logs := s.logs; len(logs) == smallInts {
		for j, v := range x {
			var l float64
			if i := int(v); float64(i) == v && uint(i) < smallInts {
				l = logs[i]
			} else {
				l = log1p(v)
			}
			dst[j] = (l - med[j]) / scale[j]
		}
		return dst
	}
	for j, v := range x {
		dst[j] = (log1p(v) - med[j]) / scale[j]
	}
	return dst
}

// Baseline returns the training median of feature i in raw units.
func (s *Standardizer) Baseline(i int) float64 { return math.Expm1(s.Median[i]) }

// Z returns the robust z-score of the raw value v of feature i.
func (s *Standardizer) Z(i int, v float64) float64 { return (log1p(v) - s.Median[i]) / s.Scale[i] }

// validate checks a decoded standardizer.
func (s *Standardizer) validate() error {
	if len(s.Median) == 0 || len(s.Median) != len(s.Scale) {
		return fmt.Errorf("standardizer: %d medians and %d scales: re-export the artifact", len(s.Median), len(s.Scale))
	}
	if !check.Finite(s.Median) || !check.Finite(s.Scale) {
		return fmt.Errorf("standardizer: %w", ErrNonFinite)
	}
	for j, v := range s.Scale {
		if !(v > 0) {
			return fmt.Errorf("standardizer: scale of feature %d is %v, must be > 0: re-export the artifact", j, v)
		}
	}
	return nil
}

// UnmarshalJSON decodes and validates a standardizer.
func (s *Standardizer) UnmarshalJSON(b []byte) error {
	type plain Standardizer
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	t := Standardizer(p)
	if err := t.validate(); err != nil {
		return err
	}
	t.buildLogs()
	*s = t
	return nil
}

package report

import "time"

// Page is everything the report shows.
type Page struct {
	Title     string
	Generated time.Time
	Model     string
	Datasets  []string
	// Summary rows, in order (e.g. "floods detected" → "128 of 128").
	Summary []Row
	// Detectors holds each detector alone and the ensemble (conventionally
	// last), each with its curves.
	Detectors []Detector
	// Classes is the detection per threat class.
	Classes []Class
	// Timelines are the VMs shown; Hidden counts the VMs left out.
	Timelines []Timeline
	Hidden    int
	// Note is a line under the timelines saying how they were chosen.
	Note string
}

// Row is one labelled value of a summary table.
type Row struct{ Label, Value string }

// Point is a curve point: X = false-positive rate and Y = true-positive rate
// on a ROC curve, X = recall and Y = precision on a PR curve.
type Point struct{ X, Y float64 }

// Detector is one row of the comparison table and its two curves. Nil
// pointers are shown as "–".
type Detector struct {
	Name                string
	ROCAUC, PRAUC       *float64
	AtFPR               []Rate // per-window detection rate at fixed false-positive rates
	Floods, Stealthy    [2]int // detected, total
	FalseAlerts         int
	FalseAlertsPerVMDay float64
	ROC, PR             []Point
}

// Rate is the per-window detection rate at a false-positive rate.
type Rate struct {
	FPR  float64
	Rate *float64
}

// Class is the detection of one threat class: detected and total floods and
// stealthy runs.
type Class struct {
	Name            string
	Flood, Stealthy [2]int
}

// Timeline is the ensemble score of one VM over time.
type Timeline struct {
	Label     string // e.g. dataset/vm
	Threshold float64
	From, To  time.Time
	// Samples are (time, score) in time order; Write buckets them to the
	// chart's width keeping each bucket's maximum, so no peak is lost.
	Times  []time.Time
	Scores []float64
	// Scenarios are shaded; Incidents are marked under the curve.
	Scenarios []Span
	Incidents []Span
}

// Span is a labelled interval of a timeline. Benign marks placebos (and
// other benign look-alikes), Hit a detected scenario.
type Span struct {
	From, To time.Time
	Label    string
	Benign   bool
	Hit      bool
}

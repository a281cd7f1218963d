package training

import (
	"fmt"
	"math"
	"slices"
)

// Ranking holds the confusion counts of per-window scores against labels at
// every distinct score, from the highest down: a window is called anomalous
// at threshold Thresholds[i] when its score is ≥ it, and TP[i], FP[i] count
// the positive and negative windows so called. Ties enter together, as in
// ROCAUC and PRAUC. One Ranking serves the AUCs, the curves and the
// detection rates at fixed false-positive rates without sorting again.
type Ranking struct {
	Pos, Neg   int
	Thresholds []float64
	TP, FP     []int
}

// Rank sorts scores once and accumulates the counts. It panics if the
// lengths differ.
func Rank(scores []float64, labels []bool) Ranking {
	if len(scores) != len(labels) {
		panic(fmt.Sprintf("training: %d scores and %d labels", len(scores), len(labels)))
	}
	idx := order(scores)
	slices.Reverse(idx)
	var r Ranking
	var tp, fp int
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && scores[idx[j]] == scores[idx[i]] {
			if labels[idx[j]] {
				tp++
			} else {
				fp++
			}
			j++
		}
		r.Thresholds = append(r.Thresholds, scores[idx[i]])
		r.TP, r.FP = append(r.TP, tp), append(r.FP, fp)
		i = j
	}
	r.Pos, r.Neg = tp, fp
	return r
}

// ROCAUC is the area under the ROC curve by the trapezoid rule over the tie
// groups (equal to the rank-sum statistic with ties counted half); NaN when
// a class is empty.
func (r Ranking) ROCAUC() float64 {
	if r.Pos == 0 || r.Neg == 0 {
		return nan()
	}
	var area float64
	ptp, pfp := 0, 0
	for i := range r.TP {
		area += float64(r.FP[i]-pfp) * float64(r.TP[i]+ptp) / 2
		ptp, pfp = r.TP[i], r.FP[i]
	}
	return area / (float64(r.Pos) * float64(r.Neg))
}

// PRAUC is the average precision, as PRAUC; NaN without positives.
func (r Ranking) PRAUC() float64 {
	if r.Pos == 0 {
		return nan()
	}
	var ap float64
	ptp := 0
	for i := range r.TP {
		ap += float64(r.TP[i]-ptp) / float64(r.Pos) * float64(r.TP[i]) / float64(r.TP[i]+r.FP[i])
		ptp = r.TP[i]
	}
	return ap
}

// CurvePoint is one point of a ROC curve (X = false-positive rate, Y =
// true-positive rate) or a PR curve (X = recall, Y = precision), with the
// score threshold that gives it.
type CurvePoint struct {
	X         float64 `json:"x"`
	Y         float64 `json:"y"`
	Threshold float64 `json:"threshold"`
}

// ROC returns the ROC curve, one point per distinct threshold from the
// highest score down to (1, 1) (the origin, above every score, is implied),
// thinned to about
// maxPoints points: a point is kept when it moves at least 1/maxPoints from
// the last kept one in either coordinate (the last is always kept). It
// returns nil when a class is empty.
func (r Ranking) ROC(maxPoints int) []CurvePoint {
	if r.Pos == 0 || r.Neg == 0 {
		return nil
	}
	pts := make([]CurvePoint, 0, len(r.TP))
	for i := range r.TP {
		pts = append(pts, CurvePoint{X: float64(r.FP[i]) / float64(r.Neg), Y: float64(r.TP[i]) / float64(r.Pos), Threshold: r.Thresholds[i]})
	}
	return thin(pts, maxPoints, true)
}

// PR returns the precision–recall curve, one point per distinct threshold,
// thinned as ROC. It returns nil without positives.
func (r Ranking) PR(maxPoints int) []CurvePoint {
	if r.Pos == 0 {
		return nil
	}
	pts := make([]CurvePoint, 0, len(r.TP))
	for i := range r.TP {
		pts = append(pts, CurvePoint{X: float64(r.TP[i]) / float64(r.Pos), Y: float64(r.TP[i]) / float64(r.TP[i]+r.FP[i]), Threshold: r.Thresholds[i]})
	}
	return thin(pts, maxPoints, false)
}

func thin(pts []CurvePoint, maxPoints int, logX bool) []CurvePoint {
	if maxPoints <= 0 || len(pts) <= maxPoints {
		return pts
	}
	step := 1 / float64(maxPoints)
	out := []CurvePoint{pts[0]}
	for _, p := range pts[1 : len(pts)-1] {
		last := out[len(out)-1]
		if math.Abs(p.X-last.X) >= step || math.Abs(p.Y-last.Y) >= step || (logX && p.X > 0 && p.X >= 1.05*last.X) {
			out = append(out, p)
		}
	}
	return append(out, pts[len(pts)-1])
}

// DetectionAtFPR is the largest true-positive rate (per window) among the
// thresholds whose false-positive rate is at most fpr, with the threshold
// that gives it (+Inf and rate 0 when even the highest score has too many
// false positives). It returns NaN when a class is empty.
func (r Ranking) DetectionAtFPR(fpr float64) (tpr, threshold float64) {
	if r.Pos == 0 || r.Neg == 0 {
		return nan(), nan()
	}
	tpr, threshold = 0, math.Inf(1)
	for i := range r.TP {
		if float64(r.FP[i]) > fpr*float64(r.Neg) {
			break
		}
		tpr, threshold = float64(r.TP[i])/float64(r.Pos), r.Thresholds[i]
	}
	return tpr, threshold
}

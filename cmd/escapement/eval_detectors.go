package main

import (
	"fmt"
	"io"
	"math"
	"text/tabwriter"

	"github.com/escapement/escapement/collectors/sim"
	"github.com/escapement/escapement/models"
	"github.com/escapement/escapement/training"
)

// evalFPRs are the per-window false-positive rates the detection rate is
// reported at.
var evalFPRs = []float64{0.01, 0.001}

// curvePoints bounds the points of each ROC and PR curve in the report.
const curvePoints = 400

// EnsembleName names the ensemble's row among the detectors.
const ensembleName = "ensemble"

// atFPR is the per-window detection rate at a false-positive rate.
type atFPR struct {
	FPR           float64  `json:"fpr"`
	DetectionRate *float64 `json:"detection_rate"`
	Threshold     *float64 `json:"threshold"`
}

// detectorEval is one row of the per-detector comparison: a detector of the
// model alone (alerting when its raw score exceeds its own calibrated
// threshold for the budget, incidents folded as the scorer folds them), or
// the ensemble as the scorer ran it.
type detectorEval struct {
	Name                string                `json:"name"`
	Threshold           float64               `json:"threshold"` // raw score (ensemble: E)
	ROCAUC              *float64              `json:"roc_auc"`
	PRAUC               *float64              `json:"pr_auc"`
	AtFPR               []atFPR               `json:"detection_at_fpr"`
	Floods              [2]int                `json:"floods"`   // detected, total
	Stealthy            [2]int                `json:"stealthy"` // detected, total
	Incidents           int                   `json:"incidents"`
	FalseAlerts         int                   `json:"false_alerts"`
	FalseAlertsPerVMDay float64               `json:"false_alerts_per_vm_day"`
	ROC                 []training.CurvePoint `json:"roc"`
	PR                  []training.CurvePoint `json:"pr"`
}

// rankEval fills the per-window measures of d from its scores.
func (d *detectorEval) rankEval(scores []float64, labels []bool) {
	r := training.Rank(scores, labels)
	d.ROCAUC, d.PRAUC = finite(r.ROCAUC()), finite(r.PRAUC())
	d.ROC, d.PR = r.ROC(curvePoints), r.PR(curvePoints)
	for _, f := range evalFPRs {
		tpr, th := r.DetectionAtFPR(f)
		d.AtFPR = append(d.AtFPR, atFPR{FPR: f, DetectionRate: finite(tpr), Threshold: finite(th)})
	}
}

// incidentEval fills the scenario and false-alert measures of d.
func (d *detectorEval) incidentEval(in training.EvalInput, incidents []training.Incident) {
	in.Incidents, in.Scores, in.Labels = incidents, nil, nil
	rep := training.Evaluate(in)
	d.Incidents, d.FalseAlerts, d.FalseAlertsPerVMDay = len(incidents), rep.FalseAlerts, rep.FalseAlertsPerVMDay
	for _, s := range rep.Scenarios {
		if s.Scenario.Placebo {
			continue
		}
		cell := &d.Floods
		if s.Scenario.Intensity == sim.Stealthy {
			cell = &d.Stealthy
		}
		cell[1]++
		if s.Detected {
			cell[0]++
		}
	}
}

// detectorThreshold is detector i's own alert threshold: its calibrated
// threshold, re-targeted when budget differs from the model's.
func detectorThreshold(a *models.Artifact, i int, budget float64) float64 {
	c := a.DetectorCalibration(i)
	if budget > 0 && budget != c.Budget {
		return c.ThresholdFor(budget)
	}
	return c.Threshold
}

// foldAlone folds what detector i (or, with i < 0, the ensemble score
// against threshold) would have raised on every VM series, raising nothing
// on each VM's first grace windows, as the scorer does.
func foldAlone(series []*vmSeries, i int, threshold float64, gap, grace int) []training.Incident {
	var out []training.Incident
	for _, s := range series {
		ws := make([]training.AlertWindow, len(s.start))
		for k := range ws {
			v := s.e[k]
			if i >= 0 {
				v = s.raw[i][k]
			}
			ws[k] = training.AlertWindow{Start: s.start[k], End: s.end[k], Alert: v > threshold && k >= grace}
		}
		out = append(out, training.FoldIncidents(s.vm, ws, gap)...)
	}
	return out
}

// scorerGap is the scorer's GapWindows for the flag value.
func scorerGap(flag int) int {
	switch {
	case flag < 0:
		return 0
	case flag == 0:
		return 1
	}
	return flag
}

func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func printDetectors(w io.Writer, ds []detectorEval, vmDays float64) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "\nDETECTOR\tPR-AUC\tROC-AUC\tDR@1%%FPR\tDR@0.1%%FPR\tFLOODS\tSTEALTHY\tFALSE ALERTS\tPER VM-DAY\n")
	for _, d := range ds {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d/%d\t%d/%d\t%d\t%.2f\n", d.Name, num(d.PRAUC), num(d.ROCAUC),
			num(d.AtFPR[0].DetectionRate), num(d.AtFPR[1].DetectionRate),
			d.Floods[0], d.Floods[1], d.Stealthy[0], d.Stealthy[1], d.FalseAlerts, d.FalseAlertsPerVMDay)
	}
	tw.Flush()
	fmt.Fprintf(w, "(detectors alone at their own calibrated thresholds; %.1f VM-days; DR = per-window detection rate)\n", vmDays)
}

func num(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.3f", *v)
}

package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"time"
)

//go:embed page.html.tmpl
var pageTemplate string

// view is what the template renders: the page and its pre-drawn charts.
type view struct {
	Page
	ROC, ROCLog, PR template.HTML
	Timelines       []timelineView
	FPRs            []float64
}

type timelineView struct {
	Label string
	Chart template.HTML
	Names string // scenario names, for the filter
}

// Write renders p as one self-contained HTML document.
func Write(w io.Writer, p Page) error {
	t, err := template.New("page").Funcs(template.FuncMap{
		"num": func(v *float64) string {
			if v == nil || math.IsNaN(*v) {
				return "–"
			}
			return fmt.Sprintf("%.3f", *v)
		},
		"pct":   func(v float64) string { return fmt.Sprintf("%g %%", 100*v) },
		"frac":  func(c [2]int) string { return fmt.Sprintf("%d / %d", c[0], c[1]) },
		"f2":    func(v float64) string { return fmt.Sprintf("%.2f", v) },
		"when":  func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"color": colour,
	}).Parse(pageTemplate)
	if err != nil {
		return fmt.Errorf("report: template: %w", err)
	}
	v := view{Page: p, ROC: template.HTML(curveChart("roc", p.Detectors)),
		ROCLog: template.HTML(curveChart("roc-log", p.Detectors)), PR: template.HTML(curveChart("pr", p.Detectors))}
	for _, d := range p.Detectors {
		if len(d.AtFPR) > len(v.FPRs) {
			v.FPRs = v.FPRs[:0]
			for _, r := range d.AtFPR {
				v.FPRs = append(v.FPRs, r.FPR)
			}
		}
	}
	// One score axis for every timeline, so heights compare across VMs.
	top := 1.0
	for _, tl := range p.Timelines {
		top = max(top, 2*tl.Threshold)
		for _, s := range tl.Scores {
			if !math.IsInf(s, 0) && !math.IsNaN(s) {
				top = max(top, s)
			}
		}
	}
	for _, tl := range p.Timelines {
		if len(tl.Times) != len(tl.Scores) {
			return fmt.Errorf("report: timeline %s has %d times and %d scores", tl.Label, len(tl.Times), len(tl.Scores))
		}
		names := ""
		for _, s := range tl.Scenarios {
			names += " " + s.Label
		}
		v.Timelines = append(v.Timelines, timelineView{Label: tl.Label, Chart: template.HTML(timelineChart(tl, top)), Names: names})
	}
	return t.Execute(w, v)
}

package report

import (
	"fmt"
	"html"
	"math"
	"strings"
	"time"
)

// Chart geometry (SVG user units).
const (
	curveW, curveH  = 420, 320
	curveMargin     = 44
	timelineW       = 960
	timelineH       = 96
	timelineMarginL = 44
	timelineMarginB = 18
	timelineBuckets = 720
	incidentBarH    = 5
)

// palette colours curves by detector index; the ensemble is drawn black.
var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22"}

func colour(i int, name string) string {
	if name == "ensemble" {
		return "#111"
	}
	return palette[i%len(palette)]
}

// logDecades is how many decades of false-positive rate the log ROC chart
// spans (down to 1e-logDecades; lower rates, zero included, sit on its left
// edge).
const logDecades = 5

// curveChart draws one curve per detector in the unit square. kind is "roc",
// "roc-log" (the false-positive rate on a log axis, where alerting
// thresholds sit) or "pr".
func curveChart(kind string, ds []Detector) string {
	var b strings.Builder
	xl, yl := "false-positive rate (per window)", "detection rate (per window)"
	switch kind {
	case "pr":
		xl, yl = "recall", "precision"
	case "roc-log":
		xl = "false-positive rate (per window, log)"
	}
	pw, ph := float64(curveW-curveMargin-10), float64(curveH-curveMargin-10)
	px := func(x float64) float64 { return curveMargin + x*pw }
	if kind == "roc-log" {
		px = func(x float64) float64 {
			return curveMargin + pw*(1+max(math.Log10(max(x, 1e-300)), -logDecades)/logDecades)
		}
	}
	py := func(y float64) float64 { return 10 + (1-y)*ph }
	fmt.Fprintf(&b, `<svg class="curve" data-chart="%s" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s curve">`,
		kind, curveW, curveH, curveW, curveH, strings.ToUpper(kind))
	fmt.Fprintf(&b, `<rect class="frame" x="%g" y="10" width="%g" height="%g"/>`, px(0), pw, ph)
	for _, t := range []float64{0, 0.25, 0.5, 0.75, 1} {
		fmt.Fprintf(&b, `<line class="grid" x1="%g" y1="%g" x2="%g" y2="%g"/>`, px(0), py(t), px(1), py(t))
		fmt.Fprintf(&b, `<text class="tick" x="%g" y="%g" text-anchor="end">%g</text>`, px(0)-4, py(t)+4, t)
	}
	xticks := []float64{0, 0.25, 0.5, 0.75, 1}
	if kind == "roc-log" {
		xticks = xticks[:0]
		for e := -logDecades; e <= 0; e++ {
			xticks = append(xticks, math.Pow(10, float64(e)))
		}
	}
	for _, t := range xticks {
		fmt.Fprintf(&b, `<line class="grid" x1="%g" y1="%g" x2="%g" y2="%g"/>`, px(t), py(0), px(t), py(1))
		fmt.Fprintf(&b, `<text class="tick" x="%g" y="%g" text-anchor="middle">%g</text>`, px(t), py(0)+14, t)
	}
	switch kind {
	case "roc":
		fmt.Fprintf(&b, `<line class="chance" x1="%g" y1="%g" x2="%g" y2="%g"/>`, px(0), py(0), px(1), py(1))
	case "roc-log":
		for _, f := range []float64{0.01, 0.001} {
			fmt.Fprintf(&b, `<line class="fpr-mark" x1="%g" y1="%g" x2="%g" y2="%g"><title>%g %% false positives</title></line>`,
				px(f), py(0), px(f), py(1), 100*f)
		}
	}
	fmt.Fprintf(&b, `<text class="axis" x="%g" y="%d" text-anchor="middle">%s</text>`, curveMargin+pw/2, curveH-4, xl)
	fmt.Fprintf(&b, `<text class="axis" transform="translate(12 %g) rotate(-90)" text-anchor="middle">%s</text>`, py(0.5), yl)
	for i, d := range ds {
		pts := d.ROC
		if kind == "pr" {
			pts = d.PR
		}
		if len(pts) == 0 {
			continue
		}
		if kind == "roc" { // the curve starts at the origin, above every score (off the log chart)
			pts = append([]Point{{0, 0}}, pts...)
		}
		fmt.Fprintf(&b, `<polyline class="series" data-detector="%s" stroke="%s" points="`, html.EscapeString(d.Name), colour(i, d.Name))
		for k, p := range pts {
			if k > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "%.1f,%.1f", px(clamp01(p.X)), py(clamp01(p.Y)))
		}
		fmt.Fprintf(&b, `"><title>%s</title></polyline>`, html.EscapeString(d.Name))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

func clamp01(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return min(max(v, 0), 1)
}

// timelineChart draws one VM's ensemble score on a log(1 + score) axis
// topped at top, the threshold dashed, scenarios shaded and incidents as
// bars under the axis.
func timelineChart(t Timeline, top float64) string {
	var b strings.Builder
	from, to := t.From.UnixNano(), t.To.UnixNano()
	if to <= from {
		to = from + 1
	}
	pw, ph := float64(timelineW-timelineMarginL-6), float64(timelineH-timelineMarginB-6)
	px := func(ns int64) float64 {
		return timelineMarginL + pw*min(max(float64(ns-from)/float64(to-from), 0), 1)
	}
	ly := math.Log1p(max(top, 1))
	py := func(s float64) float64 {
		if math.IsNaN(s) {
			s = 0
		}
		return 6 + ph*(1-min(math.Log1p(max(s, 0))/ly, 1))
	}
	fmt.Fprintf(&b, `<svg class="timeline" data-chart="timeline" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="score timeline of %s">`,
		timelineW, timelineH, timelineW, timelineH, html.EscapeString(t.Label))
	fmt.Fprintf(&b, `<rect class="frame" x="%d" y="6" width="%g" height="%g"/>`, timelineMarginL, pw, ph)
	for _, s := range t.Scenarios {
		cls := "scenario"
		switch {
		case s.Benign:
			cls = "placebo"
		case s.Hit:
			cls = "scenario hit"
		}
		x0, x1 := px(s.From.UnixNano()), px(s.To.UnixNano())
		fmt.Fprintf(&b, `<rect class="%s" x="%.1f" y="6" width="%.1f" height="%g"><title>%s</title></rect>`,
			cls, x0, max(x1-x0, 3), ph, html.EscapeString(s.Label))
	}
	// Bucket the samples to the chart width, keeping each bucket's maximum.
	n := len(t.Scores)
	buckets := min(n, timelineBuckets)
	if buckets > 0 {
		b.WriteString(`<polyline class="score" points="`)
		for k := range buckets {
			lo, hi := k*n/buckets, (k+1)*n/buckets
			best, at := math.Inf(-1), lo
			for i := lo; i < hi; i++ {
				if t.Scores[i] > best {
					best, at = t.Scores[i], i
				}
			}
			if k > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "%.1f,%.1f", px(t.Times[at].UnixNano()), py(best))
		}
		b.WriteString(`"/>`)
	}
	fmt.Fprintf(&b, `<line class="threshold" x1="%d" y1="%.1f" x2="%g" y2="%.1f"><title>threshold %.3g</title></line>`,
		timelineMarginL, py(t.Threshold), timelineMarginL+pw, py(t.Threshold), t.Threshold)
	for _, s := range t.Incidents {
		x0, x1 := px(s.From.UnixNano()), px(s.To.UnixNano())
		fmt.Fprintf(&b, `<rect class="incident" x="%.1f" y="%g" width="%.1f" height="%d"><title>%s</title></rect>`,
			x0, 6+ph+2, max(x1-x0, 2), incidentBarH, html.EscapeString(s.Label))
	}
	fmt.Fprintf(&b, `<text class="tick" x="%d" y="%.1f" text-anchor="end">%.3g</text>`, timelineMarginL-4, py(t.Threshold)+4, t.Threshold)
	fmt.Fprintf(&b, `<text class="tick" x="%d" y="14" text-anchor="end">%.3g</text>`, timelineMarginL-4, top)
	fmt.Fprintf(&b, `<text class="tick" x="%d" y="%d">%s</text>`, timelineMarginL, timelineH-3, t.From.UTC().Format(time.DateTime))
	fmt.Fprintf(&b, `<text class="tick" x="%d" y="%d" text-anchor="end">%s</text>`, timelineW-6, timelineH-3, t.To.UTC().Format(time.DateTime))
	b.WriteString(`</svg>`)
	return b.String()
}

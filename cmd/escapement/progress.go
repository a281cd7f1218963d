package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metricSum returns the sum of every series of the named metric family.
func metricSum(g prometheus.Gatherer, name string) float64 {
	mfs, err := g.Gather()
	if err != nil {
		return 0
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			}
		}
	}
	return sum
}

// progress prints one line of pipeline throughput per call.
type progress struct {
	g          prometheus.Gatherer
	last       time.Time
	lastEvents float64
	anomalies  func() int
}

func (p *progress) line(now time.Time) string {
	ev := metricSum(p.g, "escapement_featurize_events_total")
	rate := 0.0
	if !p.last.IsZero() {
		rate = (ev - p.lastEvents) / now.Sub(p.last).Seconds()
	}
	p.last, p.lastEvents = now, ev
	drops := metricSum(p.g, "escapement_featurize_late_drops_total") + metricSum(p.g, "escapement_featurize_dead_letters_total")
	var b strings.Builder
	fmt.Fprintf(&b, "progress: %s events/s, %s events, %.0f windows, %.0f VMs, %.0f scored, %d anomalies, %.0f drops",
		human(rate), human(ev), metricSum(p.g, "escapement_featurize_rows_total"),
		metricSum(p.g, "escapement_featurize_vms"), metricSum(p.g, "escapement_scoring_rows_total"), p.anomalies(), drops)
	return b.String()
}

func human(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	default:
		return fmt.Sprintf("%.0f", v)
	}
}

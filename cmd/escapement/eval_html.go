package main

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/escapement/escapement/datasets"
	"github.com/escapement/escapement/training"
	"github.com/escapement/escapement/training/report"
)

// writeEvalHTML writes the evaluation as one HTML page at path, with the
// score timelines of at most maxVMs VMs (0 = all): VMs with attack
// scenarios or incidents first, then by most incidents, then by name.
func writeEvalHTML(path string, rep evalReport, series []*vmSeries, incidents []training.Incident,
	labels []datasets.Label, maxVMs int) error {
	p := report.Page{
		Title:     "Escapement evaluation",
		Generated: time.Now(),
		Model:     rep.Model,
		Datasets:  rep.Datasets,
	}
	add := func(label, format string, args ...any) {
		p.Summary = append(p.Summary, report.Row{Label: label, Value: fmt.Sprintf(format, args...)})
	}
	add("VMs, VM-days, windows", "%d, %.1f, %d", rep.VMs, rep.VMDays, rep.Windows)
	add("scenarios detected", "%d of %d (%.0f %%), mean delay %.2f s", rep.Detected, rep.Attacks, 100*rep.DetectionRate, rep.MeanDelaySeconds)
	add("incidents", "%d", rep.Incidents)
	add("false alerts", "%d = %.2f per VM-day", rep.FalseAlerts, rep.FalseAlertsPerVMDay)
	add("per-window ROC-AUC / PR-AUC", "%s / %s", num(rep.ROCAUC), num(rep.PRAUC))
	for _, a := range rep.AtFPR {
		add(fmt.Sprintf("per-window detection at %g %% FPR", 100*a.FPR), "%s", num(a.DetectionRate))
	}
	for _, d := range rep.Detectors {
		rd := report.Detector{Name: d.Name, ROCAUC: d.ROCAUC, PRAUC: d.PRAUC, Floods: d.Floods, Stealthy: d.Stealthy,
			FalseAlerts: d.FalseAlerts, FalseAlertsPerVMDay: d.FalseAlertsPerVMDay}
		for _, a := range d.AtFPR {
			rd.AtFPR = append(rd.AtFPR, report.Rate{FPR: a.FPR, Rate: a.DetectionRate})
		}
		for _, c := range d.ROC {
			rd.ROC = append(rd.ROC, report.Point{X: c.X, Y: c.Y})
		}
		for _, c := range d.PR {
			rd.PR = append(rd.PR, report.Point{X: c.X, Y: c.Y})
		}
		p.Detectors = append(p.Detectors, rd)
	}
	classes := make([]string, 0, len(rep.ByClass))
	for c := range rep.ByClass {
		classes = append(classes, c)
	}
	sort.Strings(classes)
	for _, c := range classes {
		p.Classes = append(p.Classes, report.Class{Name: c, Flood: rep.ByClass[c].Flood, Stealthy: rep.ByClass[c].Stealthy})
	}

	threshold := rep.Detectors[len(rep.Detectors)-1].Threshold
	detected := map[string]bool{}
	for _, s := range rep.Scenarios {
		if s.Detected {
			detected[s.VM+"\x00"+s.Name+"\x00"+s.Start] = true
		}
	}
	incByVM := map[string][]training.Incident{}
	for _, inc := range incidents {
		incByVM[inc.VMID] = append(incByVM[inc.VMID], inc)
	}
	labByVM := map[string][]datasets.Label{}
	for _, l := range labels {
		labByVM[l.VMID] = append(labByVM[l.VMID], l)
	}
	attacks := func(vm string) int {
		n := 0
		for _, l := range labByVM[vm] {
			if !l.Placebo {
				n++
			}
		}
		return n
	}
	order := slices.Clone(series)
	slices.SortStableFunc(order, func(a, b *vmSeries) int {
		ia, ib := attacks(a.vm) > 0 || len(incByVM[a.vm]) > 0, attacks(b.vm) > 0 || len(incByVM[b.vm]) > 0
		if ia != ib {
			if ia {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(len(incByVM[b.vm]), len(incByVM[a.vm])), cmp.Compare(a.dataset, b.dataset), cmp.Compare(a.vm, b.vm))
	})
	shown := order
	if maxVMs > 0 && len(order) > maxVMs {
		shown, p.Hidden = order[:maxVMs], len(order)-maxVMs
	}
	p.Note = fmt.Sprintf("%d of %d VMs: those with attack scenarios or incidents first, then by number of incidents.", len(shown), len(order))
	for _, s := range shown {
		if len(s.start) == 0 {
			continue
		}
		tl := report.Timeline{
			Label:     filepath.Base(s.dataset) + "/" + s.vm,
			Threshold: threshold,
			From:      time.Unix(0, s.start[0]),
			To:        time.Unix(0, s.end[len(s.end)-1]),
			Scores:    s.e,
			Times:     make([]time.Time, len(s.start)),
		}
		for i, ns := range s.start {
			tl.Times[i] = time.Unix(0, ns)
		}
		for _, l := range labByVM[s.vm] {
			tl.Scenarios = append(tl.Scenarios, report.Span{From: l.Start, To: l.End, Benign: l.Placebo,
				Hit:   detected[l.VMID+"\x00"+l.Name+"\x00"+l.Start.UTC().Format(time.RFC3339)],
				Label: fmt.Sprintf("%s (%s, %s)", l.Name, l.Class, l.Intensity)})
		}
		for _, inc := range incByVM[s.vm] {
			tl.Incidents = append(tl.Incidents, report.Span{From: inc.FirstSeen, To: inc.LastSeen,
				Label: fmt.Sprintf("incident %s, %s, %s – %s", inc.ID, inc.Severity, inc.FirstSeen.UTC().Format(time.TimeOnly), inc.LastSeen.UTC().Format(time.TimeOnly))})
		}
		p.Timelines = append(p.Timelines, tl)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("eval --report: %w", err)
	}
	if err := report.Write(f, p); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

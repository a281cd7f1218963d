package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/escapement/escapement/anomaly"
	"github.com/escapement/escapement/collectors/sim"
	"github.com/escapement/escapement/datasets"
	"github.com/escapement/escapement/features"
	"github.com/escapement/escapement/models"
	"github.com/escapement/escapement/models/stream"
	"github.com/escapement/escapement/scoring"
	"github.com/escapement/escapement/training"
)

// evalReport is what `escapement eval --json` prints.
type evalReport struct {
	Datasets []string `json:"datasets"`
	Model    string   `json:"model"`
	VMs      int      `json:"vms"`
	VMDays   float64  `json:"vm_days"`
	Windows  int      `json:"windows"`
	// GraceWindows counts the windows inside the model's grace (each VM's
	// first Manifest.GraceWindows), left out of the per-window measures.
	GraceWindows        int                   `json:"grace_windows,omitempty"`
	Incidents           int                   `json:"incidents"`
	FalseAlerts         int                   `json:"false_alerts"`
	FalseAlertsPerVMDay float64               `json:"false_alerts_per_vm_day"`
	VMHours             float64               `json:"vm_hours"`
	FalseAlertsPerVMHr  float64               `json:"false_alerts_per_vm_hour"`
	Detected            int                   `json:"detected"`
	Attacks             int                   `json:"attacks"`
	DetectionRate       float64               `json:"detection_rate"`
	MeanDelaySeconds    float64               `json:"mean_delay_seconds"`
	ROCAUC              *float64              `json:"roc_auc"`
	PRAUC               *float64              `json:"pr_auc"`
	ROC                 []training.CurvePoint `json:"roc"`
	PR                  []training.CurvePoint `json:"pr"`
	AtFPR               []atFPR               `json:"detection_at_fpr"`
	ByClass             map[string]*classRP   `json:"by_class"`
	Scenarios           []scenarioSummary     `json:"scenarios"`
	// Detectors compares each detector of the model alone with the
	// ensemble (the last row).
	Detectors []detectorEval `json:"detectors"`
}

// vmSeries is what eval keeps of one VM of one dataset: its windows in
// order, the ensemble score and each detector's raw score.
type vmSeries struct {
	dataset, vm string
	start, end  []int64
	e           []float64
	raw         [][]float64 // per detector
	label       []bool
	states      []stream.State // the stream detectors' state of the VM
}

type classRP struct {
	Flood    [2]int `json:"flood"`    // detected, total
	Stealthy [2]int `json:"stealthy"` // detected, total
}

func cmdEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "adfa-ld" {
		return cmdEvalADFA(ctx, args[1:], stdout, stderr)
	}
	fs, cfgFile := newFlagSet("eval", "Evaluate a model on labelled datasets (escapement dataset generate): per-scenario detection\n(an incident on the scenario's VM within 3 windows of its start), detection delay, false alerts\n(incidents on VMs with no active scenario; placebos count as benign) per VM-day, and per-window ROC-AUC and PR-AUC.", stderr)
	var sc scoreFlags
	sc.register(fs)
	data := fs.String("data", "", "comma-separated dataset `directories` (features.parquet, labels.json, manifest.json)")
	asJSON := fs.Bool("json", false, "print the report as JSON (it always holds the per-detector comparison and the curves)")
	perDetector := fs.Bool("per-detector", false, "also print each detector of the model alone against the ensemble")
	htmlOut := fs.String("report", "", "write a self-contained HTML report (curves, tables, per-VM score timelines) to `FILE`")
	reportVMs := fs.Int("report-vms", 24, "VM timelines in the HTML report: VMs with scenarios or alerts first; 0 = every VM")
	if err := parseFlags(fs, cfgFile, args); err != nil {
		return err
	}
	dirs := splitList(*data)
	if len(dirs) == 0 {
		return errors.New("eval needs --data DIR[,DIR]")
	}
	model, err := sc.load()
	if err != nil {
		return err
	}
	ev, err := evaluate(ctx, model, sc, dirs, stderr)
	if err != nil {
		return err
	}
	rep := ev.rep
	if *htmlOut != "" {
		if err := writeEvalHTML(*htmlOut, rep, ev.series, ev.incidents, ev.labels, *reportVMs); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "wrote %s\n", *htmlOut)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	rep.print(stdout)
	if *perDetector {
		printDetectors(stdout, rep.Detectors, rep.VMDays)
	}
	return nil
}

// evaluation is what evaluate measured, with what the report draws from.
type evaluation struct {
	rep       evalReport
	series    []*vmSeries
	incidents []training.Incident // the scorer's
	labels    []datasets.Label    // placebos included
	gap       int                 // the scorer's GapWindows
}

// evaluate scores the datasets in dirs with model and measures the result.
func evaluate(ctx context.Context, model *models.Artifact, sc scoreFlags, dirs []string, stderr io.Writer) (evaluation, error) {
	rep := evalReport{Datasets: dirs, Model: model.Manifest.ModelVersion, ByClass: map[string]*classRP{}, Scenarios: []scenarioSummary{}}
	var all training.Report
	var scores []float64
	var labels []bool
	var incidents []training.Incident
	var scenarios []training.Scenario
	var series []*vmSeries
	var labelsOf []datasets.Label // every label, placebos included, for the report
	rawAll := make([][]float64, model.NumDetectors())
	seen := map[string]string{} // VM → dataset
	window := time.Second
	for _, dir := range dirs {
		if ctx.Err() != nil {
			return evaluation{}, ctx.Err()
		}
		m, err := datasets.ReadManifest(dir)
		if err != nil {
			return evaluation{}, err
		}
		if m.WindowSeconds > 0 {
			window = time.Duration(m.WindowSeconds * float64(time.Second))
		}
		ls, err := datasets.ReadLabels(dir)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return evaluation{}, err
		}
		byVM := map[string][]datasets.Label{}
		labelsOf = append(labelsOf, ls...)
		vms := map[string]*vmSeries{}
		for _, l := range ls {
			scenarios = append(scenarios, training.Scenario(l))
			if !l.Placebo {
				byVM[l.VMID] = append(byVM[l.VMID], l)
			}
		}
		// A scorer per dataset: VM ids and times of different datasets are
		// unrelated.
		scorer := scoring.NewScorer(model, sc.config(), nil, nil)
		z := make([]float64, model.Standardizer.Dim())
		raw := make([]float64, model.NumDetectors())
		p := make([]float64, model.NumDetectors())
		var gs []stream.Gram
		var recs []anomaly.Record
		err = datasets.ReadFeatures(filepath.Join(dir, datasets.FeaturesFile), func(_ []string, rows []features.Row) error {
			for _, r := range rows {
				out, err := scorer.Score(r)
				if err != nil {
					return err
				}
				recs = append(recs, out...)
				vs := vms[r.VMID]
				if vs == nil {
					if prev, ok := seen[r.VMID]; ok {
						return fmt.Errorf("VM %s is in both %s and %s: scenarios and incidents are matched by VM, so evaluate datasets of different simulator seeds (or fleets) together", r.VMID, prev, dir)
					}
					seen[r.VMID] = dir
					vs = &vmSeries{dataset: dir, vm: r.VMID, raw: make([][]float64, len(raw)), states: model.NewStates()}
					vms[r.VMID] = vs
					series = append(series, vs)
				}
				// Per-window scores: the stream detectors see the VM's
				// windows in order and learn those under the threshold.
				model.Standardizer.Transform(r.Values, z)
				gs = training.Grams(r.NGrams, gs)
				w := stream.Window{Z: z, Grams: gs}
				e := model.CombineStream(w, vs.states, raw, p)
				if e <= scorer.Threshold() {
					for _, st := range vs.states {
						st.Learn(w)
					}
				}
				in := insideScenario(r, byVM[r.VMID], 0)
				// The model's grace windows (a VM's first ones, its
				// start-up) are neither learnt nor judged by the model,
				// so they are left out of the per-window measures as
				// the scorer leaves them out of its incidents.
				judged := len(vs.start) >= model.Manifest.GraceWindows
				if judged {
					scores = append(scores, e)
					labels = append(labels, in)
				} else {
					rep.GraceWindows++
				}
				vs.start, vs.end = append(vs.start, r.Start), append(vs.end, r.End)
				vs.e, vs.label = append(vs.e, e), append(vs.label, in)
				for i, v := range raw {
					vs.raw[i] = append(vs.raw[i], v)
					if judged {
						rawAll[i] = append(rawAll[i], v)
					}
				}
				rep.Windows++
			}
			return nil
		})
		if err != nil {
			return evaluation{}, fmt.Errorf("read %s: %w", dir, err)
		}
		recs = scorer.Expire(time.Unix(0, math.MaxInt64), recs)
		incidents = append(incidents, training.IncidentsFromRecords(recs)...)
		rep.VMs += m.VMs
		rep.VMDays += float64(m.VMs) * m.DurationSeconds / 86400
		fmt.Fprintf(stderr, "scored %s: %d windows so far\n", dir, rep.Windows)
	}
	evalIn := training.EvalInput{Scenarios: scenarios, Incidents: incidents, Window: window,
		VMDays: rep.VMDays, Scores: scores, Labels: labels}
	all = training.Evaluate(evalIn)
	gap := scorerGap(sc.gapWindows)
	for i, name := range model.DetectorNames() {
		de := detectorEval{Name: name, Threshold: detectorThreshold(model, i, sc.budget)}
		de.rankEval(rawAll[i], labels)
		de.incidentEval(evalIn, foldAlone(series, i, de.Threshold, gap, model.Manifest.GraceWindows))
		rep.Detectors = append(rep.Detectors, de)
		rawAll[i] = nil
	}
	ens := detectorEval{Name: ensembleName, Threshold: scoring.NewScorer(model, sc.config(), nil, nil).Threshold()}
	ens.rankEval(scores, labels)
	ens.incidentEval(evalIn, incidents)
	rep.Detectors = append(rep.Detectors, ens)
	rep.ROC, rep.PR, rep.AtFPR = ens.ROC, ens.PR, ens.AtFPR
	rep.Incidents = len(incidents)
	rep.FalseAlerts, rep.FalseAlertsPerVMDay = all.FalseAlerts, all.FalseAlertsPerVMDay
	rep.Detected, rep.Attacks, rep.DetectionRate = all.Detected, all.Attacks, all.DetectionRate
	rep.MeanDelaySeconds = all.MeanDelay.Seconds()
	rep.VMHours = rep.VMDays * 24
	if rep.VMHours > 0 {
		rep.FalseAlertsPerVMHr = float64(rep.FalseAlerts) / rep.VMHours
	}
	if !math.IsNaN(all.ROCAUC) {
		rep.ROCAUC, rep.PRAUC = &all.ROCAUC, &all.PRAUC
	}
	for _, r := range all.Scenarios {
		if r.Scenario.Placebo {
			continue
		}
		s := scenarioSummary{Name: r.Scenario.Name, Class: r.Scenario.Class, VM: r.Scenario.VMID, Intensity: r.Scenario.Intensity,
			Start: r.Scenario.Start.UTC().Format(time.RFC3339), Detected: r.Detected, Incident: r.Incident}
		if r.Detected {
			d := r.Delay.Seconds()
			s.DelaySeconds = &d
		}
		rep.Scenarios = append(rep.Scenarios, s)
		c := rep.ByClass[s.Class]
		if c == nil {
			c = &classRP{}
			rep.ByClass[s.Class] = c
		}
		cell := &c.Flood
		if s.Intensity == sim.Stealthy {
			cell = &c.Stealthy
		}
		cell[1]++
		if s.Detected {
			cell[0]++
		}
	}
	return evaluation{rep: rep, series: series, incidents: incidents, labels: labelsOf, gap: gap}, nil
}

// insideScenario reports whether row r overlaps one of the labelled
// scenarios ls, extended by slack windows after their end.
func insideScenario(r features.Row, ls []datasets.Label, slackWindows int64) bool {
	slack := slackWindows * (r.End - r.Start)
	for _, l := range ls {
		if r.End > l.Start.UnixNano() && r.Start < l.End.UnixNano()+slack {
			return true
		}
	}
	return false
}

func (r evalReport) print(w io.Writer) {
	fmt.Fprintf(w, "model %s on %d VMs, %.1f VM-days, %d windows\n", r.Model, r.VMs, r.VMDays, r.Windows)
	fmt.Fprintf(w, "detected %d of %d scenarios (%.0f%%), mean delay %.1fs; %d false alerts = %.2f per VM-day\n",
		r.Detected, r.Attacks, 100*r.DetectionRate, r.MeanDelaySeconds, r.FalseAlerts, r.FalseAlertsPerVMDay)
	fmt.Fprintf(w, "false alerts per VM-hour %.2f over %.2f VM-hours\n", r.FalseAlertsPerVMHr, r.VMHours)
	if r.ROCAUC != nil {
		fmt.Fprintf(w, "per-window ROC-AUC %.3f, PR-AUC %.3f\n", *r.ROCAUC, *r.PRAUC)
	}
	if r.GraceWindows > 0 {
		fmt.Fprintf(w, "per-window measures leave out the %d windows inside the model's grace (each VM's first windows)\n", r.GraceWindows)
	}
	for _, a := range r.AtFPR {
		fmt.Fprintf(w, "per-window detection rate at %g%% false positives: %s\n", 100*a.FPR, num(a.DetectionRate))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nCLASS\tFLOOD DETECTED\tSTEALTHY DETECTED")
	classes := make([]string, 0, len(r.ByClass))
	for c := range r.ByClass {
		classes = append(classes, c)
	}
	sort.Strings(classes)
	for _, c := range classes {
		v := r.ByClass[c]
		fmt.Fprintf(tw, "%s\t%d/%d\t%d/%d\n", c, v.Flood[0], v.Flood[1], v.Stealthy[0], v.Stealthy[1])
	}
	tw.Flush()
	if len(r.Scenarios) > 0 && len(r.Scenarios) <= 50 {
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "\nSCENARIO\tVM\tINTENSITY\tSTART\tDETECTED\tDELAY")
		for _, s := range r.Scenarios {
			delay := "-"
			if s.DelaySeconds != nil {
				delay = fmt.Sprintf("%.1fs", *s.DelaySeconds)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\t%s\n", s.Name, s.VM, s.Intensity, s.Start, s.Detected, delay)
		}
		tw.Flush()
	}
}

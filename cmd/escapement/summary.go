package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/escapement/escapement/anomaly"
	"github.com/escapement/escapement/collectors/sim"
	"github.com/escapement/escapement/training"
)

// runSummary is what `escapement run` prints on exit and writes with
// --summary-json.
type runSummary struct {
	Events              int64             `json:"events"`
	Windows             int64             `json:"windows"`
	Anomalies           int               `json:"anomalies"`
	FalseAlerts         int               `json:"false_alerts"`
	FalseAlertsPerVMDay float64           `json:"false_alerts_per_vm_day"`
	VMs                 int               `json:"vms"`
	Seconds             float64           `json:"seconds"`
	Scenarios           []scenarioSummary `json:"scenarios"`
	Placebos            []scenarioSummary `json:"placebos"`
}

type scenarioSummary struct {
	Name         string   `json:"name"`
	Class        string   `json:"class"`
	VM           string   `json:"vm"`
	Intensity    string   `json:"intensity"`
	Start        string   `json:"start"`
	Detected     bool     `json:"detected"`
	DelaySeconds *float64 `json:"delay_seconds"`
	Incident     string   `json:"incident,omitempty"`
}

func scenariosOf(truth []sim.Scenario) []training.Scenario {
	out := make([]training.Scenario, len(truth))
	for i, s := range truth {
		out[i] = training.Scenario(s)
	}
	return out
}

func summarize(fleet *sim.Fleet, recs []anomaly.Record, window, elapsed time.Duration, g prometheus.Gatherer) runSummary {
	vmDays := float64(len(fleet.VMIDs())) * elapsed.Seconds() / 86400
	rep := training.Evaluate(training.EvalInput{Scenarios: scenariosOf(fleet.Truth()),
		Incidents: training.IncidentsFromRecords(recs), Window: window, VMDays: vmDays})
	s := runSummary{
		Events:  int64(metricSum(g, "escapement_featurize_events_total")),
		Windows: int64(metricSum(g, "escapement_featurize_rows_total")),
		// Incidents, not revisions: one per anomaly id.
		Anomalies:   len(recs),
		FalseAlerts: rep.FalseAlerts, FalseAlertsPerVMDay: rep.FalseAlertsPerVMDay,
		VMs: len(fleet.VMIDs()), Seconds: elapsed.Seconds(),
		Scenarios: []scenarioSummary{}, Placebos: []scenarioSummary{},
	}
	for _, r := range rep.Scenarios {
		sc := scenarioSummary{Name: r.Scenario.Name, Class: r.Scenario.Class, VM: r.Scenario.VMID,
			Intensity: r.Scenario.Intensity, Start: r.Scenario.Start.UTC().Format(time.RFC3339), Detected: r.Detected, Incident: r.Incident}
		if r.Detected {
			d := r.Delay.Seconds()
			sc.DelaySeconds = &d
		}
		if r.Scenario.Placebo {
			sc.Detected = false // placebos are benign: an incident there is a false alert
			s.Placebos = append(s.Placebos, sc)
		} else {
			s.Scenarios = append(s.Scenarios, sc)
		}
	}
	sort.SliceStable(s.Scenarios, func(i, j int) bool { return s.Scenarios[i].Start < s.Scenarios[j].Start })
	return s
}

func (s runSummary) print(w io.Writer) {
	fmt.Fprintf(w, "\nsummary: %d events, %d windows, %d VMs over %.0fs; %d incidents, %d false alerts (%.1f per VM-day)\n",
		s.Events, s.Windows, s.VMs, s.Seconds, s.Anomalies, s.FalseAlerts, s.FalseAlertsPerVMDay)
	if len(s.Scenarios) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tCLASS\tINTENSITY\tVM\tSTART\tRESULT")
	detected := 0
	for _, sc := range s.Scenarios {
		res := "MISSED"
		if sc.Detected {
			detected++
			res = fmt.Sprintf("detected after %.0fs", *sc.DelaySeconds)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", sc.Name, sc.Class, sc.Intensity, sc.VM, sc.Start[11:19], res)
	}
	tw.Flush()
	fmt.Fprintf(w, "%d of %d scenarios detected; %d placebos (benign look-alikes) ran\n", detected, len(s.Scenarios), len(s.Placebos))
}

func (s runSummary) writeJSON(path string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("--summary-json: %w", err)
	}
	return nil
}

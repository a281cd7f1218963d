package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
)

// report is the part of `escapement eval --json` the table reads.
type report struct {
	Model     string  `json:"model"`
	VMs       int     `json:"vms"`
	VMDays    float64 `json:"vm_days"`
	VMHours   float64 `json:"vm_hours"`
	Windows   int     `json:"windows"`
	Detectors []struct {
		Name   string   `json:"name"`
		PRAUC  *float64 `json:"pr_auc"`
		ROCAUC *float64 `json:"roc_auc"`
		AtFPR  []struct {
			FPR           float64  `json:"fpr"`
			DetectionRate *float64 `json:"detection_rate"`
		} `json:"detection_at_fpr"`
		Floods              [2]int  `json:"floods"`
		Stealthy            [2]int  `json:"stealthy"`
		FalseAlerts         int     `json:"false_alerts"`
		FalseAlertsPerVMDay float64 `json:"false_alerts_per_vm_day"`
	} `json:"detectors"`
}

func readReport(path string) (report, error) {
	var r report
	b, err := os.ReadFile(path)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("%s: %w", path, err)
	}
	if len(r.Detectors) < 2 || r.Detectors[len(r.Detectors)-1].Name != "ensemble" {
		return r, fmt.Errorf("%s: no per-detector comparison ending with the ensemble: is the escapement binary older than the per-detector eval?", path)
	}
	return r, nil
}

// modelBudget reads the alert budget (false incidents per VM-day) the model
// was calibrated for.
func modelBudget(dir string) (float64, error) {
	var m struct {
		Budget float64 `json:"budget_per_vm_day"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return 0, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return 0, fmt.Errorf("%s/manifest.json: %w", dir, err)
	}
	return m.Budget, nil
}

// printTable writes the detector table (Markdown, as in docs/models.md)
// and the verdict; it reports whether the ensemble beats every detector
// alone on PR-AUC and its false alerts are within the budget.
func printTable(w io.Writer, r report, budget float64) bool {
	fmt.Fprintf(w, "model %s on %d VMs, %.2f VM-hours, %d windows\n\n", r.Model, r.VMs, r.VMHours, r.Windows)
	fmt.Fprintln(w, "| detector | PR-AUC | ROC-AUC | detection @ 1 % FPR | @ 0.1 % FPR | floods | stealthy | false alerts (per VM-hour) |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	ens := r.Detectors[len(r.Detectors)-1]
	for _, d := range r.Detectors {
		perHour := 0.0
		if r.VMHours > 0 {
			perHour = float64(d.FalseAlerts) / r.VMHours
		}
		cells := []any{d.Name, num(d.PRAUC), num(d.ROCAUC), rate(d.AtFPR, 0), rate(d.AtFPR, 1),
			fmt.Sprintf("%d / %d", d.Floods[0], d.Floods[1]), fmt.Sprintf("%d / %d", d.Stealthy[0], d.Stealthy[1]),
			fmt.Sprintf("%d (%.2f)", d.FalseAlerts, perHour)}
		format := "| %s | %s | %s | %s | %s | %s | %s | %s |\n"
		if d.Name == "ensemble" {
			format = "| **%s** | **%s** | **%s** | **%s** | **%s** | **%s** | **%s** | **%s** |\n"
		}
		fmt.Fprintf(w, format, cells...)
	}
	fmt.Fprintln(w)
	beats := ens.PRAUC != nil
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, d := range r.Detectors[:len(r.Detectors)-1] {
		ok := ens.PRAUC != nil && (d.PRAUC == nil || *ens.PRAUC > *d.PRAUC)
		beats = beats && ok
		fmt.Fprintf(tw, "ensemble PR-AUC %s vs %s %s\t%s\n", num(ens.PRAUC), d.Name, num(d.PRAUC), verdict(ok, "beats", "does NOT beat"))
	}
	tw.Flush()
	allowed := budget * r.VMDays
	inBudget := float64(ens.FalseAlerts) <= allowed
	fmt.Fprintf(w, "ensemble false alerts: %d over %.3f VM-days = %.2f per VM-day against a budget of %g: %s\n",
		ens.FalseAlerts, r.VMDays, ens.FalseAlertsPerVMDay, budget, verdict(inBudget, "within the budget", "OVER the budget"))
	ok := beats && inBudget
	fmt.Fprintf(w, "claim (the ensemble beats each single detector on PR-AUC and meets the alert budget): %s\n", verdict(ok, "holds", "does NOT hold"))
	return ok
}

func verdict(ok bool, yes, no string) string {
	if ok {
		return yes
	}
	return no
}

func num(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.3f", *v)
}

func rate(at []struct {
	FPR           float64  `json:"fpr"`
	DetectionRate *float64 `json:"detection_rate"`
}, i int) string {
	if i >= len(at) {
		return "-"
	}
	return num(at[i].DetectionRate)
}

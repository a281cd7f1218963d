package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPrintTable checks the verdict on eval reports: the claim holds only
// when the ensemble's PR-AUC is above every detector's and its false alerts
// are within the budget over the recording's VM-days.
func TestPrintTable(t *testing.T) {
	tests := []struct {
		name     string
		prauc    [3]float64 // iforest, zmax, ensemble
		false    int
		vmDays   float64
		holds    bool
		contains string
	}{
		{"holds", [3]float64{0.6, 0.58, 0.77}, 0, 0.04, true, "claim (the ensemble beats each single detector on PR-AUC and meets the alert budget): holds"},
		{"a detector ranks better", [3]float64{0.6, 0.8, 0.77}, 0, 0.04, false, "vs zmax 0.800     does NOT beat"},
		{"a tie is not a win", [3]float64{0.77, 0.5, 0.77}, 0, 0.04, false, "vs iforest 0.770  does NOT beat"},
		{"one false alert in a short recording", [3]float64{0.6, 0.58, 0.77}, 1, 0.04, false, "OVER the budget"},
		{"one false alert in two VM-days", [3]float64{0.6, 0.58, 0.77}, 1, 2, true, "within the budget"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			js := map[string]any{"model": "m", "vms": 16, "vm_days": tt.vmDays, "vm_hours": tt.vmDays * 24, "windows": 3000,
				"detectors": []map[string]any{
					{"name": "iforest", "pr_auc": tt.prauc[0], "roc_auc": 0.9, "detection_at_fpr": []map[string]any{{"fpr": 0.01, "detection_rate": 0.1}, {"fpr": 0.001}}},
					{"name": "zmax", "pr_auc": tt.prauc[1], "roc_auc": 0.8, "floods": []int{9, 9}, "stealthy": []int{1, 8}},
					{"name": "ensemble", "pr_auc": tt.prauc[2], "roc_auc": 0.95, "floods": []int{9, 9}, "false_alerts": tt.false,
						"false_alerts_per_vm_day": float64(tt.false) / tt.vmDays},
				}}
			b, err := json.Marshal(js)
			require.NoError(t, err)
			path := filepath.Join(t.TempDir(), "eval.json")
			require.NoError(t, os.WriteFile(path, b, 0o644))
			rep, err := readReport(path)
			require.NoError(t, err)
			var out bytes.Buffer
			require.Equal(t, tt.holds, printTable(&out, rep, 1))
			require.Contains(t, out.String(), tt.contains)
			require.Contains(t, out.String(), "| **ensemble** |")
			require.Contains(t, out.String(), "| iforest | ")
		})
	}
	// A report without the ensemble row is refused.
	path := filepath.Join(t.TempDir(), "eval.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"detectors":[{"name":"zmax"}]}`), 0o644))
	_, err := readReport(path)
	require.ErrorContains(t, err, "no per-detector comparison")
}

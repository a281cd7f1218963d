package main

import (
	"context"
	"fmt"
	"os"

	"github.com/escapement/escapement/anomaly"
	"github.com/escapement/escapement/api"
	"github.com/escapement/escapement/training"
)

// readVerdicts returns the analysts' verdicts in the anomaly store at path as
// labels: a true positive is an attack on its VM from first_seen to
// last_seen, a false positive a benign (placebo) interval.
func readVerdicts(ctx context.Context, path string) ([]training.Scenario, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("--store %s: %w (the SQLite file escapement serve writes)", path, err)
	}
	st, err := api.OpenSQLite(path, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("--store %s: %w", path, err)
	}
	defer st.Close()
	var out []training.Scenario
	var after api.Cursor
	for {
		page, more, err := st.List(ctx, api.Query{After: after, Limit: 1000})
		if err != nil {
			return nil, fmt.Errorf("--store %s: %w", path, err)
		}
		for _, a := range page {
			if a.Verdict != anomaly.VerdictTruePositive && a.Verdict != anomaly.VerdictFalsePositive {
				continue
			}
			out = append(out, training.Scenario{ID: "verdict-" + a.ID, Name: "analyst " + a.Verdict, Class: a.Anomaly.Class,
				Intensity: a.Verdict, VMID: a.VM.ID, Start: a.FirstSeen, End: a.LastSeen, Placebo: a.Verdict == anomaly.VerdictFalsePositive})
		}
		if !more || len(page) == 0 {
			return out, nil
		}
		last := page[len(page)-1]
		after = api.Cursor{UpdatedAt: last.UpdatedAt.UnixNano(), ID: last.ID}
	}
}

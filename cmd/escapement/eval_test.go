package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/training"
)

// TestEvalPerDetectorAndReport generates a small labelled fleet and checks
// the parts of `escapement eval` the per-detector comparison rests on: that
// folding the ensemble's alerts reproduces the scorer's incidents exactly
// (so a detector folded alone is counted the same way), that every detector
// of the model gets a row, and that the JSON and the HTML report are written.
func TestEvalPerDetectorAndReport(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a simulated dataset; skipped with -short")
	}
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "ds")
	require.NoError(t, cmdDataset(ctx, []string{"generate", "--out", dir, "--vms", "6", "--duration", "20m",
		"--seed", "4242", "--scenarios", "8", "--placebos", "2"}, io.Discard, io.Discard))

	var sc scoreFlags
	sc.gapWindows = 1
	model, err := sc.load()
	require.NoError(t, err)
	ev, err := evaluate(ctx, model, sc, []string{dir}, io.Discard)
	require.NoError(t, err)
	rep := ev.rep
	require.Equal(t, 7200, rep.Windows)
	require.NotEmpty(t, ev.incidents, "the floods raise incidents")

	// The fold of the ensemble score against the scorer's threshold is the
	// scorer's incidents, window for window.
	ens := rep.Detectors[len(rep.Detectors)-1]
	require.Equal(t, ensembleName, ens.Name)
	folded := foldAlone(ev.series, -1, ens.Threshold, ev.gap, 0)
	span := func(incs []training.Incident) []string {
		var out []string
		for _, inc := range incs {
			out = append(out, inc.VMID+" "+inc.FirstSeen.Format(time.RFC3339Nano)+" "+inc.LastSeen.Format(time.RFC3339Nano))
		}
		slices.Sort(out)
		return out
	}
	require.Equal(t, span(ev.incidents), span(folded))
	require.Zero(t, rep.GraceWindows)

	// With a grace (the first 5 minutes of each VM), the fold still is the
	// scorer's incidents, and the grace windows leave the per-window measures.
	graced := *model
	graced.Manifest.GraceWindows = 300
	evg, err := evaluate(ctx, &graced, sc, []string{dir}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, 6*300, evg.rep.GraceWindows)
	require.Equal(t, span(evg.incidents), span(foldAlone(evg.series, -1, ens.Threshold, evg.gap, 300)))
	require.NotEqual(t, span(evg.incidents), span(folded), "the simulated fleet has incidents in its first 5 minutes")

	// One row per detector of the model, then the ensemble; the ensemble row
	// agrees with the headline numbers.
	require.Len(t, rep.Detectors, model.NumDetectors()+1)
	for i, name := range model.DetectorNames() {
		row := rep.Detectors[i]
		require.Equal(t, name, row.Name)
		require.Equal(t, rep.Attacks, row.Floods[1]+row.Stealthy[1])
		require.NotNil(t, row.ROCAUC)
		require.Len(t, row.AtFPR, 2)
	}
	require.Equal(t, rep.Detected, ens.Floods[0]+ens.Stealthy[0])
	require.Equal(t, rep.FalseAlerts, ens.FalseAlerts)
	require.Equal(t, *rep.ROCAUC, *ens.ROCAUC)
	require.NotEmpty(t, rep.ROC)
	require.NotEmpty(t, rep.PR)
	require.LessOrEqual(t, len(rep.ROC), 2*curvePoints+300)

	// The command itself: JSON on stdout, the page on disk.
	page := filepath.Join(t.TempDir(), "report.html")
	var out bytes.Buffer
	require.NoError(t, cmdEval(ctx, []string{"--data", dir, "--json", "--report", page, "--report-vms", "4"}, &out, io.Discard))
	var back evalReport
	require.NoError(t, json.Unmarshal(out.Bytes(), &back))
	require.Equal(t, rep.Incidents, back.Incidents)
	require.Len(t, back.Detectors, len(rep.Detectors))
	html, err := os.ReadFile(page)
	require.NoError(t, err)
	require.Equal(t, 4, strings.Count(string(html), `data-chart="timeline"`))
	require.Contains(t, string(html), "2 more VMs not shown")

	// The same fleet twice would match one dataset's incidents to the
	// other's scenarios: refused.
	_, err = evaluate(ctx, model, sc, []string{dir, dir}, io.Discard)
	require.ErrorContains(t, err, "is in both")

	out.Reset()
	require.NoError(t, cmdEval(ctx, []string{"--data", dir, "--per-detector"}, &out, io.Discard))
	for _, want := range []string{"DETECTOR", "iforest", "zmax", "ensemble", "detection rate at 1% false positives"} {
		require.Contains(t, out.String(), want)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/anomaly"
	"github.com/escapement/escapement/api"
	"github.com/escapement/escapement/datasets"
	"github.com/escapement/escapement/datasets/archive"
	"github.com/escapement/escapement/features"
	"github.com/escapement/escapement/models"
	"github.com/escapement/escapement/training"
)

// TestTrainOnArchive trains on an archive of 8 VMs over two hours, with an
// analyst's true positive and an untriaged incident in the store, and checks
// the artifact, its drift reference and the model card's counts.
func TestTrainOnArchive(t *testing.T) {
	dir := t.TempDir()
	names := features.Names()
	t0 := time.Date(2026, 11, 27, 5, 30, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(3, 4))
	// Files of one partition per hour, as the archiver writes them.
	byHour := map[string][]features.Row{}
	for i := range 3600 { // one window per second for an hour from 05:30
		for v := range 8 {
			s := t0.Add(time.Duration(i) * time.Second).UnixNano()
			x := make([]float64, len(names))
			for j := range x {
				x[j] = math.Round(float64(1+j%7) * 10 * math.Exp(0.4*rng.NormFloat64()))
			}
			byHour[archive.HourDir(s)] = append(byHour[archive.HourDir(s)], features.Row{VMID: fmt.Sprintf("vm-%d", v), Start: s, End: s + int64(time.Second), Values: x})
		}
	}
	offset := int64(0)
	for rel, rows := range byHour {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, rel), 0o755))
		f, err := os.Create(filepath.Join(dir, rel, archive.FileName(features.Topic, 0, offset, offset+int64(len(rows))-1)))
		require.NoError(t, err)
		offset += int64(len(rows))
		w, err := datasets.NewFeatureWriter(struct{ io.Writer }{f}, names)
		require.NoError(t, err)
		require.NoError(t, w.Write(rows))
		require.NoError(t, w.Close())
		require.NoError(t, f.Close())
	}

	// The store: vm-1's incident is a true positive, vm-2's untriaged,
	// vm-3's a false positive (kept).
	ctx := context.Background()
	storePath := filepath.Join(t.TempDir(), "anomalies.db")
	st, err := api.OpenSQLite(storePath, nil, nil)
	require.NoError(t, err)
	for v, verdict := range map[int]string{1: anomaly.VerdictTruePositive, 2: "", 3: anomaly.VerdictFalsePositive} {
		first := t0.Add(40 * time.Minute)
		rec := anomaly.Record{ID: fmt.Sprintf("inc-%d", v), Revision: 1, Severity: "high", Status: anomaly.StatusNew,
			UpdatedAt: first, FirstSeen: first, LastSeen: first.Add(9 * time.Second), VM: anomaly.VM{ID: fmt.Sprintf("vm-%d", v)}, Host: "h1",
			Detector: anomaly.Detector{ID: "ens", Name: "ensemble", Version: "v1", Type: "ensemble"}, Attack: []anomaly.Attack{anomaly.EscapeToHost}}
		_, err := st.Ingest(ctx, rec)
		require.NoError(t, err)
		if verdict != "" {
			a, err := st.Get(ctx, rec.ID)
			require.NoError(t, err)
			_, err = st.Patch(ctx, rec.ID, api.Patch{Verdict: &verdict}, a.ETag)
			require.NoError(t, err)
		}
	}
	require.NoError(t, st.Close())

	out := filepath.Join(t.TempDir(), "model")
	var stdout, stderr bytes.Buffer
	err = cmdTrain(ctx, []string{"--data", dir, "--out", out, "--store", storePath, "--trees", "20",
		"--since", "2026-11-27T05:40:00Z", "--until", "2026-11-27T06:25:00Z", "--max-fit-rows", "5000", "--max-holdout-rows", "4000"}, &stdout, &stderr)
	require.NoError(t, err, stderr.String())
	require.Contains(t, stdout.String(), "wrote model")
	require.Contains(t, stderr.String(), "1 true positive and 1 without a verdict left out, 1 false positive kept")

	a, err := models.Load(out, "", names)
	require.NoError(t, err)
	require.NotNil(t, a.Drift)
	var card training.Card
	b, err := os.ReadFile(filepath.Join(out, training.CardJSON))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &card))
	require.Equal(t, int64(45*60*8), card.Rows.Read, "45 minutes of 8 VMs in range")
	// last_seen is the end of the last anomalous window: 3 windows of lead,
	// 9 of the incident and 3 of slack on each of vm-1 and vm-2.
	require.Equal(t, map[string]int64{training.ReasonTruePositive: 15, training.ReasonIncident: 15}, card.Rows.Excluded)
	require.Equal(t, card.Rows.Read-30, card.Rows.Kept)
	require.Equal(t, 5000, card.Rows.Fitted)
	require.LessOrEqual(t, card.Rows.HeldOut, 4000)
	require.Equal(t, time.Date(2026, 11, 27, 5, 40, 0, 0, time.UTC), card.Data.From)
	require.NotNil(t, card.Drift, "compared with the built-in model's reference")
	require.Equal(t, defaultModelVersion(t), card.Drift.PreviousVersion)
	require.FileExists(t, filepath.Join(out, training.CardMarkdown))

	// Against the model just trained: the same fleet, so no drift.
	out2 := filepath.Join(t.TempDir(), "model2")
	stderr.Reset()
	require.NoError(t, cmdTrain(ctx, []string{"--data", dir, "--out", out2, "--trees", "20", "--previous", out,
		"--max-fit-rows", "5000", "--max-holdout-rows", "4000"}, &stdout, &stderr), stderr.String())
	b, err = os.ReadFile(filepath.Join(out2, training.CardJSON))
	require.NoError(t, err)
	card = training.Card{}
	require.NoError(t, json.Unmarshal(b, &card))
	require.NotNil(t, card.Drift)
	require.Less(t, card.Drift.Max, 0.1, "same fleet, same distribution")

	err = cmdTrain(ctx, []string{"--data", dir, "--out", out2, "--since", "2026-11-28T00:00:00Z"}, &stdout, &stderr)
	require.ErrorContains(t, err, "no files with window starts")
}

func defaultModelVersion(t *testing.T) string {
	t.Helper()
	a, err := loadPrevious("")
	require.NoError(t, err)
	require.NotNil(t, a.Drift, "the built-in model carries its drift reference")
	return a.Manifest.ModelVersion
}

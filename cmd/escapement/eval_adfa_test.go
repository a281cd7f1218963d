package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func writeTrace(t *testing.T, path, body string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(body), 0o644))
}

func TestEvalADFA(t *testing.T) {
	dir := t.TempDir()
	for i, body := range []string{"1 2 3 4 1 2 3 4 ", "1 2 3 4 1 2 ", "2 3 4 1 2 3 "} {
		writeTrace(t, filepath.Join(dir, "Training_Data_Master", "UTD-000"+string(rune('1'+i))+".txt"), body)
	}
	writeTrace(t, filepath.Join(dir, "Validation_Data_Master", "UVD-0001.txt"), "1 2 3 4 1 2 3 ")
	writeTrace(t, filepath.Join(dir, "Validation_Data_Master", "UVD-0002.txt"), "3 4 1 2 ")
	writeTrace(t, filepath.Join(dir, "Attack_Data_Master", "Adduser_1", "UAD-Adduser-1-1.txt"), "4 3 2 1 9 9 ")
	var out bytes.Buffer
	require.NoError(t, cmdEval(context.Background(), []string{"adfa-ld", dir, "--json"}, &out, os.Stderr))
	var got map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &got))
	require.Equal(t, 1.0, got["roc_auc"])
	require.Equal(t, 1.0, got["detection_rate_at_1pct_fpr"])
	require.Equal(t, map[string]any{"normal": 2.0, "attack": 1.0}, got["traces"])
	require.Len(t, got, 4, "the JSON has exactly roc_auc, pr_auc, detection_rate_at_1pct_fpr and traces")

	err := cmdEval(context.Background(), []string{"adfa-ld", "--json", t.TempDir()}, &out, os.Stderr)
	require.ErrorContains(t, err, "Training_Data_Master")
}

func TestThresholdAtFPR(t *testing.T) {
	normal := make([]float64, 200)
	for i := range normal {
		normal[i] = float64(i)
	}
	thr := thresholdAtFPR(normal, 0.01)
	require.Equal(t, 197.0, thr, "two normals (198, 199) above the threshold")
	require.Equal(t, 0.01, exceeding(normal, thr))
}

func TestMeanRank(t *testing.T) {
	for _, tc := range []struct {
		name string
		sets [][]float64
		want []float64
	}{
		{"one set", [][]float64{{0.3, 0.1, 0.2}}, []float64{1, 1.0 / 3, 2.0 / 3}},
		{"ties share their mean rank", [][]float64{{5, 5, 1, 9}}, []float64{2.5 / 4, 2.5 / 4, 1.0 / 4, 1}},
		{"scales do not matter", [][]float64{{1, 2, 3}, {300, 100, 200}}, []float64{2.0 / 3, 1.5 / 3, 2.5 / 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.InDeltaSlice(t, tc.want, meanRank(tc.sets), 1e-12)
		})
	}
}

func TestEvalADFADetectors(t *testing.T) {
	dir := t.TempDir()
	writeTrace(t, filepath.Join(dir, "Training_Data_Master", "UTD-0001.txt"), "1 2 3 4 1 2 3 4 ")
	writeTrace(t, filepath.Join(dir, "Validation_Data_Master", "UVD-0001.txt"), "1 2 3 4 ")
	writeTrace(t, filepath.Join(dir, "Attack_Data_Master", "Adduser_1", "UAD-Adduser-1-1.txt"), "4 3 9 ")
	for _, d := range []string{"rnn-lm", "ngram-lm", "stide", "rnn+ngram"} {
		var out bytes.Buffer
		require.NoError(t, cmdEval(context.Background(), []string{"adfa-ld", "--detector", d, "--epochs", "2", dir}, &out, io.Discard), d)
		require.Contains(t, out.String(), "detector "+d)
		require.Contains(t, out.String(), "at 0.1% FPR")
	}
	err := cmdEval(context.Background(), []string{"adfa-ld", dir, "--detector", "lstm"}, io.Discard, io.Discard)
	require.ErrorContains(t, err, "rnn+ngram")
}

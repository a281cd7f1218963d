package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRunMainJob runs `escapement run` in-process for 40 s of simulated
// fleet: embedded broker, simulator, featurizer, scorer with the built-in
// model, API. Every flood scenario must be detected within 3 windows and at
// most one false alert raised; stealthy scenarios are reported, not
// required.
func TestRunMainJob(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the main job for 40 s; skipped with -short")
	}
	dir := t.TempDir()
	summary := filepath.Join(dir, "s.json")
	var out, errb bytes.Buffer
	code := realMain([]string{"run", "--duration", "40s", "--vms", "10", "--seed", "7", "--scenarios", "8", "--placebos", "2",
		"--data-dir", dir, "--listen", "127.0.0.1:0", "--summary-json", summary, "--progress", "10s"}, &out, &errb)
	t.Log(out.String())
	require.Equal(t, 0, code, "stderr: %s", errb.String())
	b, err := os.ReadFile(summary)
	require.NoError(t, err)
	var s runSummary
	require.NoError(t, json.Unmarshal(b, &s))
	require.Positive(t, s.Events)
	require.Positive(t, s.Windows)
	require.NotEmpty(t, s.Scenarios)
	for _, sc := range s.Scenarios {
		if sc.Intensity == "flood" {
			require.True(t, sc.Detected, "flood %s on %s missed", sc.Name, sc.VM)
			require.LessOrEqual(t, *sc.DelaySeconds, 3.0)
		}
	}
	require.LessOrEqual(t, s.FalseAlerts, 1)
}

func TestUnknownCommandAndHelp(t *testing.T) {
	var out, errb bytes.Buffer
	require.Equal(t, 2, realMain([]string{"bogus"}, &out, &errb))
	require.Contains(t, errb.String(), "unknown command")
	out.Reset()
	require.Equal(t, 0, realMain([]string{"--help"}, &out, &errb))
	for _, c := range commands() {
		require.Contains(t, out.String(), c.name)
	}
}

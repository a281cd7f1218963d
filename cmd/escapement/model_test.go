package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/datasets"
	"github.com/escapement/escapement/features"
	"github.com/escapement/escapement/models"
	"github.com/escapement/escapement/models/defaultmodel"
	"github.com/escapement/escapement/models/registry"
	"github.com/escapement/escapement/training"
)

// TestModelCommands drives promote (gate pass, gate refusal, --force after
// the positional argument), list and rollback against one registry. The
// refused challenger learned the suite's attacks as normal: it was trained
// on every window of the suite, labels ignored.
func TestModelCommands(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("ESCAPEMENT_REGISTRY", filepath.Join(dir, "registry"))
	suite := filepath.Join("..", "..", "datasets", "suite")

	good, err := defaultmodel.Load(models.SchemaHash(features.Names()), features.Names())
	require.NoError(t, err)
	require.NoError(t, good.Save(filepath.Join(dir, "good")))
	var rows []features.Row
	require.NoError(t, datasets.ReadFeatures(filepath.Join(suite, "sim", datasets.FeaturesFile), func(_ []string, rs []features.Row) error {
		for _, r := range rs {
			r.NGrams = nil
			r.Values = append([]float64(nil), r.Values...)
			rows = append(rows, r)
		}
		return nil
	}))
	bad, err := training.Fit(rows, features.Names(), training.TrainConfig{Seed: 1, Trees: 50})
	require.NoError(t, err)
	require.NoError(t, bad.Save(filepath.Join(dir, "bad")))
	gv, bv := good.Manifest.ModelVersion, bad.Manifest.ModelVersion

	run := func(args ...string) (string, error) {
		var out, errb bytes.Buffer
		err := cmdModel(context.Background(), args, &out, &errb)
		return out.String(), err
	}
	steps := []struct {
		args    []string
		wantErr string
		wantOut string
	}{
		{[]string{"rollback"}, "no previous champion", ""},
		{[]string{"promote", filepath.Join(dir, "good")}, "", "champion is now " + gv}, // the built-in suite
		{[]string{"promote", filepath.Join(dir, "bad"), "--dry-run", "--suite", suite}, "would be refused: recall dropped", "REFUSED"},
		{[]string{"promote", filepath.Join(dir, "bad"), "--suite", suite, "--actor", "ml-eng"}, "refused: recall dropped", "REFUSED"},
		{[]string{"promote", "0123456789abcdef", "--suite", suite}, "unknown model version", ""},
		{[]string{"promote", bv, "--force", "--suite", suite, "--reason", "test"}, "", "champion is now " + bv},
		{[]string{"rollback"}, "", "champion is now " + gv},
	}
	for _, s := range steps {
		out, err := run(s.args...)
		if s.wantErr != "" {
			require.ErrorContains(t, err, s.wantErr, strings.Join(s.args, " "))
		} else {
			require.NoError(t, err, strings.Join(s.args, " "))
		}
		require.Contains(t, out, s.wantOut, strings.Join(s.args, " "))
	}

	out, err := run("list", "--json")
	require.NoError(t, err)
	var vs []registry.Version
	require.NoError(t, json.Unmarshal([]byte(out), &vs))
	status := map[string]string{}
	for _, v := range vs {
		status[v.Version] = v.Status
	}
	require.Equal(t, map[string]string{gv: registry.StatusChampion, bv: registry.StatusChallenger}, status)

	reg, err := registry.Open(filepath.Join(dir, "registry"), nil)
	require.NoError(t, err)
	h, err := reg.History()
	require.NoError(t, err)
	var actions []string
	for _, e := range h {
		actions = append(actions, e.Action)
	}
	require.Equal(t, []string{"promote", "refuse", "promote", "rollback"}, actions)
	require.Equal(t, "ml-eng", h[1].Actor)
	require.True(t, h[2].Forced)
	require.Contains(t, h[2].Reason, "test; gate: ")
	require.Contains(t, h[2].Reason, "forced past the gate")

	out, err = run("list")
	require.NoError(t, err)
	require.Contains(t, out, gv+"  champion")
}

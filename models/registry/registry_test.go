package registry_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/features"
	"github.com/escapement/escapement/models"
	"github.com/escapement/escapement/models/registry"
	"github.com/escapement/escapement/training"
)

var names = []string{"exit_io_rate", "exit_msr_rate", "syscall_rate"}

// artifactDir trains a small model with seed and saves it under t.TempDir.
func artifactDir(t *testing.T, seed uint64) (string, string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 9))
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	var rows []features.Row
	for v := range 4 {
		for i := range 300 {
			s := t0 + int64(i)*int64(time.Second)
			rows = append(rows, features.Row{VMID: string(rune('a' + v)), Start: s, End: s + int64(time.Second),
				Values: []float64{math.Round(200 * math.Exp(0.4*rng.NormFloat64())), math.Round(20 * rng.ExpFloat64()), 300 * rng.Float64()}})
		}
	}
	a, err := training.Fit(rows, names, training.TrainConfig{Seed: seed, Trees: 10, Subsample: 64})
	require.NoError(t, err)
	dir := filepath.Join(t.TempDir(), "model")
	require.NoError(t, a.Save(dir))
	return dir, a.Manifest.ModelVersion
}

func TestPromoteRollbackHistory(t *testing.T) {
	reg, err := registry.Open(t.TempDir(), nil)
	require.NoError(t, err)
	_, err = reg.Champion()
	require.ErrorIs(t, err, registry.ErrNoChampion)

	var vs []string
	for seed := range uint64(3) {
		dir, v := artifactDir(t, seed+1)
		m, err := reg.Add(dir, models.SchemaHash(names), names)
		require.NoError(t, err)
		require.Equal(t, v, m.ModelVersion)
		_, err = reg.Add(dir, "", nil) // idempotent
		require.NoError(t, err)
		require.FileExists(t, filepath.Join(reg.Path(v), models.DriftFile), "optional files are copied too")
		vs = append(vs, v)
	}
	a, b, c := vs[0], vs[1], vs[2]

	steps := []struct {
		name           string
		expect         string
		entry          registry.Entry
		champion, prev string
		wantErr        error
		refuse         bool
	}{
		{name: "first champion", expect: "", entry: registry.Entry{Action: registry.ActionPromote, Version: a}, champion: a},
		{name: "promote b", expect: a, entry: registry.Entry{Action: registry.ActionPromote, Version: b, Metrics: map[string]float64{"recall": 0.9}}, champion: b, prev: a},
		{name: "c refused", refuse: true, entry: registry.Entry{Action: registry.ActionRefuse, Version: c, Reason: "recall 0.5 < champion 0.9"}, champion: b, prev: a},
		{name: "stale expectation", expect: a, entry: registry.Entry{Action: registry.ActionPromote, Version: c}, champion: b, prev: a, wantErr: registry.ErrChampionChanged},
		{name: "unknown version", expect: b, entry: registry.Entry{Action: registry.ActionPromote, Version: "0123456789abcdef"}, champion: b, prev: a, wantErr: registry.ErrUnknownVersion},
		{name: "forced c", expect: b, entry: registry.Entry{Action: registry.ActionPromote, Version: c, Forced: true, Reason: "--force"}, champion: c, prev: b},
		{name: "rollback pops to b", expect: c, entry: registry.Entry{Action: registry.ActionRollback, Version: b}, champion: b, prev: a},
		{name: "rollback pops to a", expect: b, entry: registry.Entry{Action: registry.ActionRollback, Version: a}, champion: a, prev: ""},
		{name: "rollback --to c pushes", expect: a, entry: registry.Entry{Action: registry.ActionRollback, Version: c}, champion: c, prev: a},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			s.entry.Actor = "tester"
			if s.refuse {
				require.NoError(t, reg.Record(s.entry))
			} else {
				err := reg.SetChampion(s.expect, s.entry)
				if s.wantErr != nil {
					require.ErrorIs(t, err, s.wantErr)
				} else {
					require.NoError(t, err)
				}
			}
			got, err := reg.Champion()
			require.NoError(t, err)
			require.Equal(t, s.champion, got)
			prev, err := reg.Previous()
			require.NoError(t, err)
			require.Equal(t, s.prev, prev)
		})
	}

	h, err := reg.History()
	require.NoError(t, err)
	var actions []string
	for _, e := range h {
		actions = append(actions, e.Action+" "+e.Version)
		require.Equal(t, "tester", e.Actor)
		_, err := time.Parse(time.RFC3339, e.Time)
		require.NoError(t, err)
	}
	require.Equal(t, []string{"promote " + a, "promote " + b, "refuse " + c, "promote " + c, "rollback " + b, "rollback " + a, "rollback " + c}, actions)
	require.True(t, h[3].Forced)
	require.Equal(t, b, h[3].From)

	list, err := reg.List()
	require.NoError(t, err)
	require.Len(t, list, 3)
	status := map[string]string{}
	for _, v := range list {
		status[v.Version] = v.Status
	}
	require.Equal(t, map[string]string{a: registry.StatusPrevious, b: registry.StatusChallenger, c: registry.StatusChampion}, status)
	for _, v := range list {
		if v.Version == b {
			require.Equal(t, 0.9, v.Metrics["recall"])
		}
	}
}

func TestPointerCrashSafety(t *testing.T) {
	dir := t.TempDir()
	reg, err := registry.Open(dir, nil)
	require.NoError(t, err)
	da, a := artifactDir(t, 1)
	db, b := artifactDir(t, 2)
	for _, d := range []string{da, db} {
		_, err := reg.Add(d, "", nil)
		require.NoError(t, err)
	}
	require.NoError(t, reg.SetChampion("", registry.Entry{Action: registry.ActionPromote, Version: a}))

	// A crash while writing the new pointer leaves a temporary file behind:
	// the champion is still the old one.
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".CHAMPION.tmp"), []byte(b[:7]), 0o644))
	got, err := reg.Champion()
	require.NoError(t, err)
	require.Equal(t, a, got)

	// A crash after the rename, before the history line: the pointer is the
	// truth, and the next switch records the recovery first.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "CHAMPION"), []byte(b+"\n"), 0o644))
	got, err = reg.Champion()
	require.NoError(t, err)
	require.Equal(t, b, got)
	prev, err := reg.Previous()
	require.NoError(t, err)
	require.Equal(t, a, prev)
	require.NoError(t, reg.SetChampion(b, registry.Entry{Action: registry.ActionRollback, Version: a}))
	h, err := reg.History()
	require.NoError(t, err)
	require.Len(t, h, 3)
	require.Equal(t, registry.ActionRecover, h[1].Action)
	require.Equal(t, b, h[1].Version)

	// A torn history append (crash mid-write) is skipped and the next
	// append starts on its own line.
	f, err := os.OpenFile(filepath.Join(dir, "history.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"time":"2026-`)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	h, err = reg.History()
	require.NoError(t, err)
	require.Len(t, h, 3)
	require.NoError(t, reg.Record(registry.Entry{Action: registry.ActionRefuse, Version: b, Reason: "test"}))
	h, err = reg.History()
	require.Error(t, err, "the torn line is now in the middle: corrupt, and said so")
	require.Nil(t, h)
}

func TestChampionErrors(t *testing.T) {
	dir := t.TempDir()
	reg, err := registry.Open(dir, nil)
	require.NoError(t, err)
	da, a := artifactDir(t, 1)
	_, err = reg.Add(da, "", nil)
	require.NoError(t, err)

	tests := []struct {
		name    string
		pointer string
		want    string
	}{
		{"garbage", "not a version\n", "not a model version"},
		{"missing version", "0123456789abcdef\n", "not stored"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "CHAMPION"), []byte(tt.pointer), 0o644))
			_, err := reg.Champion()
			require.ErrorContains(t, err, tt.want)
		})
	}
	// A hand-broken pointer is repaired by a rollback --to that names a
	// stored version.
	require.NoError(t, os.Remove(filepath.Join(dir, "CHAMPION")))
	require.NoError(t, reg.SetChampion("", registry.Entry{Action: registry.ActionRollback, Version: a}))

	// Corrupt artifacts and schema mismatches are refused when adding.
	_, err = reg.Add(da, models.SchemaHash([]string{"other"}), nil)
	require.ErrorIs(t, err, models.ErrSchemaMismatch)
	db, _ := artifactDir(t, 2)
	require.NoError(t, os.WriteFile(filepath.Join(db, "00-iforest.bin"), []byte("IFOR broken"), 0o644))
	_, err = reg.Add(db, "", nil)
	require.ErrorContains(t, err, "corrupt")
	_, err = reg.Load("0123456789abcdef", "", nil)
	require.True(t, errors.Is(err, registry.ErrUnknownVersion))
	require.ErrorContains(t, err, a, "the error lists what is stored")
}

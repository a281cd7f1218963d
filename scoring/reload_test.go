package scoring

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/anomaly"
	"github.com/escapement/escapement/features"
	"github.com/escapement/escapement/models"
	"github.com/escapement/escapement/models/registry"
	"github.com/escapement/escapement/training"
)

// challenger trains a second model on the fixture's kind of data.
func challenger(t *testing.T, seed uint64) *models.Artifact {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	var rows []features.Row
	for v := range 6 {
		for i := range 600 {
			x := make([]float64, len(base))
			for j, b := range base {
				x[j] = math.Round(b * math.Exp(0.4*rng.NormFloat64()))
			}
			s := t0 + int64(i)*sec
			rows = append(rows, features.Row{VMID: "c-" + string(rune('a'+v)), Start: s, End: s + sec, Values: x})
		}
	}
	a, err := training.Fit(rows, names, training.TrainConfig{Seed: seed, Trees: 50})
	require.NoError(t, err)
	return a
}

// TestSwapModelBetweenWindows feeds two VMs across a model switch, with
// at-least-once redeliveries after it: every window is scored exactly once,
// by the model in force; the incident open at the switch is resolved by the
// old model and the attack goes on under a new incident of the new version.
func TestSwapModelBetweenWindows(t *testing.T) {
	reg := prometheus.NewRegistry()
	sc := NewScorer(fixture, Config{}, nil, reg)
	next := challenger(t, 11)
	oldV, newV := fixture.Manifest.ModelVersion, next.Manifest.ModelVersion
	require.NotEqual(t, oldV, newV)
	crit := multFor(t, sc, "critical")

	//               window 0123456789ab
	pattern := map[string]string{
		"vm-attack": "..CCCCCC....",
		"vm-quiet":  "............",
	}
	const switchAt = 6 // windows 0..5 under the old model, 6..11 under the new one
	var recs []anomaly.Record
	feed := func(from, to int) {
		for i := from; i < to; i++ {
			for _, vm := range []string{"vm-attack", "vm-quiet"} {
				mult := 1.0
				if pattern[vm][i] == 'C' {
					mult = crit
				}
				out, err := sc.Score(row(vm, i, 1, mult))
				require.NoError(t, err)
				recs = append(recs, out...)
			}
		}
	}
	feed(0, switchAt)
	require.True(t, sc.Open("vm-attack"))
	recs = sc.SwapModel(next, recs)
	require.False(t, sc.Open("vm-attack"), "the switch resolves open incidents")
	require.Equal(t, newV, sc.Version())
	feed(3, switchAt) // at-least-once redelivery of windows the old model scored
	feed(switchAt, len(pattern["vm-attack"]))
	recs = sc.Expire(time.Unix(0, math.MaxInt64), recs)

	byVersion := func(v string) float64 {
		return testutil.ToFloat64(sc.m.byModel.WithLabelValues(v))
	}
	require.Equal(t, float64(2*switchAt), byVersion(oldV), "windows scored by the old model")
	require.Equal(t, float64(2*(len(pattern["vm-attack"])-switchAt)), byVersion(newV), "windows scored by the new model")
	require.Equal(t, 6.0, testutil.ToFloat64(sc.m.stale), "redelivered windows are not scored again")
	require.Equal(t, 1.0, testutil.ToFloat64(sc.m.info.WithLabelValues(newV)))
	n, err := testutil.GatherAndCount(reg, "escapement_model_info")
	require.NoError(t, err)
	require.Equal(t, 1, n, "only the model in force has an info series")

	type rec struct {
		id, status, version string
		revision, windows   int
		first, last         int
	}
	idx := func(ts time.Time) int { return int((ts.UnixNano() - t0) / sec) }
	var got []rec
	for _, r := range recs {
		require.Equal(t, "vm-attack", r.VM.ID)
		got = append(got, rec{r.ID, r.Status, r.Detector.Version, r.Revision, r.Anomaly.Windows, idx(r.FirstSeen), idx(r.LastSeen)})
	}
	oldID, newID := IncidentID("vm-attack", t0+2*sec, oldV), IncidentID("vm-attack", t0+switchAt*sec, newV)
	require.Equal(t, []rec{
		{oldID, anomaly.StatusNew, oldV, 1, 1, 2, 3},
		{oldID, anomaly.StatusResolved, oldV, 2, 4, 2, 6},
		{newID, anomaly.StatusNew, newV, 1, 1, 6, 7},
		{newID, anomaly.StatusResolved, newV, 2, 2, 6, 8},
	}, got)
}

// TestWatcherReloads drives a Stage-less target through a registry: a
// promotion is picked up on the next poll, a champion of another feature
// schema is refused and the old model kept.
func TestWatcherReloads(t *testing.T) {
	dir := t.TempDir()
	reg, err := registry.Open(filepath.Join(dir, "registry"), nil)
	require.NoError(t, err)
	add := func(a *models.Artifact) string {
		src := filepath.Join(dir, a.Manifest.ModelVersion)
		require.NoError(t, a.Save(src))
		m, err := reg.Add(src, "", nil)
		require.NoError(t, err)
		return m.ModelVersion
	}
	v1, v2 := add(fixture), add(challenger(t, 12))
	other := challenger(t, 13)
	other.Manifest.FeatureSchemaHash = "another-catalog"
	v3 := add(other)
	require.NoError(t, reg.SetChampion("", registry.Entry{Action: registry.ActionPromote, Version: v1}))

	sc := NewScorer(fixture, Config{}, nil, nil)
	target := &scorerTarget{sc: sc}
	preg := prometheus.NewRegistry()
	w := NewWatcher(WatchConfig{Registry: reg, SchemaHash: models.SchemaHash(names), Names: names}, target, nil, preg)
	ctx := context.Background()

	steps := []struct {
		name     string
		champion string
		switched bool
		want     string
	}{
		{"unchanged", v1, false, v1},
		{"promoted", v2, true, v2},
		{"other schema refused", v3, false, v2},
		{"still refused", v3, false, v2},
		{"rolled back", v1, true, v1},
	}
	prev := v1
	for _, s := range steps {
		if s.champion != prev {
			require.NoError(t, reg.SetChampion(prev, registry.Entry{Action: registry.ActionPromote, Version: s.champion, Forced: true}))
			prev = s.champion
		}
		switched, err := w.Poll(ctx)
		require.NoError(t, err, s.name)
		require.Equal(t, s.switched, switched, s.name)
		require.Equal(t, s.want, sc.Version(), s.name)
	}
	require.Equal(t, 2.0, testutil.ToFloat64(w.reloads.WithLabelValues(reloadSwitched)))
	require.Equal(t, 1.0, testutil.ToFloat64(w.reloads.WithLabelValues(reloadFailed)), "a refused champion is counted once")
}

// scorerTarget swaps a bare Scorer (the Stage does the same under its lock).
type scorerTarget struct{ sc *Scorer }

func (s *scorerTarget) SwapModel(_ context.Context, a *models.Artifact) error {
	s.sc.SwapModel(a, nil)
	return nil
}

func (s *scorerTarget) Version() string { return s.sc.Version() }

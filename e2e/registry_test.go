package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/anomaly"
	"github.com/escapement/escapement/collectors/sim"
	"github.com/escapement/escapement/datasets"
	"github.com/escapement/escapement/datasets/archive"
	"github.com/escapement/escapement/features"
	"github.com/escapement/escapement/models"
	"github.com/escapement/escapement/models/registry"
	"github.com/escapement/escapement/scoring"
	"github.com/escapement/escapement/training"
	"github.com/escapement/escapement/training/gate"
	"github.com/escapement/escapement/transport"
)

// TestRetrainPromoteHotReload is the retraining loop end to end on the
// embedded broker: a live stream of feature rows is scored by the registry's
// champion and archived; the archiver is killed with a file open and
// restarted; a model is retrained from the archive, measured by the gate and
// promoted; the running scorer picks the new champion up between batches
// while the stream goes on. Every window is scored exactly once (no window
// lost, none scored twice), those before the switch by the old version and
// the rest by the new one, and every anomaly names the version in force.
func TestRetrainPromoteHotReload(t *testing.T) {
	cfg := startBroker(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	dir := t.TempDir()
	names, hash := features.Names(), models.SchemaHash(features.Names())

	// The stream: a simulated fleet's feature rows (benign, with a few
	// attacks), produced in messages of up to 10 windows of one VM. Event
	// time is close to now so the stage's idle expiry (wall clock) keeps
	// every VM's state.
	simDir := filepath.Join(dir, "sim")
	_, err := datasets.GenerateSim(ctx, simDir, sim.Config{Seed: 727272, VMs: 8, Duration: 6 * time.Minute,
		Start: time.Now().Add(-2 * time.Minute).Truncate(time.Second), Scenarios: 4, Placebos: 1}, datasets.GenerateOptions{}, nil)
	require.NoError(t, err)
	var msgs []transport.Message
	byVM := map[string][]features.Row{}
	total := 0
	flush := func(vm string) {
		if rows := byVM[vm]; len(rows) > 0 {
			v, err := features.EncodeRows(rows)
			require.NoError(t, err)
			msgs = append(msgs, transport.Message{Topic: features.Topic, Key: []byte(vm), Value: v})
			byVM[vm] = nil
		}
	}
	require.NoError(t, datasets.ReadFeatures(filepath.Join(simDir, datasets.FeaturesFile), func(_ []string, rows []features.Row) error {
		for _, r := range rows {
			r.NGrams = nil
			r.Values = append([]float64(nil), r.Values...)
			byVM[r.VMID] = append(byVM[r.VMID], r)
			total++
			if len(byVM[r.VMID]) == 10 {
				flush(r.VMID)
			}
		}
		return nil
	}))
	for vm := range byVM {
		flush(vm)
	}
	prod, err := transport.NewProducer(cfg, testLog(), nil)
	require.NoError(t, err)
	defer prod.Close()
	half := len(msgs) / 2

	// The registry starts with the built-in model as champion.
	reg, err := registry.Open(filepath.Join(dir, "registry"), testLog())
	require.NoError(t, err)
	initial := itModel(t)
	require.NoError(t, initial.Save(filepath.Join(dir, "initial")))
	_, err = reg.Add(filepath.Join(dir, "initial"), hash, names)
	require.NoError(t, err)
	v0 := initial.Manifest.ModelVersion
	require.NoError(t, reg.SetChampion("", registry.Entry{Actor: "e2e", Action: registry.ActionPromote, Version: v0}))

	// The scorer: the registry's champion, a watcher polling every second.
	champ, err := reg.Champion()
	require.NoError(t, err)
	model, err := reg.Load(champ, hash, names)
	require.NoError(t, err)
	metrics := prometheus.NewRegistry()
	scorer := scoring.NewScorer(model, itScoring(), testLog(), metrics)
	stage := scoring.NewStage(scoring.StageConfig{Scorer: scorer, Producer: prod,
		DeadLetter: func(ctx context.Context, m *transport.Message, err error) error {
			return transport.DeadLetter(ctx, prod, "score", m, err)
		}}, testLog(), metrics)
	watcher := scoring.NewWatcher(scoring.WatchConfig{Registry: reg, Interval: time.Second, SchemaHash: hash, Names: names},
		stage, testLog(), metrics)
	go func() { _ = stage.Run(ctx) }()
	go func() { _ = watcher.Run(ctx) }()
	runStage(ctx, t, cfg, "score-registry", features.Topic, stage)
	anomalies := consume(ctx, t, cfg, "registry-anomalies", anomaly.Topic)

	// The archiver: member A dies with a file open after 40 messages.
	archDir := filepath.Join(dir, "archive")
	newArchiver := func(rollRows int, interval time.Duration) *archive.Archiver {
		a, err := archive.New(archive.Config{Dir: archDir, RollRows: rollRows, RollInterval: interval,
			DeadLetter: func(ctx context.Context, m *transport.Message, err error) error {
				return transport.DeadLetter(ctx, prod, "archive", m, err)
			}}, testLog(), nil)
		require.NoError(t, err)
		return a
	}
	tmpFiles := func() (n int) {
		_ = filepath.WalkDir(archDir, func(p string, e os.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(p, ".tmp") {
				n++
			}
			return nil
		})
		return n
	}
	actx, crash := context.WithCancel(ctx)
	a := &crashingArchiver{Archiver: newArchiver(200, time.Hour), after: 40, tmpFile: tmpFiles}
	go func() { _ = a.Run(actx) }()
	runStage(actx, t, cfg, "archive-registry", features.Topic, a)

	// First half of the stream.
	require.NoError(t, prod.Produce(ctx, msgs[:half]...))
	firstRows := 0
	for _, m := range msgs[:half] {
		rs, err := features.DecodeRows(m.Value, nil)
		require.NoError(t, err)
		firstRows += len(rs)
	}
	waitFor(t, 60*time.Second, "archiver A to die with a file open", a.dead.Load)
	crash()
	time.Sleep(500 * time.Millisecond)
	require.Positive(t, tmpFiles(), "archiver A must leave an unfinished file")

	b := newArchiver(50, 300*time.Millisecond)
	bctx, stopB := context.WithCancel(ctx)
	defer stopB()
	go func() { _ = b.Run(bctx) }()
	runStage(bctx, t, cfg, "archive-registry", features.Topic, b)
	waitFor(t, 60*time.Second, "the first half archived", func() bool { return len(count(t, archDir)) == firstRows })
	for k, n := range count(t, archDir) {
		require.Equal(t, 1, n, "archived row %v", k)
	}
	waitFor(t, 60*time.Second, "the first half scored", func() bool { return modelWindows(t, metrics, v0) == float64(firstRows) })

	// Retrain from the archive, streaming, as `escapement train --data
	// ARCHIVE` does; measure against the champion; promote.
	next, rep, err := training.StreamFit(func(fn func([]string, []features.Row) error) error {
		return archive.Read(archDir, time.Time{}, time.Time{}, fn)
	}, names, training.StreamConfig{Train: training.TrainConfig{Seed: 7, Trees: 50}})
	require.NoError(t, err)
	require.Equal(t, int64(firstRows), rep.Read, "the retrain reads every archived window once")
	require.NoError(t, next.Save(filepath.Join(dir, "retrained")))
	m, err := reg.Add(filepath.Join(dir, "retrained"), hash, names)
	require.NoError(t, err)
	v1 := m.ModelVersion
	require.NotEqual(t, v0, v1)
	suite, err := gate.LoadSuite("../datasets/suite", names)
	require.NoError(t, err)
	// The archive is the recent benign data (in place of the suite's benign VMs).
	benign, err := gate.LoadBenign(archDir, names, time.Time{}, time.Time{})
	require.NoError(t, err)
	for i := range suite {
		suite[i].AlertRate = false
	}
	res, err := gate.Gate(initial, next, append(suite, benign), gate.GateConfig{})
	require.NoError(t, err)
	t.Logf("gate: pass %v: %s", res.Pass, res.Reason)
	require.InDelta(t, float64(firstRows)/86400, res.Challenger.VMDays, 1e-9, "the alert rate is measured on the archive")
	// A model retrained on minutes of data may well be refused: promote it
	// anyway (recorded as forced) to exercise the switch.
	require.NoError(t, reg.SetChampion(v0, registry.Entry{Actor: "e2e", Action: registry.ActionPromote, Version: v1,
		Forced: !res.Pass, Reason: res.Reason, Metrics: res.Challenger.Metrics()}))

	// The second half streams while the watcher switches.
	var produced atomic.Bool
	go func() {
		for i := half; i < len(msgs); i += 10 {
			if err := prod.Produce(ctx, msgs[i:min(i+10, len(msgs))]...); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		produced.Store(true)
	}()
	waitFor(t, 30*time.Second, "the scorer on the new champion", func() bool { return stage.Version() == v1 })
	waitFor(t, 60*time.Second, "the whole stream produced and scored", func() bool {
		return produced.Load() && modelWindows(t, metrics, v0)+modelWindows(t, metrics, v1) >= float64(total)
	})
	time.Sleep(time.Second) // anything scored twice would show up now

	old, cur := modelWindows(t, metrics, v0), modelWindows(t, metrics, v1)
	t.Logf("%d windows: %.0f scored by %s, %.0f by %s", total, old, v0, cur, v1)
	require.Equal(t, float64(total), old+cur, "every window scored exactly once")
	require.GreaterOrEqual(t, old, float64(firstRows))
	require.Positive(t, cur, "windows after the switch are scored by the new champion")
	require.Equal(t, v1, gaugeLabel(t, metrics, "escapement_model_info"))

	// Every anomaly names a version that was in force, and its ID is the
	// one that version gives the incident.
	waitFor(t, 30*time.Second, "anomalies delivered", func() bool { return len(anomalies.snapshot()) > 0 })
	for _, msg := range anomalies.snapshot() {
		var rec anomaly.Record
		require.NoError(t, json.Unmarshal(msg.Value, &rec))
		require.Contains(t, []string{v0, v1}, rec.Detector.Version, "record %s", rec.ID)
		require.Equal(t, scoring.IncidentID(rec.VM.ID, rec.FirstSeen.UnixNano(), rec.Detector.Version), rec.ID)
	}
	h, err := reg.History()
	require.NoError(t, err)
	require.Equal(t, v1, h[len(h)-1].Version)
}

// modelWindows reads escapement_scoring_model_windows_total{version}.
func modelWindows(t *testing.T, g prometheus.Gatherer, version string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != "escapement_scoring_model_windows_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "version" && l.GetValue() == version {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// gaugeLabel returns the version label of the one series of an info gauge.
func gaugeLabel(t *testing.T, g prometheus.Gatherer, name string) string {
	t.Helper()
	mfs, err := g.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			require.Len(t, mf.GetMetric(), 1)
			return mf.GetMetric()[0].GetLabel()[0].GetValue()
		}
	}
	t.Fatalf("no %s", name)
	return ""
}

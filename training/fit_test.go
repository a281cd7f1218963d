package training

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/features"
	"github.com/escapement/escapement/models"
)

var testNames = []string{"exit_io_rate", "exit_msr_rate", "exit_hypercall_rate", "guest_fault_write_rate", "syscall_rate", "emulation_rate"}

// benignRows returns vms × n one-second windows of lognormal rates, each VM
// with its own level.
func benignRows(seed uint64, vms, n int) []features.Row {
	return lognormalRows(seed, vms, n, 0.3)
}

// lognormalRows is benignRows with the spread of the VMs' levels (the sd of
// their log) given: 0 makes every VM draw from one distribution.
func lognormalRows(seed uint64, vms, n int, spread float64) []features.Row {
	rng := rand.New(rand.NewPCG(seed, 7))
	base := []float64{200, 20, 5, 50, 300, 10}
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	var rows []features.Row
	for v := range vms {
		level := math.Exp(spread * rng.NormFloat64())
		for i := range n {
			x := make([]float64, len(base))
			for j, b := range base {
				x[j] = math.Round(b * level * math.Exp(0.4*rng.NormFloat64()))
			}
			s := t0 + int64(i)*int64(time.Second)
			rows = append(rows, features.Row{VMID: "vm-" + string(rune('a'+v)), Host: "h1", Start: s, End: s + int64(time.Second), Values: x})
		}
	}
	return rows
}

func TestFit(t *testing.T) {
	rows := benignRows(1, 6, 800)
	tests := []struct {
		name      string
		cfg       TrainConfig
		holdoutBy string
		heldVMs   int
	}{
		{"by vm", TrainConfig{Seed: 3, Trees: 50, Budget: 1}, HoldoutByVM, 2},
		{"by time", TrainConfig{Seed: 3, Trees: 50, HoldoutBy: HoldoutByTime}, HoldoutByTime, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Fit(rows, testNames, tt.cfg)
			require.NoError(t, err)
			m := a.Manifest
			require.Equal(t, tt.holdoutBy, m.Training.HoldoutBy)
			require.Equal(t, tt.heldVMs, m.Training.HoldoutVMs)
			require.Equal(t, len(rows), m.Training.Rows+m.Training.HoldoutRows)
			require.Equal(t, 1.0, m.WindowSeconds)
			require.Equal(t, "sim", m.Platform)
			require.Equal(t, models.SchemaHash(testNames), m.FeatureSchemaHash)
			require.Len(t, m.Detectors, 2)
			require.True(t, m.Calibration.Alert.CrossFitted, "two folds of held-out windows")

			// Same seed, same model; the artifact survives Save/Load.
			b, err := Fit(rows, testNames, tt.cfg)
			require.NoError(t, err)
			require.Equal(t, m.ModelVersion, b.Manifest.ModelVersion)
			dir := filepath.Join(t.TempDir(), "m")
			require.NoError(t, a.Save(dir))
			_, err = models.Load(dir, models.SchemaHash(testNames), testNames)
			require.NoError(t, err)

			// Unseen benign VMs rarely cross the threshold; a spike does.
			fresh := benignRows(99, 2, 500)
			raw, p := make([]float64, 2), make([]float64, 2)
			over := 0
			for _, r := range fresh {
				if a.Combine(a.Standardizer.Transform(r.Values, nil), raw, p) > m.Threshold {
					over++
				}
			}
			require.Less(t, over, 10, "benign windows over the threshold")
			spike := append([]float64(nil), fresh[0].Values...)
			spike[1] *= 200
			require.Greater(t, a.Combine(a.Standardizer.Transform(spike, nil), raw, p), m.Threshold)
		})
	}
	other, err := Fit(rows, testNames, TrainConfig{Seed: 4, Trees: 50})
	require.NoError(t, err)
	a, err := Fit(rows, testNames, TrainConfig{Seed: 3, Trees: 50})
	require.NoError(t, err)
	require.NotEqual(t, a.Manifest.ModelVersion, other.Manifest.ModelVersion)
}

// TestEnsembleBudgetOnFreshVMs fits on VMs with their own levels and counts
// false incidents on 100 unseen VMs. The alert threshold is cross-fitted
// (calibrateEnsemble), so fresh fleets exceed the budget in few of the seeds:
// 2 of 12 when measured. Calibrated in sample, 5 of 12 exceeded it, up to 20×.
func TestEnsembleBudgetOnFreshVMs(t *testing.T) {
	const budget, seeds = 20.0, 12
	over := 0
	for seed := uint64(1); seed <= seeds; seed++ {
		a, err := Fit(benignRows(seed, 20, 2000), testNames, TrainConfig{Seed: seed, Trees: 50, Budget: budget, HoldoutFraction: 0.5})
		require.NoError(t, err)
		fresh := benignRows(seed+1000, 100, 2000)
		raw, p := make([]float64, 2), make([]float64, 2)
		incidents, open, vm := 0, false, ""
		for _, r := range fresh {
			if r.VMID != vm {
				open, vm = false, r.VMID
			}
			alert := a.Combine(a.Standardizer.Transform(r.Values, nil), raw, p) > a.Manifest.Calibration.Alert.Threshold
			if alert && !open {
				incidents++
			}
			open = alert
		}
		rate := float64(incidents) / (float64(len(fresh)) / 86400)
		t.Logf("seed %d: threshold %.3f, %d incidents = %.1f per VM-day (budget %g)", seed, a.Manifest.Calibration.Alert.Threshold, incidents, rate, budget)
		if rate > budget {
			over++
		}
	}
	require.LessOrEqual(t, over, 3, "seeds whose fresh VMs exceed the alert budget")
}

func TestCrossFolds(t *testing.T) {
	raw := [][][]float64{{{1, 2}, {3}, {4, 5, 6}}, {{7, 8}, {9}, {10, 11, 12}}}
	f := crossFolds(raw, []int{fold0, fold1, foldHalves})
	require.Equal(t, [][][]float64{{{1, 2}, {4}}, {{7, 8}, {10}}}, f[0])
	require.Equal(t, [][][]float64{{{3}, {5, 6}}, {{9}, {11, 12}}}, f[1])

	seq := func(vm string) []features.Row { return []features.Row{{VMID: vm}} }
	held := [][]features.Row{seq("a1"), seq("a2"), seq("a3"), seq("b1"), seq("c1"), seq("c2")}
	strata := map[string]string{"a1": "a", "a2": "a", "a3": "a", "b1": "b", "c1": "c", "c2": "c"}
	require.Equal(t, []int{fold0, fold1, fold0, foldHalves, fold0, fold1},
		foldPlan(held, TrainConfig{HoldoutBy: HoldoutByVM, Strata: strata}), "alternate within strata, halve a lone VM")
	require.Equal(t, []int{fold0, fold1, fold0, fold1, fold0, fold1}, foldPlan(held, TrainConfig{HoldoutBy: HoldoutByVM}))
	require.Equal(t, []int{foldHalves, foldHalves}, foldPlan(held[:2], TrainConfig{HoldoutBy: HoldoutByTime}))
	require.Equal(t, []int{foldHalves}, foldPlan(held[:1], TrainConfig{HoldoutBy: HoldoutByVM}))

	// 2 VMs × 150 held-out windows: two folds of 150 are too few to
	// calibrate, so the threshold is set in sample and says so.
	a, err := Fit(benignRows(1, 2, 500), testNames, TrainConfig{Seed: 3, Trees: 20, HoldoutBy: HoldoutByTime})
	require.NoError(t, err)
	require.False(t, a.Manifest.Calibration.Alert.CrossFitted)
}

func TestFitErrors(t *testing.T) {
	rows := benignRows(1, 2, 400)
	_, err := Fit(rows, nil, TrainConfig{})
	require.Error(t, err)
	_, err = Fit(nil, testNames, TrainConfig{})
	require.ErrorIs(t, err, models.ErrEmpty)
	_, err = Fit(rows, testNames[:3], TrainConfig{})
	require.ErrorContains(t, err, "feature schema")
	_, err = Fit(rows, testNames, TrainConfig{HoldoutBy: "dice"})
	require.ErrorContains(t, err, "HoldoutBy")
	_, err = Fit(rows[:400], testNames, TrainConfig{HoldoutBy: HoldoutByVM})
	require.ErrorContains(t, err, "at least 2 VMs")
	_, err = Fit(rows, testNames, TrainConfig{Platform: "xen"})
	require.ErrorContains(t, err, "platform")
	_, err = Fit(rows[:100], testNames, TrainConfig{})
	require.ErrorIs(t, err, models.ErrTooFewWindows)
}

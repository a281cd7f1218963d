package training

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/features"
)

// TestSplitStrata checks that the VM hold-out takes its share of every
// stratum, fits a stratum of one VM only, and without strata keeps the
// unstratified split.
func TestSplitStrata(t *testing.T) {
	rows := benignRows(2, 8, 10)
	byVM := groupByVM(rows)
	names := func(seqs [][]features.Row) map[string]bool {
		out := map[string]bool{}
		for _, s := range seqs {
			out[s[0].VMID] = true
		}
		return out
	}
	// vm-a..vm-d are kind x, vm-e..vm-g kind y, vm-h alone.
	strata := map[string]string{"vm-a": "x", "vm-b": "x", "vm-c": "x", "vm-d": "x", "vm-e": "y", "vm-f": "y", "vm-g": "y", "vm-h": "z"}
	for seed := range uint64(20) {
		train, held, err := split(byVM, TrainConfig{Seed: seed, HoldoutBy: HoldoutByVM, HoldoutFraction: 0.5, Strata: strata})
		require.NoError(t, err)
		h, f := names(held), names(train)
		count := func(set map[string]bool, kind string) int {
			n := 0
			for vm := range set {
				if strata[vm] == kind {
					n++
				}
			}
			return n
		}
		require.Equal(t, 2, count(h, "x"), "seed %d: half of x held out", seed)
		require.Equal(t, 2, count(h, "y"), "seed %d: round(1.5) of y held out", seed)
		require.Equal(t, 1, count(f, "y"), "seed %d: y keeps one VM to fit", seed)
		require.True(t, f["vm-h"], "seed %d: a stratum of one VM is fitted", seed)
		require.Len(t, h, 4)
		require.Len(t, f, 4)
	}
	plain, _, err := split(byVM, TrainConfig{Seed: 3, HoldoutBy: HoldoutByVM, HoldoutFraction: 0.5})
	require.NoError(t, err)
	same, _, err := split(byVM, TrainConfig{Seed: 3, HoldoutBy: HoldoutByVM, HoldoutFraction: 0.5, Strata: map[string]string{}})
	require.NoError(t, err)
	require.Equal(t, names(plain), names(same), "empty strata: the unstratified split")

	_, _, err = split(byVM[:2], TrainConfig{Seed: 1, HoldoutBy: HoldoutByVM, HoldoutFraction: 0.5,
		Strata: map[string]string{"vm-a": "x", "vm-b": "y"}})
	require.ErrorContains(t, err, "at least 2 VMs")
}

// TestFitGraceWindows checks that each VM's first windows are left out and
// the artifact records how many.
func TestFitGraceWindows(t *testing.T) {
	rows := benignRows(4, 6, 200)
	a, err := Fit(rows, testNames, TrainConfig{Seed: 1, Trees: 20, HoldoutBy: HoldoutByVM, HoldoutFraction: 0.5, GraceWindows: 3})
	require.NoError(t, err)
	require.Equal(t, 3, a.Manifest.GraceWindows)
	require.Equal(t, len(rows)-6*3, a.Manifest.Training.Rows+a.Manifest.Training.HoldoutRows)
	b, err := Fit(rows, testNames, TrainConfig{Seed: 1, Trees: 20, HoldoutBy: HoldoutByVM, HoldoutFraction: 0.5})
	require.NoError(t, err)
	require.Zero(t, b.Manifest.GraceWindows)
	require.NotEqual(t, a.Manifest.ModelVersion, b.Manifest.ModelVersion)

	_, err = Fit(rows[:10], testNames, TrainConfig{Window: time.Second, GraceWindows: 10})
	require.ErrorContains(t, err, "GraceWindows")
}

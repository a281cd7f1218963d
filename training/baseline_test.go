package training

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/models/vmbase"
)

// TestBaselineWarmupAndTail checks TrainConfig.BaselineWarmup and the per-VM
// baseline's calibration on a short recording: with the default warm-up
// (900 windows) on 400-window VMs the baseline never scores, its held-out
// scores are one atom at 0 and the ensemble reads that as p = 1; with a
// warm-up of 50 it scores a few benign bursts, whose handful of exceedances
// get an exponential tail no steeper than vmbase.DefaultMinTailScale.
func TestBaselineWarmupAndTail(t *testing.T) {
	rows := benignRows(5, 6, 400)
	// Three primitives no VM uses (MSRs, hypercalls, guest write faults),
	// then on every VM one burst of each, late enough to be past a short
	// warm-up and of nearly the same size: the baseline's top held-out
	// scores are a few close values, as the lab's VM stops are.
	for i := range rows {
		v, k := i/400, i%400
		for f := 1; f <= 3; f++ {
			rows[i].Values[f] = 0
			if k == 270+30*f {
				rows[i].Values[f] = float64(40 + v + 7*f)
			}
		}
	}
	tests := []struct {
		name   string
		warmup int
		scores bool
	}{
		{"default warm-up", 0, false},
		{"short warm-up", 50, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Fit(rows, testNames, TrainConfig{Seed: 3, Trees: 50, BaselineWarmup: tt.warmup})
			require.NoError(t, err)
			require.Len(t, a.Stream, 1)
			want := tt.warmup
			if want == 0 {
				want = vmbase.DefaultWarmup
			}
			require.Equal(t, want, a.Stream[0].(*vmbase.Detector).Warmup)
			c := a.Manifest.Calibration.Stream[0]
			if !tt.scores {
				require.Zero(t, c.Quantiles[len(c.Quantiles)-1], "no held-out window past the warm-up")
				require.Equal(t, 1.0, c.PValue(0))
				return
			}
			require.Positive(t, c.Tail.N, "the bursts exceed the baseline's tail threshold")
			require.Less(t, c.Tail.N, 10, "too few to fit a shape: the floored exponential")
			require.GreaterOrEqual(t, c.Tail.Sigma, vmbase.DefaultMinTailScale)
		})
	}
}

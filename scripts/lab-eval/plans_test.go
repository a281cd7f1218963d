package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/collectors/lab"
)

// TestPlans checks that the default plans are valid, that the training plan
// is benign, and that in the detection plan every attack starts after the
// quiet start and every flood after every stealthy window has ended.
func TestPlans(t *testing.T) {
	tests := []struct {
		name    string
		cfg     planConfig
		wantErr bool
	}{
		{"defaults", planConfig{Seed: 1, TrainDuration: 210 * time.Second, DetectDuration: 210 * time.Second,
			Quiet: 90 * time.Second, Stealthy: time.Minute, Flood: 15 * time.Second}, false},
		{"no QEMU", planConfig{Seed: 1, TrainDuration: time.Minute, DetectDuration: 210 * time.Second,
			Quiet: 90 * time.Second, Stealthy: time.Minute, Flood: 15 * time.Second, NoQEMU: true}, false},
		{"detection run too short", planConfig{Seed: 1, TrainDuration: time.Minute, DetectDuration: 150 * time.Second,
			Quiet: 90 * time.Second, Stealthy: time.Minute, Flood: 15 * time.Second}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp, err := trainPlan(tt.cfg)
			require.NoError(t, err)
			qemu := 0
			for _, v := range tp.VMs {
				require.Empty(t, v.Windows, "training VM %s is benign", v.Name)
				if v.VMM == lab.VMMQEMU {
					qemu++
				}
			}
			if tt.cfg.NoQEMU {
				require.Zero(t, qemu)
			} else {
				require.Equal(t, 4, qemu)
			}
			dp, err := detectPlan(tt.cfg)
			if tt.wantErr {
				require.ErrorContains(t, err, "too short")
				return
			}
			require.NoError(t, err)
			var lastStealthyEnd, firstFlood time.Duration = 0, tt.cfg.DetectDuration
			attacks := 0
			for _, v := range dp.VMs {
				for _, w := range v.Windows {
					attacks++
					start := time.Duration(w.Start)
					require.GreaterOrEqual(t, start, tt.cfg.Quiet, "%s %s", v.Name, w.Workload)
					if w.Rate == lab.RateStealthy {
						lastStealthyEnd = max(lastStealthyEnd, start+time.Duration(w.Duration))
					} else {
						firstFlood = min(firstFlood, start)
					}
				}
			}
			require.Less(t, lastStealthyEnd, firstFlood)
			want := 2 * len(attackers)
			if !tt.cfg.NoQEMU {
				want++
			}
			require.Equal(t, want, attacks)
		})
	}
}

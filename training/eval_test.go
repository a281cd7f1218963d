package training

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/anomaly"
)

func TestROCAUC(t *testing.T) {
	tests := []struct {
		name   string
		scores []float64
		labels []bool
		want   float64
	}{
		{"perfect", []float64{0.1, 0.2, 0.8, 0.9}, []bool{false, false, true, true}, 1},
		{"inverted", []float64{0.9, 0.8, 0.2, 0.1}, []bool{false, false, true, true}, 0},
		{"all tied", []float64{1, 1, 1, 1}, []bool{false, true, false, true}, 0.5},
		// pairs (pos, neg): (0.4>0.1),(0.4<0.5),(0.7>0.1),(0.7>0.5) → 3/4
		{"mixed", []float64{0.1, 0.4, 0.5, 0.7}, []bool{false, true, false, true}, 0.75},
		// tie between a positive and a negative counts half: (1>0), (0.5=0.5) → 1.5/2... per pos×neg = 4 pairs
		{"tie", []float64{0, 0.5, 0.5, 1}, []bool{false, false, true, true}, (1 + 0.5 + 1 + 1) / 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.InDelta(t, tt.want, ROCAUC(tt.scores, tt.labels), 1e-12)
		})
	}
	require.True(t, math.IsNaN(ROCAUC([]float64{1, 2}, []bool{true, true})))
	require.Panics(t, func() { ROCAUC([]float64{1}, nil) })
}

func TestPRAUC(t *testing.T) {
	tests := []struct {
		name   string
		scores []float64
		labels []bool
		want   float64
	}{
		{"perfect", []float64{0.1, 0.2, 0.8, 0.9}, []bool{false, false, true, true}, 1},
		// ranks: pos (P=1), neg, pos (P=2/3) → (1 + 2/3)/2
		{"interleaved", []float64{0.9, 0.8, 0.7, 0.1}, []bool{true, false, true, false}, (1 + 2.0/3) / 2},
		// all tied: precision 2/4 at full recall
		{"all tied", []float64{1, 1, 1, 1}, []bool{true, false, true, false}, 0.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.InDelta(t, tt.want, PRAUC(tt.scores, tt.labels), 1e-12)
		})
	}
	require.True(t, math.IsNaN(PRAUC([]float64{1}, []bool{false})))
}

func TestEvaluate(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	scen := []Scenario{
		{ID: "s1", VMID: "vm-a", Start: at(100), End: at(160)},                // detected after 2 windows
		{ID: "s2", VMID: "vm-b", Start: at(100), End: at(160)},                // incident 5 windows late: missed
		{ID: "s3", VMID: "vm-c", Start: at(100), End: at(160)},                // incident on another VM only: missed
		{ID: "p1", VMID: "vm-d", Start: at(100), End: at(160), Placebo: true}, // placebo with an incident: false alert
	}
	incs := []Incident{
		{ID: "i1", VMID: "vm-a", FirstSeen: at(102), LastSeen: at(150)},
		{ID: "i2", VMID: "vm-b", FirstSeen: at(105), LastSeen: at(120)}, // late, but overlaps: not a false alert
		{ID: "i3", VMID: "vm-e", FirstSeen: at(100), LastSeen: at(101)}, // no scenario: false alert
		{ID: "i4", VMID: "vm-d", FirstSeen: at(110), LastSeen: at(111)}, // placebo: false alert
		{ID: "i5", VMID: "vm-a", FirstSeen: at(500), LastSeen: at(501)}, // long after s1: false alert
	}
	r := Evaluate(EvalInput{Scenarios: scen, Incidents: incs, Window: time.Second, VMDays: 2,
		Scores: []float64{1, 2, 3}, Labels: []bool{false, true, true}})
	require.Equal(t, 3, r.Attacks)
	require.Equal(t, 1, r.Detected)
	require.InDelta(t, 1.0/3, r.DetectionRate, 1e-12)
	require.True(t, r.Scenarios[0].Detected)
	require.Equal(t, "i1", r.Scenarios[0].Incident)
	require.Equal(t, 2*time.Second, r.Scenarios[0].Delay)
	require.False(t, r.Scenarios[1].Detected)
	require.False(t, r.Scenarios[2].Detected)
	require.False(t, r.Scenarios[3].Detected)
	require.Equal(t, 2*time.Second, r.MeanDelay)
	require.Equal(t, 3, r.FalseAlerts)
	require.Equal(t, 1.5, r.FalseAlertsPerVMDay)
	require.Equal(t, 1.0, r.ROCAUC)

	// An incident already open when the scenario starts detects it at once.
	r = Evaluate(EvalInput{Scenarios: scen[:1], Incidents: []Incident{{ID: "x", VMID: "vm-a", FirstSeen: at(90), LastSeen: at(130)}}, Window: time.Second})
	require.Equal(t, 1, r.Detected)
	require.Zero(t, r.Scenarios[0].Delay)
	require.True(t, math.IsNaN(r.ROCAUC))
}

func TestIncidentsFromRecords(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	recs := []anomaly.Record{
		{ID: "b", Revision: 1, VM: anomaly.VM{ID: "vm-2"}, FirstSeen: t0.Add(time.Second), LastSeen: t0.Add(2 * time.Second), Severity: "medium"},
		{ID: "a", Revision: 2, VM: anomaly.VM{ID: "vm-1"}, FirstSeen: t0, LastSeen: t0.Add(9 * time.Second), Severity: "high"},
		{ID: "a", Revision: 1, VM: anomaly.VM{ID: "vm-1"}, FirstSeen: t0, LastSeen: t0.Add(time.Second), Severity: "medium"},
		{ID: "a", Revision: 2, VM: anomaly.VM{ID: "vm-1"}, FirstSeen: t0, LastSeen: t0.Add(9 * time.Second), Severity: "high"}, // duplicate
	}
	got := IncidentsFromRecords(recs)
	require.Len(t, got, 2)
	require.Equal(t, "a", got[0].ID)
	require.Equal(t, "high", got[0].Severity)
	require.Equal(t, t0.Add(9*time.Second), got[0].LastSeen)
	require.Equal(t, "b", got[1].ID)
}

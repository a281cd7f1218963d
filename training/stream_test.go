package training

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/features"
	"github.com/escapement/escapement/models"
)

// sliceReader streams rows in batches of 1000, as an archive read would.
func sliceReader(names []string, rows []features.Row) ReadFunc {
	return func(fn func([]string, []features.Row) error) error {
		for i := 0; i < len(rows); i += 1000 {
			if err := fn(names, rows[i:min(i+1000, len(rows))]); err != nil {
				return err
			}
		}
		return nil
	}
}

func TestSampler(t *testing.T) {
	rows := benignRows(2, 8, 3000)
	sample := func(seed uint64) (*Sampler, [][]features.Row, [][]features.Row, string) {
		s := NewSampler(len(testNames), SampleConfig{Seed: seed, MaxFitRows: 2000, MaxHoldoutRows: 1000})
		for i := range rows {
			s.Add(&rows[i])
		}
		fit, held, by := s.Split()
		return s, fit, held, by
	}
	s, fit, held, by := sample(5)
	st := s.Stats()
	require.Equal(t, int64(len(rows)), st.Seen)
	require.Equal(t, 8, st.VMs)
	require.Equal(t, 2000, st.KeptFit)
	require.Equal(t, 1000, st.KeptHoldout)
	require.Equal(t, HoldoutByVM, by)
	require.Equal(t, int64(3000*st.HoldoutVMs), st.SeenHoldout, "a VM's rows all go to one side")
	n := 0
	lateHalf := 0
	for _, seq := range fit {
		for i, r := range seq {
			if i > 0 {
				require.Less(t, seq[i-1].Start, r.Start, "sequences are in window order")
			}
			if r.Start >= rows[1500].Start {
				lateHalf++
			}
			n++
		}
	}
	require.Equal(t, 2000, n)
	require.InDelta(t, 1000, lateHalf, 120, "the reservoir is uniform over the stream, not its head")
	require.Len(t, held, st.HoldoutVMs)

	_, fit2, _, _ := sample(5)
	require.Equal(t, fit, fit2, "same seed, same sample")
	_, fit3, _, _ := sample(6)
	require.NotEqual(t, fit, fit3)

	// Too few VMs for a split by VM: split by time.
	few := NewSampler(len(testNames), SampleConfig{Seed: 1})
	for _, r := range benignRows(3, 2, 500) {
		few.Add(&r)
	}
	fit, held, by = few.Split()
	require.Equal(t, HoldoutByTime, by)
	require.Len(t, fit, 2)
	require.Len(t, held, 2)
	require.Panics(t, func() { few.Add(&features.Row{Values: []float64{1}}) })
}

func TestStreamFitExclusionsAndCard(t *testing.T) {
	rows := benignRows(4, 8, 1500)
	t0 := time.Unix(0, rows[0].Start).UTC()
	spans := []Span{
		{VMID: "vm-a", Start: t0.Add(100 * time.Second), End: t0.Add(199 * time.Second), Reason: ReasonTruePositive},
		{VMID: "vm-b", Start: t0.Add(10 * time.Second), End: t0.Add(19 * time.Second), Reason: ReasonIncident},
		// Overlaps the true positive: those windows count as true_positive.
		{VMID: "vm-a", Start: t0.Add(150 * time.Second), End: t0.Add(300 * time.Second), Reason: ReasonIncident},
	}
	var calls int
	cfg := StreamConfig{
		Train:    TrainConfig{Seed: 9, Trees: 30},
		Sample:   SampleConfig{MaxFitRows: 3000, MaxHoldoutRows: 3000},
		Exclude:  NewExclusions(spans),
		Progress: func(StreamReport) { calls++ },
	}
	prev, err := Fit(benignRows(5, 6, 600), testNames, TrainConfig{Seed: 1, Trees: 20})
	require.NoError(t, err)
	require.NotNil(t, prev.Drift)
	cfg.Previous = prev.Drift
	a, rep, err := StreamFit(sliceReader(testNames, rows), testNames, cfg)
	require.NoError(t, err)
	require.Equal(t, 12, calls)
	require.Equal(t, int64(len(rows)), rep.Read)
	// Windows starting in [100 s, 199 s + 3 windows of slack) on vm-a are
	// true positives; [202 s, 303 s) on vm-a and [10 s, 22 s) on vm-b
	// incidents.
	require.Equal(t, map[string]int64{ReasonTruePositive: 102, ReasonIncident: 101 + 12}, rep.Excluded)
	require.Equal(t, rep.Read-102-113, rep.Sample.Seen)
	require.Equal(t, 3000, a.Manifest.Training.Rows)
	require.Len(t, rep.PreviousPSI, len(testNames))

	dir := t.TempDir()
	require.NoError(t, a.Save(dir))
	back, err := models.Load(dir, "", testNames)
	require.NoError(t, err)
	require.Equal(t, a.Drift, back.Drift, "the drift reference round-trips through the artifact")

	card := BuildCard(a, rep, "archive", t0, time.Time{}, prev)
	require.NoError(t, card.Write(dir))
	require.FileExists(t, filepath.Join(dir, CardJSON))
	require.Equal(t, rep.Sample.Seen, card.Rows.Kept)
	require.NotNil(t, card.Drift)
	require.Len(t, card.Drift.PSI, len(testNames))
	require.Len(t, card.Detectors, 2)
	require.InDelta(t, card.BudgetPerVMDay, card.ExpectedIncidentsPerVMDay, card.BudgetPerVMDay+0.01)
	md := card.Markdown()
	require.Contains(t, md, "excluded: true_positive | 102")
	require.Contains(t, md, fmt.Sprintf("Previous model %s", prev.Manifest.ModelVersion))

	noRef := *prev
	noRef.Drift = nil
	require.Contains(t, BuildCard(a, rep, "archive", t0, time.Time{}, &noRef).Markdown(), "has no drift reference")

	var all []Span
	for v := range 8 {
		all = append(all, Span{VMID: "vm-" + string(rune('a'+v)), Start: t0, End: t0.Add(time.Hour), Reason: ReasonLabel})
	}
	_, _, err = StreamFit(sliceReader(testNames, rows), testNames, StreamConfig{Exclude: NewExclusions(all)})
	require.ErrorContains(t, err, "no windows to fit on")
}

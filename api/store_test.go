package api

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/anomaly"
)

func openTestStore(t testing.TB) *SQLiteStore {
	t.Helper()
	s, err := OpenSQLite(filepath.Join(t.TempDir(), "anomalies.db"), nil, nil)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func rec(id string, rev int, sev string, at time.Time) anomaly.Record {
	return anomaly.Record{ID: id, Revision: rev, Severity: sev, Status: anomaly.StatusNew, RiskScore: float64(10 * rev),
		UpdatedAt: at, FirstSeen: at, LastSeen: at.Add(time.Duration(rev) * time.Second), VM: anomaly.VM{ID: "vm-" + id}, Host: "h1",
		Detector: anomaly.Detector{ID: "ens", Name: "ensemble", Version: "v1", Type: "ensemble"},
		Attack:   []anomaly.Attack{anomaly.EscapeToHost}}
}

func TestStoreCollapsesDuplicates(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	t0 := time.Unix(1000, 0).UTC()
	for _, tc := range []struct {
		rev  int
		want bool
		why  string
	}{
		{1, true, "first revision"},
		{1, false, "same revision again is a duplicate"},
		{3, true, "newer revision"},
		{2, false, "an older revision never replaces a newer one"},
		{3, false, "duplicate of the newest"},
	} {
		ok, err := s.Upsert(ctx, rec("a", tc.rev, "low", t0))
		require.NoError(t, err)
		require.Equal(t, tc.want, ok, tc.why)
	}
	got, err := s.Get(ctx, "a")
	require.NoError(t, err)
	require.Equal(t, 3, got.Revision)
	all, _, err := s.List(ctx, Query{Revisions: true, Limit: 10})
	require.NoError(t, err)
	require.Len(t, all, 2, "revisions 1 and 3 are kept as history")
	_, err = s.Get(ctx, "nope")
	require.ErrorIs(t, err, ErrNotFound)
}

func TestStoreKeepsAnalystFieldsAcrossRevisions(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	t0 := time.Unix(1000, 0).UTC()
	_, err := s.Upsert(ctx, rec("a", 1, "low", t0))
	require.NoError(t, err)
	a, err := s.Get(ctx, "a")
	require.NoError(t, err)
	st, who, note, verdict := anomaly.StatusInProgress, "alice", "looking", anomaly.VerdictTruePositive
	p, err := s.Patch(ctx, "a", Patch{Status: &st, Assignee: &who, Note: &note, Verdict: &verdict}, a.ETag)
	require.NoError(t, err)
	require.NotEqual(t, a.ETag, p.ETag)
	require.True(t, p.UpdatedAt.After(a.UpdatedAt), "a patch moves updated_at")
	_, err = s.Patch(ctx, "a", Patch{Note: &note}, a.ETag)
	require.ErrorIs(t, err, ErrStale)

	scorer := rec("a", 2, "high", t0)
	scorer.Assignee = "scorer must not set this"
	ok, err := s.Upsert(ctx, scorer)
	require.NoError(t, err)
	require.True(t, ok)
	got, err := s.Get(ctx, "a")
	require.NoError(t, err)
	require.Equal(t, 2, got.Revision)
	require.Equal(t, "high", got.Severity)
	require.Equal(t, anomaly.StatusInProgress, got.Status)
	require.Equal(t, "alice", got.Assignee)
	require.Equal(t, "looking", got.Note)
	require.Equal(t, anomaly.VerdictTruePositive, got.Verdict)
	require.NotEqual(t, p.ETag, got.ETag, "a new revision changes the ETag")
}

func TestStoreClockIsMonotonic(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	frozen := time.Unix(5000, 0)
	s.now = func() time.Time { return frozen } // a clock that stands still (or steps back)
	var last time.Time
	for i := 0; i < 5; i++ {
		_, err := s.Upsert(ctx, rec(fmt.Sprintf("r%d", i), 1, "low", frozen))
		require.NoError(t, err)
		a, err := s.Get(ctx, fmt.Sprintf("r%d", i))
		require.NoError(t, err)
		require.True(t, a.UpdatedAt.After(last), "updated_at %v after %v", a.UpdatedAt, last)
		last = a.UpdatedAt
	}
}

func TestStoreRetentionAndReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a.db")
	s, err := OpenSQLite(path, nil, nil)
	require.NoError(t, err)
	now := time.Unix(10_000, 0)
	s.now = func() time.Time { return now }
	_, err = s.Upsert(ctx, rec("old", 1, "low", now))
	require.NoError(t, err)
	now = now.Add(time.Hour)
	_, err = s.Upsert(ctx, rec("new", 1, "low", now))
	require.NoError(t, err)
	n, err := s.Retain(ctx, now.Add(-time.Minute))
	require.NoError(t, err)
	require.Equal(t, 1, n)
	inst := s.Instance()
	require.NoError(t, s.Close())

	s, err = OpenSQLite(path, nil, nil)
	require.NoError(t, err)
	defer s.Close()
	require.Equal(t, inst, s.Instance(), "the instance id lives with the file")
	_, err = s.Get(ctx, "old")
	require.ErrorIs(t, err, ErrNotFound)
	got, err := s.Get(ctx, "new")
	require.NoError(t, err)
	// The clock resumes after the newest stored updated_at even if the
	// wall clock went back.
	s.now = func() time.Time { return time.Unix(1, 0) }
	_, err = s.Upsert(ctx, rec("later", 1, "low", now))
	require.NoError(t, err)
	later, err := s.Get(ctx, "later")
	require.NoError(t, err)
	require.True(t, later.UpdatedAt.After(got.UpdatedAt))
	var mode string
	require.NoError(t, s.db.QueryRow(`PRAGMA journal_mode`).Scan(&mode))
	require.Equal(t, "wal", mode)
}

func TestStoreVMsScoresDetectors(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	t0 := time.Unix(1000, 0).UTC()
	a1 := rec("a", 1, "low", t0)
	a2 := rec("a", 2, "high", t0)
	b := rec("b", 1, "medium", t0)
	b.VM.ID = "vm-a" // a second, later anomaly on the same VM
	b.LastSeen = t0.Add(time.Hour)
	b.RiskScore = 55
	b.Detector = anomaly.Detector{ID: "iforest", Name: "isolation forest", Version: "v2", Type: "iforest"}
	c := rec("c", 1, "critical", t0)
	for _, r := range []anomaly.Record{a1, a2, b, c} {
		_, err := s.Upsert(ctx, r)
		require.NoError(t, err)
	}
	vms, err := s.VMs(ctx, 100)
	require.NoError(t, err)
	require.Len(t, vms, 2)
	require.Equal(t, "vm-a", vms[0].VMID, "riskiest first")
	require.Equal(t, 55.0, vms[0].RiskScore, "latest anomaly gives the risk")
	require.Equal(t, "b", vms[0].AnomalyID)
	require.Equal(t, 2, vms[0].Anomalies)
	require.Equal(t, "vm-c", vms[1].VMID)

	pts, err := s.Scores(ctx, "vm-a", time.Time{}, time.Time{}, 100)
	require.NoError(t, err)
	require.Len(t, pts, 3)
	require.Equal(t, []int{1, 2, 1}, []int{pts[0].Revision, pts[1].Revision, pts[2].Revision})
	require.Equal(t, "b", pts[2].AnomalyID)
	pts, err = s.Scores(ctx, "vm-a", time.Time{}, time.Time{}, 1)
	require.NoError(t, err)
	require.Len(t, pts, 1)
	require.Equal(t, "b", pts[0].AnomalyID, "the limit keeps the newest points")

	ds, err := s.Detectors(ctx)
	require.NoError(t, err)
	require.Len(t, ds, 2)
	require.Equal(t, "ens", ds[0].ID)
	require.Equal(t, 2, ds[0].Anomalies)
	require.Equal(t, "isolation forest", ds[1].Name)
}

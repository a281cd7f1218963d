package api

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/anomaly"
)

func TestReadIncidentSpans(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "anomalies.db")
	s, err := OpenSQLite(path, nil, nil)
	require.NoError(t, err)
	t0 := time.Unix(5000, 0).UTC()
	for _, id := range []string{"a", "b"} {
		_, err := s.Ingest(ctx, rec(id, 2, "high", t0))
		require.NoError(t, err)
	}
	a, err := s.Get(ctx, "a")
	require.NoError(t, err)
	tp := anomaly.VerdictTruePositive
	_, err = s.Patch(ctx, "a", Patch{Verdict: &tp}, a.ETag)
	require.NoError(t, err)

	// Read while the serving store is open.
	spans, err := ReadIncidentSpans(path)
	require.NoError(t, err)
	require.Equal(t, []IncidentSpan{
		{ID: "a", VMID: "vm-a", FirstSeen: t0, LastSeen: t0.Add(2 * time.Second), Verdict: "true_positive"},
		{ID: "b", VMID: "vm-b", FirstSeen: t0, LastSeen: t0.Add(2 * time.Second)},
	}, spans)
	require.NoError(t, s.Close())

	_, err = ReadIncidentSpans(filepath.Join(t.TempDir(), "missing.db"))
	require.ErrorContains(t, err, "--data-dir")
}

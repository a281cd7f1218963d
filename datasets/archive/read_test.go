package archive

import (
	"context"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/datasets"
	"github.com/escapement/escapement/features"
	"github.com/escapement/escapement/transport"
)

func TestReadWithProjects(t *testing.T) {
	dir := t.TempDir()
	require.False(t, IsArchive(dir), "an empty directory is not an archive")
	a, err := New(Config{Dir: dir}, nil, nil)
	require.NoError(t, err)
	require.True(t, IsArchive(dir), "the rolls directory marks an archive")
	tp := transport.TopicPartition{Topic: topic, Partition: 0}
	a.Assigned(context.Background(), []transport.TopicPartition{tp})
	for _, d := range stream(t, 0, 90, rand.New(rand.NewPCG(7, 8))) {
		handle(t, a, d)
	}
	a.Revoked(context.Background(), []transport.TopicPartition{tp})

	var all, projected []features.Row
	require.NoError(t, Read(dir, time.Time{}, time.Time{}, func(_ []string, rows []features.Row) error {
		for _, r := range rows {
			r.Values = append([]float64(nil), r.Values...)
			all = append(all, r)
		}
		return nil
	}))
	var st datasets.ReadStats
	require.NoError(t, ReadWith(dir, time.Time{}, time.Time{}, datasets.ReadOptions{}, &st, func(_ []string, rows []features.Row) error {
		for _, r := range rows {
			r.Values = append([]float64(nil), r.Values...)
			projected = append(projected, r)
		}
		return nil
	}))
	require.Len(t, projected, 180)
	require.Equal(t, int64(180), st.Rows)
	for i := range all {
		require.NotEmpty(t, all[i].NGrams)
		require.Equal(t, "h1", all[i].Host)
		require.Nil(t, projected[i].NGrams, "ngrams not read")
		require.Empty(t, projected[i].Host, "host not read")
		require.Equal(t, all[i].VMID, projected[i].VMID)
		require.Equal(t, all[i].Start, projected[i].Start)
		require.Equal(t, all[i].End, projected[i].End)
		require.Equal(t, all[i].Values, projected[i].Values)
	}
	dataset := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dataset, datasets.FeaturesFile), nil, 0o644))
	require.False(t, IsArchive(dataset), "a dataset directory is not an archive")
}

func TestReadWithSkipsRowGroupsOutsideTheRange(t *testing.T) {
	// One file of three row groups, 10 s windows: 0 … 16383, 16384 … 32767
	// and the rest.
	dir := t.TempDir()
	names := features.Names()
	t0 := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	rel := HourDir(t0.UnixNano())
	require.NoError(t, os.MkdirAll(filepath.Join(dir, rel), 0o755))
	f, err := os.Create(filepath.Join(dir, rel, FileName(topic, 0, 0, 9)))
	require.NoError(t, err)
	w, err := datasets.NewFeatureWriter(struct{ io.Writer }{f}, names)
	require.NoError(t, err)
	n := 2*datasets.RowGroupFeatures + 100
	vals := make([]float64, len(names))
	rows := make([]features.Row, 0, datasets.RowGroupFeatures)
	for i := range n {
		s := t0.Add(time.Duration(i) * 100 * time.Millisecond).UnixNano() // all in one hour
		rows = append(rows, features.Row{VMID: "vm", Start: s, End: s + int64(100*time.Millisecond), Values: vals})
		if len(rows) == datasets.RowGroupFeatures || i == n-1 {
			require.NoError(t, w.Write(rows))
			rows = rows[:0]
		}
	}
	require.NoError(t, w.Close())
	require.NoError(t, f.Close())

	// The range covers part of the second row group only.
	since := t0.Add(time.Duration(datasets.RowGroupFeatures+10) * 100 * time.Millisecond)
	until := since.Add(time.Second)
	var st datasets.ReadStats
	got := 0
	require.NoError(t, ReadWith(dir, since, until, datasets.ReadOptions{}, &st, func(_ []string, rows []features.Row) error {
		got += len(rows)
		return nil
	}))
	require.Equal(t, 10, got)
	require.Equal(t, 1, st.RowGroups)
	require.Equal(t, 2, st.SkippedRowGroups)
}

package archive

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestFileNameRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		topic     string
		partition int
		lo, hi    int64
		want      string
	}{
		{"escapement.features.v1", 3, 1200, 1399, "escapement.features.v1-p3-o1200-o1399.parquet"},
		{"a-p1-o2", 0, 0, 0, "a-p1-o2-p0-o0-o0.parquet"},
		{"t", 11, 5, 1 << 40, "t-p11-o5-o1099511627776.parquet"},
	} {
		name := FileName(tc.topic, tc.partition, tc.lo, tc.hi)
		require.Equal(t, tc.want, name)
		r, ok := ParseFileName(name)
		require.True(t, ok, name)
		require.Equal(t, FileRange{Topic: tc.topic, Partition: tc.partition, Lo: tc.lo, Hi: tc.hi}, r)
	}
	for _, bad := range []string{"", "x.parquet", "t-p1-o5-o4.parquet", "t-p1-o1-o2.parquet.tmp", ".t-p1-o1.parquet.tmp", "t-px-o1-o2.parquet"} {
		_, ok := ParseFileName(bad)
		require.False(t, ok, bad)
	}
}

func TestHourDir(t *testing.T) {
	for _, tc := range []struct {
		at   time.Time
		want string
	}{
		{time.Date(2026, 11, 27, 6, 59, 59, 999, time.UTC), "date=2026-11-27/hour=06"},
		{time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC), "date=2026-11-27/hour=00"},
		{time.Date(2026, 11, 27, 23, 30, 0, 0, time.FixedZone("x", -3600)), "date=2026-11-28/hour=00"},
	} {
		require.Equal(t, filepath.FromSlash(tc.want), HourDir(tc.at.UnixNano()))
	}
}

func touch(t *testing.T, path string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte("x"), 0o644))
}

func TestRecoverResumePoint(t *testing.T) {
	dir := t.TempDir()
	h1 := filepath.Join(dir, "date=2026-11-27", "hour=05")
	h2 := filepath.Join(dir, "date=2026-11-27", "hour=06")
	touch(t, filepath.Join(h1, FileName("f", 1, 0, 99)))
	touch(t, filepath.Join(h2, FileName("f", 1, 100, 180)))
	touch(t, filepath.Join(h1, FileName("f", 11, 0, 5000))) // another partition
	touch(t, filepath.Join(h1, FileName("g", 1, 0, 7000)))  // another topic
	touch(t, filepath.Join(h2, tmpName("f", 1, 181)))       // unfinished, uncommitted
	touch(t, filepath.Join(h2, tmpName("f", 2, 7)))         // another partition's: kept

	got, err := Recover(dir, "f", 1)
	require.NoError(t, err)
	require.Equal(t, int64(180), got)
	require.NoFileExists(t, filepath.Join(h2, tmpName("f", 1, 181)))
	require.FileExists(t, filepath.Join(h2, tmpName("f", 2, 7)))

	got, err = Recover(dir, "f", 3)
	require.NoError(t, err)
	require.Equal(t, int64(-1), got)
	got, err = Recover(filepath.Join(dir, "missing"), "f", 1)
	require.NoError(t, err)
	require.Equal(t, int64(-1), got)
}

// A roll whose journal was written but whose renames were cut short is
// finished by the next recovery, whichever renames were done.
func TestRecoverFinishesJournal(t *testing.T) {
	for done := 0; done <= 2; done++ {
		dir := t.TempDir()
		rels := [][2]string{
			{filepath.Join("date=2026-11-27", "hour=05", tmpName("f", 0, 10)), filepath.Join("date=2026-11-27", "hour=05", FileName("f", 0, 10, 20))},
			{filepath.Join("date=2026-11-27", "hour=06", tmpName("f", 0, 15)), filepath.Join("date=2026-11-27", "hour=06", FileName("f", 0, 15, 30))},
		}
		for i, r := range rels {
			if i < done {
				touch(t, filepath.Join(dir, r[1]))
			} else {
				touch(t, filepath.Join(dir, r[0]))
			}
		}
		require.NoError(t, os.MkdirAll(filepath.Join(dir, RollsDir), 0o755))
		jp := filepath.Join(dir, RollsDir, journalName("f", 0, 10, 30))
		require.NoError(t, writeFileAtomic(jp, []byte(`{"renames":[["`+rels[0][0]+`","`+rels[0][1]+`"],["`+rels[1][0]+`","`+rels[1][1]+`"]]}`)))

		got, err := Recover(dir, "f", 0)
		require.NoError(t, err)
		require.Equal(t, int64(30), got, "done=%d", done)
		for _, r := range rels {
			require.FileExists(t, filepath.Join(dir, r[1]))
			require.NoFileExists(t, filepath.Join(dir, r[0]))
		}
		require.NoFileExists(t, jp)
	}
}

func TestFilesPrunesByHour(t *testing.T) {
	dir := t.TempDir()
	for _, h := range []string{"hour=04", "hour=05", "hour=06"} {
		touch(t, filepath.Join(dir, "date=2026-11-27", h, FileName("f", 0, 1, 2)))
	}
	touch(t, filepath.Join(dir, "date=2026-11-27", "hour=05", FileName("f", 0, 3, 4)))
	touch(t, filepath.Join(dir, "date=2026-11-27", "hour=05", tmpName("f", 0, 5)))
	touch(t, filepath.Join(dir, "date=2026-11-26", "hour=23", FileName("f", 0, 1, 2)))
	touch(t, filepath.Join(dir, "date=bad", "hour=23", FileName("f", 0, 1, 2)))
	at := func(h, m int) time.Time { return time.Date(2026, 11, 27, h, m, 0, 0, time.UTC) }
	rel := func(ps []string) []string {
		for i, p := range ps {
			r, err := filepath.Rel(dir, p)
			require.NoError(t, err)
			ps[i] = filepath.ToSlash(r)
		}
		return ps
	}
	for _, tc := range []struct {
		since, until time.Time
		want         []string
	}{
		{at(5, 30), at(6, 0), []string{"date=2026-11-27/hour=05/f-p0-o1-o2.parquet", "date=2026-11-27/hour=05/f-p0-o3-o4.parquet"}},
		{at(5, 0), at(6, 1), []string{"date=2026-11-27/hour=05/f-p0-o1-o2.parquet", "date=2026-11-27/hour=05/f-p0-o3-o4.parquet", "date=2026-11-27/hour=06/f-p0-o1-o2.parquet"}},
		{time.Time{}, at(4, 0), []string{"date=2026-11-26/hour=23/f-p0-o1-o2.parquet"}},
		{at(6, 59), time.Time{}, []string{"date=2026-11-27/hour=06/f-p0-o1-o2.parquet"}},
		{at(7, 0), time.Time{}, nil},
	} {
		got, err := Files(dir, tc.since, tc.until)
		require.NoError(t, err)
		require.Equal(t, tc.want, rel(got), "since %s until %s", tc.since, tc.until)
	}
}

func FuzzParseFileName(f *testing.F) {
	f.Add("escapement.features.v1-p3-o1200-o1399.parquet")
	f.Add("-p-o-o.parquet")
	f.Fuzz(func(t *testing.T, name string) {
		r, ok := ParseFileName(name)
		if !ok {
			return
		}
		if r.Lo > r.Hi || r.Partition < 0 {
			t.Fatalf("%q parsed to %+v", name, r)
		}
		// A parsed name names the same range once printed again.
		r2, ok := ParseFileName(FileName(r.Topic, r.Partition, r.Lo, r.Hi))
		if !ok || r2 != r {
			t.Fatalf("%q: %+v does not round-trip (%+v)", name, r, r2)
		}
	})
}

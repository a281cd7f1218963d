package archive

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/escapement/escapement/datasets"
	"github.com/escapement/escapement/features"
)

// Files lists the archive files under dir whose hour overlaps [since,
// until), oldest hour first and, within an hour, by topic, partition and
// offset. Only the overlapping hour directories are read; a zero since or
// until leaves that side open. Temporary files of unfinished rolls are not
// listed.
func Files(dir string, since, until time.Time) ([]string, error) {
	hours, err := HourDirs(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, h := range hours {
		if (!since.IsZero() && !h.Hour.Add(time.Hour).After(since)) || (!until.IsZero() && !h.Hour.Before(until)) {
			continue
		}
		ents, err := os.ReadDir(filepath.Join(dir, h.Path))
		if err != nil {
			return nil, fmt.Errorf("archive: list %s: %w", filepath.Join(dir, h.Path), err)
		}
		var rs []FileRange
		for _, e := range ents {
			if r, ok := ParseFileName(e.Name()); ok && !e.IsDir() {
				rs = append(rs, r)
			}
		}
		sort.Slice(rs, func(i, j int) bool {
			a, b := rs[i], rs[j]
			if a.Topic != b.Topic {
				return a.Topic < b.Topic
			}
			if a.Partition != b.Partition {
				return a.Partition < b.Partition
			}
			return a.Lo < b.Lo
		})
		for _, r := range rs {
			out = append(out, filepath.Join(dir, h.Path, FileName(r.Topic, r.Partition, r.Lo, r.Hi)))
		}
	}
	return out, nil
}

// Read streams the feature rows of dir whose window starts in [since,
// until) to fn, one row group at a time, reading only the hour directories
// the range overlaps (see Files). Every file must have the same feature
// names; fn's error stops the read and is returned. The rows passed to fn
// are valid only during the call.
func Read(dir string, since, until time.Time, fn func(names []string, rows []features.Row) error) error {
	paths, err := Files(dir, since, until)
	if err != nil {
		return err
	}
	var first []string
	var kept []features.Row
	for _, p := range paths {
		err := datasets.ReadFeatures(p, func(names []string, rows []features.Row) error {
			if first == nil {
				first = names
			} else if !slices.Equal(first, names) {
				return fmt.Errorf("archive: %s has feature names %v, earlier files %v: read ranges of one catalog (split --since/--until at the catalog change)", p, names, first)
			}
			kept = kept[:0]
			for _, r := range rows {
				if (since.IsZero() || r.Start >= since.UnixNano()) && (until.IsZero() || r.Start < until.UnixNano()) {
					kept = append(kept, r)
				}
			}
			if len(kept) == 0 {
				return nil
			}
			return fn(names, kept)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

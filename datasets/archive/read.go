package archive

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
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
	return ReadWith(dir, since, until, datasets.ReadOptions{NGrams: true, Host: true}, nil, fn)
}

// ReadWith is Read with column projection: only the columns opts asks for
// are read (vm_id, window start and end and the features always), and row
// groups whose window starts lie outside the range are skipped by their
// statistics. opts.Since and opts.Until are set from since and until. It adds
// what it read to st when not nil.
func ReadWith(dir string, since, until time.Time, opts datasets.ReadOptions, st *datasets.ReadStats, fn func(names []string, rows []features.Row) error) error {
	paths, err := Files(dir, since, until)
	if err != nil {
		return err
	}
	return ReadFiles(paths, since, until, opts, st, fn)
}

// ReadFiles is ReadWith on archive files already listed (by Files).
func ReadFiles(paths []string, since, until time.Time, opts datasets.ReadOptions, st *datasets.ReadStats, fn func(names []string, rows []features.Row) error) error {
	opts.Since, opts.Until = 0, 0
	if !since.IsZero() {
		opts.Since = since.UnixNano()
	}
	if !until.IsZero() {
		opts.Until = until.UnixNano()
	}
	var first []string
	var kept []features.Row
	for _, p := range paths {
		err := datasets.ReadFeaturesWith(p, opts, st, func(names []string, rows []features.Row) error {
			if first == nil {
				first = names
			} else if !slices.Equal(first, names) {
				return fmt.Errorf("archive: %s has feature names %v, earlier files %v: read ranges of one catalog (split --since/--until at the catalog change)", p, names, first)
			}
			kept = kept[:0]
			for _, r := range rows {
				if (opts.Since == 0 || r.Start >= opts.Since) && (opts.Until == 0 || r.Start < opts.Until) {
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

// IsArchive reports whether dir is laid out as an archive (it holds a
// date=YYYY-MM-DD directory or the rolls directory) rather than a dataset
// directory.
func IsArchive(dir string) bool {
	if fi, err := os.Stat(filepath.Join(dir, RollsDir)); err == nil && fi.IsDir() {
		return true
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if e.IsDir() && strings.HasPrefix(e.Name(), datePrefix) {
			return true
		}
	}
	return false
}

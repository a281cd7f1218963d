package archive

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Names of the layout.
const (
	datePrefix = "date="
	hourPrefix = "hour="
	dateLayout = "2006-01-02"
	tmpPrefix  = "."
	tmpSuffix  = ".tmp"
	fileSuffix = ".parquet"
	// RollsDir holds the journals of multi-file rolls.
	RollsDir = "_rolls"
)

// HourDir returns the directory, relative to the archive root, of rows whose
// window starts at start (ns since the epoch): date=YYYY-MM-DD/hour=HH in UTC.
func HourDir(start int64) string {
	t := HourOf(start)
	return filepath.Join(datePrefix+t.Format(dateLayout), fmt.Sprintf("%s%02d", hourPrefix, t.Hour()))
}

// HourOf returns the UTC hour holding the instant ns.
func HourOf(ns int64) time.Time {
	return time.Unix(0, ns).UTC().Truncate(time.Hour)
}

// FileName returns the name of a file holding partition's messages from
// offset lo to hi inclusive: <topic>-p<partition>-o<lo>-o<hi>.parquet.
func FileName(topic string, partition int, lo, hi int64) string {
	return fmt.Sprintf("%s-p%d-o%d-o%d%s", topic, partition, lo, hi, fileSuffix)
}

var fileRE = regexp.MustCompile(`^(.+)-p(\d+)-o(\d+)-o(\d+)\.parquet$`)

// FileRange is what a file name says.
type FileRange struct {
	Topic     string
	Partition int
	Lo, Hi    int64
}

// ParseFileName parses a name made by FileName.
func ParseFileName(name string) (FileRange, bool) {
	m := fileRE.FindStringSubmatch(name)
	if m == nil {
		return FileRange{}, false
	}
	p, err1 := strconv.Atoi(m[2])
	lo, err2 := strconv.ParseInt(m[3], 10, 64)
	hi, err3 := strconv.ParseInt(m[4], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || lo > hi {
		return FileRange{}, false
	}
	return FileRange{Topic: m[1], Partition: p, Lo: lo, Hi: hi}, true
}

// tmpName is the hidden name a file is written under; it starts with the
// partition's prefix so recovery can find it.
func tmpName(topic string, partition int, lo int64) string {
	return fmt.Sprintf("%s%s-p%d-o%d%s%s", tmpPrefix, topic, partition, lo, fileSuffix, tmpSuffix)
}

func tmpPrefixOf(topic string, partition int) string {
	return fmt.Sprintf("%s%s-p%d-o", tmpPrefix, topic, partition)
}

// parseHourDir returns the hour of a date=/hour= directory pair.
func parseHourDir(date, hour string) (time.Time, bool) {
	if !strings.HasPrefix(date, datePrefix) || !strings.HasPrefix(hour, hourPrefix) {
		return time.Time{}, false
	}
	d, err := time.Parse(dateLayout, strings.TrimPrefix(date, datePrefix))
	if err != nil {
		return time.Time{}, false
	}
	h, err := strconv.Atoi(strings.TrimPrefix(hour, hourPrefix))
	if err != nil || h < 0 || h > 23 {
		return time.Time{}, false
	}
	return d.Add(time.Duration(h) * time.Hour), true
}

// HourDirs lists the hour directories under dir (relative paths) with
// their hours, oldest first. A missing dir has none.
func HourDirs(dir string) ([]HourEntry, error) {
	dates, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("archive: list %s: %w", dir, err)
	}
	var out []HourEntry
	for _, d := range dates {
		if !d.IsDir() || !strings.HasPrefix(d.Name(), datePrefix) {
			continue
		}
		hours, err := os.ReadDir(filepath.Join(dir, d.Name()))
		if err != nil {
			return nil, fmt.Errorf("archive: list %s: %w", filepath.Join(dir, d.Name()), err)
		}
		for _, h := range hours {
			if t, ok := parseHourDir(d.Name(), h.Name()); ok && h.IsDir() {
				out = append(out, HourEntry{Hour: t, Path: filepath.Join(d.Name(), h.Name())})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Hour.Before(out[j].Hour) })
	return out, nil
}

// HourEntry is one hour directory of the archive.
type HourEntry struct {
	Hour time.Time // UTC start of the hour
	Path string    // relative to the archive root
}

// journal lists the renames of one roll: temporary to final name, relative
// to the archive root.
type journal struct {
	Renames [][2]string `json:"renames"`
}

func journalName(topic string, partition int, lo, hi int64) string {
	return strings.TrimSuffix(FileName(topic, partition, lo, hi), fileSuffix) + ".json"
}

// writeFileAtomic writes data to path via a synced temporary and a rename.
func writeFileAtomic(path string, data []byte) error {
	tmp := filepath.Join(filepath.Dir(path), tmpPrefix+filepath.Base(path)+tmpSuffix)
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}

// Recover finishes or discards what an earlier writer of topic's partition
// left in dir and returns the highest end offset of the partition's files
// (-1 when it has none): journals of committed rolls have their renames
// completed, temporary files of uncommitted ones are removed.
func Recover(dir, topic string, partition int) (int64, error) {
	jdir := filepath.Join(dir, RollsDir)
	jprefix := strings.TrimSuffix(FileName(topic, partition, 0, 0), "0-o0"+fileSuffix)
	ents, err := os.ReadDir(jdir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return -1, fmt.Errorf("archive: list %s: %w", jdir, err)
	}
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, jprefix) || !strings.HasSuffix(name, ".json") {
			continue
		}
		if err := finishJournal(dir, filepath.Join(jdir, name)); err != nil {
			return -1, err
		}
	}
	hours, err := HourDirs(dir)
	if err != nil {
		return -1, err
	}
	resume := int64(-1)
	tprefix := tmpPrefixOf(topic, partition)
	for _, h := range hours {
		files, err := os.ReadDir(filepath.Join(dir, h.Path))
		if err != nil {
			return -1, fmt.Errorf("archive: list %s: %w", filepath.Join(dir, h.Path), err)
		}
		for _, f := range files {
			name := f.Name()
			if strings.HasPrefix(name, tprefix) && strings.HasSuffix(name, tmpSuffix) {
				p := filepath.Join(dir, h.Path, name)
				if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return -1, fmt.Errorf("archive: remove unfinished %s: %w (check permissions on the archive)", p, err)
				}
				continue
			}
			r, ok := ParseFileName(name)
			if ok && r.Topic == topic && r.Partition == partition && r.Hi > resume {
				resume = r.Hi
			}
		}
	}
	return resume, nil
}

// finishJournal completes the renames of a committed roll and removes its
// journal; renames already done are skipped.
func finishJournal(dir, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("archive: read roll journal: %w", err)
	}
	var j journal
	if err := json.Unmarshal(data, &j); err != nil {
		return fmt.Errorf("archive: roll journal %s is corrupt: %w (it is written by rename, so this is not a crash: inspect it and remove it by hand)", path, err)
	}
	for _, r := range j.Renames {
		from, to := filepath.Join(dir, r[0]), filepath.Join(dir, r[1])
		if err := os.Rename(from, to); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("archive: finish roll %s: %w", path, err)
		}
		if err := syncDir(filepath.Dir(to)); err != nil {
			return fmt.Errorf("archive: finish roll %s: %w", path, err)
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("archive: remove roll journal %s: %w", path, err)
	}
	return nil
}

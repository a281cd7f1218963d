package archive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/escapement/escapement/datasets"
	"github.com/escapement/escapement/features"
	"github.com/escapement/escapement/transport"
)

// Defaults of Config.
const (
	DefaultRollRows     = 1 << 20
	DefaultRollInterval = 15 * time.Minute
)

// Config configures an Archiver.
type Config struct {
	// Dir is the archive root. Required; created when missing.
	Dir string
	// RollRows rolls a partition's open files once they hold this many rows
	// together. Default DefaultRollRows.
	RollRows int
	// RollInterval rolls a partition's open files this long after the first
	// was opened (checked on every message and by Run). Default
	// DefaultRollInterval.
	RollInterval time.Duration
	// DeadLetter receives undecodable messages with the reason. When it
	// returns an error, Handle returns it and the group stops. Nil makes
	// undecodable input fatal.
	DeadLetter func(ctx context.Context, m *transport.Message, err error) error
	// Names are the feature names of the rows, in Row.Values order. Default
	// features.Names().
	Names []string
	// Events archives raw events (escapement.events.v1 messages), filed by
	// event time, instead of feature rows; Names is then unused. One
	// directory holds one kind.
	Events bool
	// Now is the clock of the interval rolls. Default time.Now.
	Now func() time.Time
}

// Archiver is a transport.Handler that writes consumed feature rows to the
// archive. Calls for different partitions may run concurrently; Run rolls
// aged files under the partition's lock.
type Archiver struct {
	cfg   Config
	log   *slog.Logger
	m     metrics
	mu    sync.Mutex
	parts map[transport.TopicPartition]*partition
}

type metrics struct {
	rows, files, skipped, deadLetters prometheus.Counter
}

// partition is the state of one assigned partition.
type partition struct {
	mu     sync.Mutex
	tp     transport.TopicPartition
	resume int64 // messages at or below are in the archive already
	open   map[int64]*openFile
	held   []transport.Delivery
	rows   int
	since  time.Time // when the first open file was opened
	gone   bool      // revoked: Run must leave it alone
	dec    records   // scratch of the current message
}

// openFile is one file being written: the rows of one hour.
type openFile struct {
	rel, tmp string // directory relative to the root; temporary path
	f        *os.File
	w        recordFile // nil once closed
	lo, hi   int64
}

// flush writes f's buffered records.
func (f *openFile) flush() error {
	if err := f.w.flush(); err != nil {
		return fmt.Errorf("archive: write %s: %w", f.tmp, err)
	}
	return nil
}

// newRecords returns an empty scratch of the archived kind.
func (a *Archiver) newRecords() records {
	if a.cfg.Events {
		return &eventRecords{}
	}
	return &featureRecords{names: a.cfg.Names}
}

// New returns an Archiver writing under cfg.Dir. logger and reg may be nil.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Archiver, error) {
	if cfg.Dir == "" {
		return nil, errors.New("archive: no directory: pass the archive root (--out)")
	}
	if cfg.RollRows <= 0 {
		cfg.RollRows = DefaultRollRows
	}
	if cfg.RollInterval <= 0 {
		cfg.RollInterval = DefaultRollInterval
	}
	if cfg.Names == nil {
		cfg.Names = features.Names()
	}
	if _, err := datasets.FeatureSchema(cfg.Names); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := os.MkdirAll(filepath.Join(cfg.Dir, RollsDir), 0o755); err != nil {
		return nil, fmt.Errorf("archive: create %s: %w (check the path and its permissions)", cfg.Dir, err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "escapement", Subsystem: "archive", Name: name, Help: help})
	}
	m := metrics{
		rows:        counter("rows_total", "Rows (feature rows or events, by kind) written to archive files that were renamed into place."),
		files:       counter("files_total", "Archive files renamed into place."),
		skipped:     counter("skipped_messages_total", "Messages skipped because the archive already holds them."),
		deadLetters: counter("dead_letters_total", "Messages sent to the dead-letter handler."),
	}
	if reg != nil {
		// A feature archiver and an event archiver may share a process.
		kind := "features"
		if cfg.Events {
			kind = "events"
		}
		prometheus.WrapRegistererWith(prometheus.Labels{"kind": kind}, reg).MustRegister(m.rows, m.files, m.skipped, m.deadLetters)
	}
	return &Archiver{cfg: cfg, log: logger, m: m, parts: make(map[transport.TopicPartition]*partition)}, nil
}

// Assigned recovers each partition's files and sets its resume point.
func (a *Archiver) Assigned(_ context.Context, parts []transport.TopicPartition) {
	for _, tp := range parts {
		if _, err := a.part(tp); err != nil {
			// Handle retries and fails the group with the error.
			a.log.Error("recover archive partition", "topic", tp.Topic, "partition", tp.Partition, "err", err)
		}
	}
}

// part returns tp's state, recovering it from the files on first use.
func (a *Archiver) part(tp transport.TopicPartition) (*partition, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if p, ok := a.parts[tp]; ok {
		return p, nil
	}
	resume, err := Recover(a.cfg.Dir, tp.Topic, tp.Partition)
	if err != nil {
		return nil, err
	}
	a.log.Info("archive partition assigned", "topic", tp.Topic, "partition", tp.Partition, "resume_after", resume)
	p := &partition{tp: tp, resume: resume, open: make(map[int64]*openFile), dec: a.newRecords()}
	a.parts[tp] = p
	return p, nil
}

// Handle appends the message's rows to the open files of their hours and
// retains the delivery until those files are renamed.
func (a *Archiver) Handle(ctx context.Context, d transport.Delivery) error {
	m := d.Message()
	p, err := a.part(transport.TopicPartition{Topic: m.Topic, Partition: m.Partition})
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if m.Offset <= p.resume {
		a.m.skipped.Inc()
		return nil
	}
	if err := p.dec.decode(m.Value); err != nil {
		return a.deadLetter(ctx, m, err)
	}
	if p.dec.len() > 0 {
		if err := a.write(p, m.Offset, p.dec); err != nil {
			return err
		}
		d.Retain()
		p.held = append(p.held, d)
	}
	p.dec.clear() // drop string references until the next message
	if p.rows >= a.cfg.RollRows || (len(p.open) > 0 && a.cfg.Now().Sub(p.since) >= a.cfg.RollInterval) {
		return a.roll(p)
	}
	return nil
}

func (a *Archiver) deadLetter(ctx context.Context, m *transport.Message, err error) error {
	a.m.deadLetters.Inc()
	a.log.Warn("undecodable feature message", "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "err", err)
	if a.cfg.DeadLetter == nil {
		return fmt.Errorf("archive: %s[%d]@%d: %w (configure a dead-letter handler to skip bad messages)", m.Topic, m.Partition, m.Offset, err)
	}
	if dlErr := a.cfg.DeadLetter(ctx, m, err); dlErr != nil {
		return fmt.Errorf("archive: dead-lettering %s[%d]@%d: %w", m.Topic, m.Partition, m.Offset, dlErr)
	}
	return nil
}

// write appends the records of the message at offset to the files of their
// hours. p.mu is held.
func (a *Archiver) write(p *partition, offset int64, rs records) error {
	rs.sortByHour()
	for i := 0; i < rs.len(); {
		h := HourOf(rs.start(i))
		j := i + 1
		for j < rs.len() && HourOf(rs.start(j)).Equal(h) {
			j++
		}
		f, err := a.file(p, rs.start(i), offset)
		if err != nil {
			return err
		}
		if f.w.take(rs, i, j) {
			if err := f.flush(); err != nil {
				return err
			}
		}
		f.hi = offset
		p.rows += j - i
		i = j
	}
	return nil
}

// file returns the open file of the hour holding start, opening it.
func (a *Archiver) file(p *partition, start, offset int64) (*openFile, error) {
	key := HourOf(start).Unix()
	if f, ok := p.open[key]; ok {
		return f, nil
	}
	rel := HourDir(start)
	if err := os.MkdirAll(filepath.Join(a.cfg.Dir, rel), 0o755); err != nil {
		return nil, fmt.Errorf("archive: create %s: %w (check space and permissions)", rel, err)
	}
	tmp := filepath.Join(a.cfg.Dir, rel, tmpName(p.tp.Topic, p.tp.Partition, offset))
	fh, err := os.Create(tmp)
	if err != nil {
		return nil, fmt.Errorf("archive: create %s: %w (check space and permissions)", tmp, err)
	}
	// The writer must not close fh: roll syncs it after the footer.
	w, err := p.dec.newFile(struct{ io.Writer }{fh})
	if err != nil {
		fh.Close()
		return nil, err
	}
	if len(p.open) == 0 {
		p.since = a.cfg.Now()
	}
	f := &openFile{rel: rel, tmp: tmp, f: fh, w: w, lo: offset, hi: offset}
	p.open[key] = f
	return f, nil
}

// roll closes p's open files, renames them into place (through a journal
// when there are several) and releases the deliveries they hold. On error
// the files stay open and the deliveries held. p.mu is held.
func (a *Archiver) roll(p *partition) error {
	if len(p.open) == 0 {
		return nil
	}
	keys := make([]int64, 0, len(p.open))
	hi := int64(-1)
	lo := int64(-1)
	for k, f := range p.open {
		keys = append(keys, k)
		hi = max(hi, f.hi)
		if lo < 0 || f.lo < lo {
			lo = f.lo
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	var renames [][2]string
	for _, k := range keys {
		f := p.open[k]
		if f.w != nil {
			if err := f.flush(); err != nil {
				return err
			}
			if err := f.w.close(); err != nil {
				return fmt.Errorf("archive: finish %s: %w", f.tmp, err)
			}
			f.w = nil
		}
		if f.f != nil {
			if err := f.f.Sync(); err != nil {
				return fmt.Errorf("archive: sync %s: %w (check the disk)", f.tmp, err)
			}
			if err := f.f.Close(); err != nil {
				return fmt.Errorf("archive: close %s: %w", f.tmp, err)
			}
			f.f = nil
		}
		renames = append(renames, [2]string{
			filepath.Join(f.rel, filepath.Base(f.tmp)),
			filepath.Join(f.rel, FileName(p.tp.Topic, p.tp.Partition, f.lo, f.hi)),
		})
	}
	if len(renames) == 1 {
		from, to := filepath.Join(a.cfg.Dir, renames[0][0]), filepath.Join(a.cfg.Dir, renames[0][1])
		if err := os.Rename(from, to); err != nil {
			return fmt.Errorf("archive: rename %s: %w", from, err)
		}
		if err := syncDir(filepath.Dir(to)); err != nil {
			return fmt.Errorf("archive: sync %s: %w", filepath.Dir(to), err)
		}
	} else {
		jpath := filepath.Join(a.cfg.Dir, RollsDir, journalName(p.tp.Topic, p.tp.Partition, lo, hi))
		data, err := json.Marshal(journal{Renames: renames})
		if err != nil {
			return fmt.Errorf("archive: roll journal: %w", err)
		}
		if err := writeFileAtomic(jpath, data); err != nil {
			return fmt.Errorf("archive: write roll journal %s: %w (check space and permissions)", jpath, err)
		}
		if err := finishJournal(a.cfg.Dir, jpath); err != nil {
			return err
		}
	}
	a.m.files.Add(float64(len(renames)))
	a.m.rows.Add(float64(p.rows))
	a.log.Debug("archive files rolled", "topic", p.tp.Topic, "partition", p.tp.Partition, "files", len(renames), "rows", p.rows, "lo", lo, "hi", hi)
	p.resume = max(p.resume, hi)
	for _, d := range p.held {
		d.Release()
	}
	clear(p.held)
	p.held = p.held[:0]
	clear(p.open)
	p.rows = 0
	return nil
}

// Revoked rolls the partitions' open files and forgets them. A partition
// whose roll fails keeps its deliveries unreleased: the next owner reads
// them again and the temporary files are discarded by its recovery.
func (a *Archiver) Revoked(_ context.Context, parts []transport.TopicPartition) {
	for _, tp := range parts {
		a.mu.Lock()
		p, ok := a.parts[tp]
		delete(a.parts, tp)
		a.mu.Unlock()
		if !ok {
			continue
		}
		p.mu.Lock()
		if err := a.roll(p); err != nil {
			a.log.Error("roll archive files on revoke; the next owner re-reads them", "topic", tp.Topic, "partition", tp.Partition, "err", err)
			p.discard()
		}
		p.gone = true
		p.mu.Unlock()
	}
}

// discard closes p's open files without renaming them and forgets its
// deliveries. p.mu is held.
func (p *partition) discard() {
	for _, f := range p.open {
		if f.f != nil {
			f.f.Close()
		}
		os.Remove(f.tmp)
	}
	clear(p.open)
	clear(p.held)
	p.held = p.held[:0]
	p.rows = 0
}

// Run rolls the files of every partition whose oldest open file is older
// than RollInterval, checking every tenth of it (at most every second),
// until ctx is done. A failed roll is returned and stops Run.
func (a *Archiver) Run(ctx context.Context) error {
	every := min(a.cfg.RollInterval/10, time.Second)
	t := time.NewTicker(max(every, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := a.RollDue(); err != nil {
			return err
		}
	}
}

// RollDue rolls the partitions whose files are older than RollInterval.
func (a *Archiver) RollDue() error {
	a.mu.Lock()
	parts := make([]*partition, 0, len(a.parts))
	for _, p := range a.parts {
		parts = append(parts, p)
	}
	a.mu.Unlock()
	now := a.cfg.Now()
	for _, p := range parts {
		p.mu.Lock()
		var err error
		if !p.gone && len(p.open) > 0 && now.Sub(p.since) >= a.cfg.RollInterval {
			err = a.roll(p)
		}
		p.mu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

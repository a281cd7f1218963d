package api

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver

	"github.com/escapement/escapement/anomaly"
)

// schema is the store's layout. updated_at columns hold the store's own
// clock in nanoseconds: strictly increasing across writes, so a cursor in
// (updated_at, id) order never skips or repeats a change.
const schema = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS anomalies (
	id TEXT PRIMARY KEY,
	revision INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	first_seen INTEGER NOT NULL,
	last_seen INTEGER NOT NULL,
	severity_rank INTEGER NOT NULL,
	scorer_status TEXT NOT NULL,
	host TEXT NOT NULL,
	vm_id TEXT NOT NULL,
	detector_id TEXT NOT NULL,
	techniques TEXT NOT NULL,
	risk REAL NOT NULL,
	record TEXT NOT NULL,
	status TEXT,
	assignee TEXT NOT NULL DEFAULT '',
	note TEXT NOT NULL DEFAULT '',
	verdict TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX IF NOT EXISTS anomalies_updated ON anomalies(updated_at, id);
CREATE INDEX IF NOT EXISTS anomalies_vm ON anomalies(vm_id, last_seen);
CREATE TABLE IF NOT EXISTS revisions (
	id TEXT NOT NULL,
	revision INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	first_seen INTEGER NOT NULL,
	last_seen INTEGER NOT NULL,
	severity_rank INTEGER NOT NULL,
	scorer_status TEXT NOT NULL,
	host TEXT NOT NULL,
	vm_id TEXT NOT NULL,
	detector_id TEXT NOT NULL,
	techniques TEXT NOT NULL,
	risk REAL NOT NULL,
	record TEXT NOT NULL,
	PRIMARY KEY (id, revision)
);
CREATE UNIQUE INDEX IF NOT EXISTS revisions_updated ON revisions(updated_at, id);
CREATE INDEX IF NOT EXISTS revisions_vm ON revisions(vm_id, last_seen);
CREATE TABLE IF NOT EXISTS suppressions (
	id TEXT PRIMARY KEY,
	vm_id TEXT NOT NULL,
	host TEXT NOT NULL,
	detector_id TEXT NOT NULL,
	feature TEXT NOT NULL,
	author TEXT NOT NULL,
	reason TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
);
`

// migrations add columns to stores made before them; "duplicate column"
// means the store has it already.
var migrations = []string{
	`ALTER TABLE anomalies ADD COLUMN suppressed_by TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE revisions ADD COLUMN suppressed_by TEXT NOT NULL DEFAULT ''`,
}

// SQLiteStore is the Store on an embedded SQLite file (pure Go driver, WAL
// journal, synchronous=FULL so a record the feed committed survives a
// crash). One process owns a file: writes are serialised in the process and
// stamped from its clock.
type SQLiteStore struct {
	db       *sql.DB
	path     string
	instance string
	log      *slog.Logger
	now      func() time.Time

	mu   sync.Mutex // serialises writes so commit order is clock order
	last int64      // last updated_at handed out

	rows prometheus.GaugeFunc
}

// OpenSQLite opens (creating if needed) the store at path.
func OpenSQLite(path string, log *slog.Logger, reg prometheus.Registerer) (*SQLiteStore, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("create the anomaly store directory: %w (choose another with --data-dir)", err)
	}
	dsn := path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(FULL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open anomaly store %s: %w", path, err)
	}
	s := &SQLiteStore{db: db, path: path, log: log, now: time.Now}
	if err := s.init(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open anomaly store %s: %w (is it an Escapement store? move it aside to start afresh)", path, err)
	}
	if reg != nil {
		s.rows = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "escapement", Subsystem: "api_store", Name: "anomalies",
			Help: "Anomalies held by the store."}, func() float64 {
			var n float64
			_ = s.db.QueryRow(`SELECT count(*) FROM anomalies`).Scan(&n)
			return n
		})
		reg.MustRegister(s.rows)
	}
	return s, nil
}

func (s *SQLiteStore) init() error {
	if _, err := s.db.Exec(schema); err != nil {
		return err
	}
	for _, m := range migrations {
		if _, err := s.db.Exec(m); err != nil && !strings.Contains(err.Error(), "duplicate column") {
			return err
		}
	}
	err := s.db.QueryRow(`SELECT value FROM meta WHERE key='instance'`).Scan(&s.instance)
	if errors.Is(err, sql.ErrNoRows) {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		s.instance = hex.EncodeToString(b)
		_, err = s.db.Exec(`INSERT INTO meta(key, value) VALUES ('instance', ?)`, s.instance)
	}
	if err != nil {
		return err
	}
	return s.db.QueryRow(`SELECT max(coalesce((SELECT max(updated_at) FROM anomalies), 0), coalesce((SELECT max(updated_at) FROM revisions), 0))`).Scan(&s.last)
}

// Instance is a random id made when the store file was created: a consumer
// group named after it resumes from committed offsets while the file lives,
// and a new file starts a new group that reads the topic from the start.
func (s *SQLiteStore) Instance() string { return s.instance }

// Path is the store's file.
func (s *SQLiteStore) Path() string { return s.path }

// Close closes the database.
func (s *SQLiteStore) Close() error { return s.db.Close() }

// tick returns the next updated_at; call with s.mu held.
func (s *SQLiteStore) tick() int64 {
	t := s.now().UnixNano()
	if t <= s.last {
		t = s.last + 1
	}
	s.last = t
	return t
}

func techniques(r *anomaly.Record) string {
	var b strings.Builder
	b.WriteByte(',')
	for _, a := range r.Attack {
		b.WriteString(a.TechniqueID)
		b.WriteByte(',')
	}
	return b.String()
}

// Upsert implements Store.
func (s *SQLiteStore) Upsert(ctx context.Context, rec anomaly.Record) (bool, error) {
	in, err := s.Ingest(ctx, rec)
	return in.Stored, err
}

// Ingest implements Store: the revision check, the suppression rules and
// the write happen in one transaction.
func (s *SQLiteStore) Ingest(ctx context.Context, rec anomaly.Record) (Ingested, error) {
	if rec.ID == "" {
		return Ingested{}, fmt.Errorf("anomaly record without id")
	}
	// Analyst fields never come from the scorer.
	rec.Assignee, rec.Note, rec.Verdict = "", "", ""
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Ingested{}, err
	}
	defer func() { _ = tx.Rollback() }() // a no-op after Commit
	var have int
	err = tx.QueryRowContext(ctx, `SELECT revision FROM anomalies WHERE id = ?`, rec.ID).Scan(&have)
	switch {
	case err == nil && have >= rec.Revision:
		return Ingested{Record: rec}, nil
	case err != nil && !errors.Is(err, sql.ErrNoRows):
		return Ingested{}, err
	}
	rule, err := matchRule(ctx, tx, &rec, s.now())
	if err != nil {
		return Ingested{}, fmt.Errorf("read suppression rules: %w", err)
	}
	if rule != "" {
		rec.Status = anomaly.StatusSuppressed
	}
	body, err := json.Marshal(rec)
	if err != nil {
		return Ingested{}, err
	}
	at := s.tick()
	cols := []any{rec.ID, rec.Revision, at, rec.FirstSeen.UnixNano(), rec.LastSeen.UnixNano(),
		anomaly.SeverityRank(rec.Severity), rec.Status, rec.Host, rec.VM.ID, rec.Detector.ID, techniques(&rec), rec.RiskScore, string(body), rule}
	const vals = `(id, revision, updated_at, first_seen, last_seen, severity_rank, scorer_status, host, vm_id, detector_id, techniques, risk, record, suppressed_by)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	if _, err := tx.ExecContext(ctx, `INSERT INTO anomalies `+vals+`
		ON CONFLICT(id) DO UPDATE SET revision=excluded.revision, updated_at=excluded.updated_at,
		first_seen=excluded.first_seen, last_seen=excluded.last_seen, severity_rank=excluded.severity_rank,
		scorer_status=excluded.scorer_status, host=excluded.host, vm_id=excluded.vm_id,
		detector_id=excluded.detector_id, techniques=excluded.techniques, risk=excluded.risk, record=excluded.record,
		suppressed_by=excluded.suppressed_by`, cols...); err != nil {
		return Ingested{}, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO revisions `+vals, cols...); err != nil {
		return Ingested{}, err
	}
	if err := tx.Commit(); err != nil {
		return Ingested{}, err
	}
	return Ingested{Stored: true, Record: rec, SuppressedBy: rule}, nil
}

// Retain implements Store.
func (s *SQLiteStore) Retain(ctx context.Context, cutoff time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer func() { _ = tx.Rollback() }() // a no-op after Commit
	res, err := tx.ExecContext(ctx, `DELETE FROM anomalies WHERE updated_at < ?`, cutoff.UnixNano())
	if err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM revisions WHERE updated_at < ?`, cutoff.UnixNano()); err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	return int(n), tx.Commit()
}

// RetainEvery deletes what is older than keep every interval until ctx is
// done. keep <= 0 keeps everything.
func RetainEvery(ctx context.Context, s Store, keep, every time.Duration, log *slog.Logger) {
	if keep <= 0 {
		return
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		n, err := s.Retain(ctx, time.Now().Add(-keep))
		if err != nil && ctx.Err() == nil {
			log.Warn("anomaly store retention failed; retrying at the next interval", "err", err)
		} else if n > 0 {
			log.Info("anomaly store retention", "deleted", n, "older_than", keep.String())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

package outputs

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

const spoolSchema = `
CREATE TABLE IF NOT EXISTS pending (
	seq INTEGER PRIMARY KEY AUTOINCREMENT,
	output TEXT NOT NULL,
	id TEXT NOT NULL,
	revision INTEGER NOT NULL,
	record TEXT NOT NULL,
	attempts INTEGER NOT NULL DEFAULT 0,
	UNIQUE (output, id, revision)
);
CREATE TABLE IF NOT EXISTS delivered (
	output TEXT NOT NULL,
	id TEXT NOT NULL,
	revision INTEGER NOT NULL,
	at INTEGER NOT NULL,
	PRIMARY KEY (output, id, revision)
);
CREATE INDEX IF NOT EXISTS delivered_at ON delivered(at);
`

// SpoolFile is the name of the spool in the spool directory.
const SpoolFile = "outputs.db"

// spool is the disk queue of every output and the record of deliveries.
type spool struct {
	db *sql.DB
}

func openSpool(dir string) (*spool, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create the output spool directory: %w (choose another with --spool-dir)", err)
	}
	path := filepath.Join(dir, SpoolFile)
	db, err := sql.Open("sqlite", path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(FULL)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open output spool %s: %w", path, err)
	}
	if _, err := db.Exec(spoolSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("open output spool %s: %w (is it an Escapement spool? move it aside to start afresh; undelivered records in it are lost)", path, err)
	}
	return &spool{db: db}, nil
}

// add queues body for each output unless that output has it queued or
// delivered already; it reports how many outputs took it.
func (s *spool) add(ctx context.Context, outputs []string, id string, rev int, body []byte) (int, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer func() { _ = tx.Rollback() }() // a no-op after Commit
	n := 0
	for _, o := range outputs {
		res, err := tx.ExecContext(ctx, `INSERT INTO pending (output, id, revision, record)
			SELECT ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM delivered WHERE output = ? AND id = ? AND revision = ?)
			ON CONFLICT (output, id, revision) DO NOTHING`, o, id, rev, string(body), o, id, rev)
		if err != nil {
			return 0, err
		}
		k, _ := res.RowsAffected()
		n += int(k)
	}
	return n, tx.Commit()
}

// item is one queued record of one output.
type item struct {
	seq      int64
	id       string
	revision int
	body     []byte
}

// next returns the oldest queued record of output, or ok false.
func (s *spool) next(ctx context.Context, output string) (item, bool, error) {
	var it item
	var body string
	err := s.db.QueryRowContext(ctx, `SELECT seq, id, revision, record FROM pending WHERE output = ? ORDER BY seq LIMIT 1`, output).
		Scan(&it.seq, &it.id, &it.revision, &body)
	if err == sql.ErrNoRows {
		return it, false, nil
	}
	it.body = []byte(body)
	return it, err == nil, err
}

// done records the delivery of it and unqueues it in one transaction.
func (s *spool) done(ctx context.Context, output string, it item, at time.Time) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }() // a no-op after Commit
	if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO delivered (output, id, revision, at) VALUES (?, ?, ?, ?)`,
		output, it.id, it.revision, at.UnixNano()); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM pending WHERE seq = ?`, it.seq); err != nil {
		return err
	}
	return tx.Commit()
}

// failed counts a failed attempt.
func (s *spool) failed(ctx context.Context, it item) error {
	_, err := s.db.ExecContext(ctx, `UPDATE pending SET attempts = attempts + 1 WHERE seq = ?`, it.seq)
	return err
}

// pending counts the queued records of output.
func (s *spool) pending(ctx context.Context, output string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM pending WHERE output = ?`, output).Scan(&n)
	return n, err
}

// forget deletes delivery records older than cutoff.
func (s *spool) forget(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM delivered WHERE at < ?`, cutoff.UnixNano())
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (s *spool) close() error { return s.db.Close() }

package api

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"time"

	"github.com/escapement/escapement/anomaly"
)

const ruleCols = `id, vm_id, host, detector_id, feature, author, reason, created_at, expires_at`

func scanRule(r scanner) (Suppression, error) {
	var s Suppression
	var created, expires int64
	err := r.Scan(&s.ID, &s.VM, &s.Host, &s.Detector, &s.Feature, &s.Author, &s.Reason, &created, &expires)
	s.CreatedAt, s.ExpiresAt = time.Unix(0, created).UTC(), time.Unix(0, expires).UTC()
	return s, err
}

func queryRules(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, where string, args ...any) ([]Suppression, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+ruleCols+` FROM suppressions `+where+` ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Suppression{}
	for rows.Next() {
		s, err := scanRule(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// matchRule returns the id of the oldest rule active at now that matches
// rec, or "".
func matchRule(ctx context.Context, tx *sql.Tx, rec *anomaly.Record, now time.Time) (string, error) {
	rules, err := queryRules(ctx, tx, `WHERE expires_at > ?`, now.UnixNano())
	if err != nil {
		return "", err
	}
	for _, r := range rules {
		if r.Matches(rec) {
			return r.ID, nil
		}
	}
	return "", nil
}

// Suppressions implements Store.
func (s *SQLiteStore) Suppressions(ctx context.Context, withExpired bool) ([]Suppression, error) {
	if withExpired {
		return queryRules(ctx, s.db, ``)
	}
	return queryRules(ctx, s.db, `WHERE expires_at > ?`, s.now().UnixNano())
}

// AddSuppression implements Store.
func (s *SQLiteStore) AddSuppression(ctx context.Context, r Suppression) (Suppression, error) {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	r.ID = "sup-" + hex.EncodeToString(b)
	r.CreatedAt = s.now().UTC()
	r.ExpiresAt = r.ExpiresAt.UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.db.ExecContext(ctx, `INSERT INTO suppressions (`+ruleCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.VM, r.Host, r.Detector, r.Feature, r.Author, r.Reason, r.CreatedAt.UnixNano(), r.ExpiresAt.UnixNano())
	return r, err
}

// DeleteSuppression implements Store. Anomalies it suppressed stay
// suppressed; their next revision is matched against the rules then.
func (s *SQLiteStore) DeleteSuppression(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	res, err := s.db.ExecContext(ctx, `DELETE FROM suppressions WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrRuleNotFound
	}
	return nil
}

package api

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/escapement/escapement/anomaly"
)

// etag names one state of an anomaly: its id, scorer revision and the store
// time of its last change (a revision or an analyst's patch).
func etag(id string, rev int, updatedAt int64) string {
	h := sha256.Sum256(fmt.Appendf(nil, "%s\x00%d\x00%d", id, rev, updatedAt))
	return `"` + hex.EncodeToString(h[:10]) + `"`
}

type scanner interface{ Scan(dst ...any) error }

// scanAnomaly reads the columns of anomalyCols.
func scanAnomaly(r scanner) (Anomaly, error) {
	var (
		a                       Anomaly
		id, body, scorerStatus  string
		rev                     int
		at                      int64
		status                  sql.NullString
		assignee, note, verdict string
	)
	if err := r.Scan(&id, &rev, &at, &body, &status, &assignee, &note, &verdict, &scorerStatus, &a.SuppressedBy); err != nil {
		return a, err
	}
	if err := json.Unmarshal([]byte(body), &a.Record); err != nil {
		return a, fmt.Errorf("stored anomaly %s is corrupt: %w", id, err)
	}
	a.UpdatedAt = time.Unix(0, at).UTC()
	a.Status = scorerStatus
	if status.Valid {
		a.Status = status.String
	}
	a.Assignee, a.Note, a.Verdict = assignee, note, verdict
	a.Links.Self = "/api/v1/anomalies/" + id
	a.ETag = etag(id, rev, at)
	return a, nil
}

const anomalyCols = `t.id, t.revision, t.updated_at, t.record, a.status, a.assignee, a.note, a.verdict, t.scorer_status, t.suppressed_by`

// List implements Store.
func (s *SQLiteStore) List(ctx context.Context, q Query) ([]Anomaly, bool, error) {
	from := `anomalies t JOIN anomalies a ON a.id = t.id`
	if q.Revisions {
		from = `revisions t JOIN anomalies a ON a.id = t.id`
	}
	var where []string
	var args []any
	add := func(cond string, v ...any) { where = append(where, cond); args = append(args, v...) }
	if !q.Since.IsZero() {
		add(`t.last_seen >= ?`, q.Since.UnixNano())
	}
	if !q.Until.IsZero() {
		add(`t.first_seen < ?`, q.Until.UnixNano())
	}
	if !q.UpdatedSince.IsZero() {
		add(`t.updated_at >= ?`, q.UpdatedSince.UnixNano())
	}
	if q.SeverityMin != "" {
		add(`t.severity_rank >= ?`, anomaly.SeverityRank(q.SeverityMin))
	}
	if q.Status != "" {
		add(`coalesce(a.status, t.scorer_status) = ?`, q.Status)
	}
	if q.Host != "" {
		add(`t.host = ?`, q.Host)
	}
	if q.VM != "" {
		add(`t.vm_id = ?`, q.VM)
	}
	if q.Detector != "" {
		add(`t.detector_id = ?`, q.Detector)
	}
	if q.Technique != "" {
		add(`instr(t.techniques, ?) > 0`, ","+q.Technique+",")
	}
	if q.After != (Cursor{}) {
		add(`(t.updated_at > ? OR (t.updated_at = ? AND t.id > ?))`, q.After.UpdatedAt, q.After.UpdatedAt, q.After.ID)
	}
	query := `SELECT ` + anomalyCols + ` FROM ` + from
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	query += fmt.Sprintf(` ORDER BY t.updated_at, t.id LIMIT %d`, limit+1)
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	var out []Anomaly
	for rows.Next() {
		a, err := scanAnomaly(rows)
		if err != nil {
			return nil, false, err
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	return out, more, nil
}

// Get implements Store.
func (s *SQLiteStore) Get(ctx context.Context, id string) (Anomaly, error) {
	a, err := scanAnomaly(s.db.QueryRowContext(ctx, `SELECT `+anomalyCols+` FROM anomalies t JOIN anomalies a ON a.id = t.id WHERE t.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return a, ErrNotFound
	}
	return a, err
}

// Patch implements Store. The analyst's change gets a new updated_at, so
// pollers see the anomaly again with the same revision and a new ETag.
func (s *SQLiteStore) Patch(ctx context.Context, id string, p Patch, ifMatch string) (Anomaly, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Anomaly{}, err
	}
	defer func() { _ = tx.Rollback() }() // a no-op after Commit
	cur, err := scanAnomaly(tx.QueryRowContext(ctx, `SELECT `+anomalyCols+` FROM anomalies t JOIN anomalies a ON a.id = t.id WHERE t.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return cur, ErrNotFound
	}
	if err != nil {
		return cur, err
	}
	if ifMatch != "*" && strings.TrimPrefix(ifMatch, "W/") != cur.ETag {
		return cur, ErrStale
	}
	set := []string{`updated_at = ?`}
	at := s.tick()
	args := []any{at}
	for _, f := range []struct {
		col string
		v   *string
	}{{"status", p.Status}, {"assignee", p.Assignee}, {"note", p.Note}, {"verdict", p.Verdict}} {
		if f.v != nil {
			set = append(set, f.col+` = ?`)
			args = append(args, *f.v)
		}
	}
	args = append(args, id)
	if _, err := tx.ExecContext(ctx, `UPDATE anomalies SET `+strings.Join(set, ", ")+` WHERE id = ?`, args...); err != nil {
		return cur, err
	}
	a, err := scanAnomaly(tx.QueryRowContext(ctx, `SELECT `+anomalyCols+` FROM anomalies t JOIN anomalies a ON a.id = t.id WHERE t.id = ?`, id))
	if err != nil {
		return a, err
	}
	return a, tx.Commit()
}

// VMs implements Store: each VM's most recently seen anomaly gives its risk.
func (s *SQLiteStore) VMs(ctx context.Context, limit int) ([]VMRisk, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT vm_id, host, risk, severity_rank, id, json_extract(record, '$.vm.name'), last_seen, n, open FROM (
			SELECT vm_id, host, risk, severity_rank, id, record, last_seen,
				row_number() OVER (PARTITION BY vm_id ORDER BY last_seen DESC, updated_at DESC) AS rn,
				count(*) OVER (PARTITION BY vm_id) AS n,
				sum(coalesce(status, scorer_status) IN ('new', 'in_progress')) OVER (PARTITION BY vm_id) AS open
			FROM anomalies)
		WHERE rn = 1 ORDER BY risk DESC, vm_id LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []VMRisk{}
	for rows.Next() {
		var v VMRisk
		var rank int
		var last int64
		var name sql.NullString
		if err := rows.Scan(&v.VMID, &v.Host, &v.RiskScore, &rank, &v.AnomalyID, &name, &last, &v.Anomalies, &v.OpenAnomalies); err != nil {
			return nil, err
		}
		v.Name = name.String
		if rank >= 0 && rank < len(anomaly.Severities) {
			v.Severity = anomaly.Severities[rank]
		}
		v.LastSeen = time.Unix(0, last).UTC()
		out = append(out, v)
	}
	return out, rows.Err()
}

// Scores implements Store.
func (s *SQLiteStore) Scores(ctx context.Context, vm string, since, until time.Time, limit int) ([]ScorePoint, error) {
	q := `SELECT last_seen, risk, coalesce(json_extract(record, '$.anomaly.score'), 0), coalesce(json_extract(record, '$.anomaly.threshold'), 0),
		severity_rank, id, revision FROM revisions WHERE vm_id = ?`
	args := []any{vm}
	if !since.IsZero() {
		q += ` AND last_seen >= ?`
		args = append(args, since.UnixNano())
	}
	if !until.IsZero() {
		q += ` AND last_seen < ?`
		args = append(args, until.UnixNano())
	}
	// The newest limit points, returned oldest first.
	q = `SELECT * FROM (` + q + ` ORDER BY last_seen DESC, id, revision LIMIT ?) ORDER BY 1, 6, 7`
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []ScorePoint{}
	for rows.Next() {
		var p ScorePoint
		var at int64
		var rank int
		if err := rows.Scan(&at, &p.RiskScore, &p.Score, &p.Threshold, &rank, &p.AnomalyID, &p.Revision); err != nil {
			return nil, err
		}
		p.Time = time.Unix(0, at).UTC()
		if rank >= 0 && rank < len(anomaly.Severities) {
			p.Severity = anomaly.Severities[rank]
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// Detectors implements Store.
func (s *SQLiteStore) Detectors(ctx context.Context) ([]DetectorInfo, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT detector_id, json_extract(record, '$.detector.name'), json_extract(record, '$.detector.version'),
			json_extract(record, '$.detector.type'), n, last FROM (
			SELECT detector_id, record, count(*) OVER w AS n, max(last_seen) OVER w AS last,
				row_number() OVER (PARTITION BY detector_id ORDER BY last_seen DESC) AS rn
			FROM anomalies WINDOW w AS (PARTITION BY detector_id))
		WHERE rn = 1 ORDER BY detector_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []DetectorInfo{}
	for rows.Next() {
		var d DetectorInfo
		var name, version, typ sql.NullString
		var last int64
		if err := rows.Scan(&d.ID, &name, &version, &typ, &d.Anomalies, &last); err != nil {
			return nil, err
		}
		d.Name, d.Version, d.Type = name.String, version.String, typ.String
		d.LastSeen = time.Unix(0, last).UTC()
		out = append(out, d)
	}
	return out, rows.Err()
}

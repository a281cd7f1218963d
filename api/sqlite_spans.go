package api

import (
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"time"
)

// IncidentSpan is the time range of one stored anomaly (an incident: its
// first to last anomalous window on one VM) and the analyst's verdict on it
// ("true_positive", "false_positive" or "").
type IncidentSpan struct {
	ID                  string
	VMID                string
	FirstSeen, LastSeen time.Time
	Verdict             string
}

// ReadIncidentSpans reads every anomaly of the store file at path, read-only
// (the serving process may keep writing it), for training to leave the
// attacks out.
func ReadIncidentSpans(path string) ([]IncidentSpan, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("anomaly store: %w (pass the serve process's store file, anomalies.db in its --data-dir)", err)
	}
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?mode=ro&_pragma=busy_timeout(10000)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open anomaly store %s: %w", path, err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT id, vm_id, first_seen, last_seen, verdict FROM anomalies ORDER BY vm_id, first_seen`)
	if err != nil {
		return nil, fmt.Errorf("read anomaly store %s: %w (is it an Escapement store?)", path, err)
	}
	defer rows.Close()
	var out []IncidentSpan
	for rows.Next() {
		var s IncidentSpan
		var first, last int64
		if err := rows.Scan(&s.ID, &s.VMID, &first, &last, &s.Verdict); err != nil {
			return nil, fmt.Errorf("read anomaly store %s: %w", path, err)
		}
		s.FirstSeen, s.LastSeen = time.Unix(0, first).UTC(), time.Unix(0, last).UTC()
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read anomaly store %s: %w", path, err)
	}
	return out, nil
}

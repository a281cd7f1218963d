package api

import (
	"context"
	"errors"
	"time"

	"github.com/escapement/escapement/anomaly"
)

// Sentinel errors of a Store.
var (
	// ErrNotFound: no anomaly with that id.
	ErrNotFound = errors.New("anomaly not found")
	// ErrStale: the caller's ETag is not the stored one (someone changed the
	// anomaly since the caller read it).
	ErrStale = errors.New("anomaly changed since it was read")
)

// Query selects anomalies. Zero fields do not filter.
type Query struct {
	Since        time.Time // last_seen at or after
	Until        time.Time // first_seen before
	UpdatedSince time.Time // updated_at at or after
	SeverityMin  string
	Status       string
	Host         string
	VM           string
	Technique    string // ATT&CK technique id, e.g. T1611
	Detector     string // detector id
	// Revisions lists every stored revision (a change feed) instead of the
	// newest revision of each anomaly.
	Revisions bool
	After     Cursor // exclusive position in (updated_at, id) order
	Limit     int
}

// Cursor is a position in the (updated_at, id) order of a listing.
// UpdatedAt is the store's own clock (nanoseconds since the epoch).
type Cursor struct {
	UpdatedAt int64
	ID        string
}

// Anomaly is a stored anomaly: the record as the API shows it (analyst
// fields merged, updated_at from the store's clock) and its ETag.
type Anomaly struct {
	anomaly.Record
	ETag string `json:"-"`
	// SuppressedBy is the id of the suppression rule that matched this
	// revision when it was stored ("" if none).
	SuppressedBy string `json:"-"`
}

// Ingested is the outcome of Store.Ingest.
type Ingested struct {
	// Stored is false for a revision no newer than the stored one.
	Stored bool
	// Record is rec as stored: Status is suppressed when a rule matched.
	Record anomaly.Record
	// SuppressedBy is the id of the matching active rule, or "".
	SuppressedBy string
}

// Patch is an analyst's change; nil fields are left as they are.
type Patch struct {
	Status   *string `json:"status,omitempty"`
	Assignee *string `json:"assignee,omitempty"`
	Note     *string `json:"note,omitempty"`
	Verdict  *string `json:"verdict,omitempty"`
}

// VMRisk is a VM's current risk: its most recently seen anomaly.
type VMRisk struct {
	VMID          string    `json:"vm_id"`
	Name          string    `json:"name,omitempty"`
	Host          string    `json:"host"`
	RiskScore     float64   `json:"risk_score"`
	Severity      string    `json:"severity"`
	LastSeen      time.Time `json:"last_seen"`
	AnomalyID     string    `json:"anomaly_id"`
	Anomalies     int       `json:"anomalies"`
	OpenAnomalies int       `json:"open_anomalies"`
}

// ScorePoint is one stored revision of an anomaly of a VM: its score at the
// revision's last_seen.
type ScorePoint struct {
	Time      time.Time `json:"time"`
	RiskScore float64   `json:"risk_score"`
	Score     float64   `json:"score"`
	Threshold float64   `json:"threshold"`
	Severity  string    `json:"severity"`
	AnomalyID string    `json:"anomaly_id"`
	Revision  int       `json:"revision"`
}

// DetectorInfo is a detector seen in stored anomalies.
type DetectorInfo struct {
	anomaly.Detector
	Anomalies int       `json:"anomalies"`
	LastSeen  time.Time `json:"last_seen"`
}

// Store keeps anomalies: the newest scorer revision of each, every stored
// revision, and the analyst's fields apart from both.
type Store interface {
	// Upsert stores rec unless a revision at least as new is stored (topic
	// duplicates collapse, an older revision never replaces a newer one);
	// it reports whether rec was stored.
	Upsert(ctx context.Context, rec anomaly.Record) (bool, error)
	// Ingest is Upsert that also applies the active suppression rules: a
	// matching revision is stored with status suppressed and the rule's id.
	Ingest(ctx context.Context, rec anomaly.Record) (Ingested, error)
	// Suppressions returns the rules, oldest first; expired ones only if
	// asked.
	Suppressions(ctx context.Context, withExpired bool) ([]Suppression, error)
	// AddSuppression stores r with a new id and created_at and returns it.
	AddSuppression(ctx context.Context, r Suppression) (Suppression, error)
	// DeleteSuppression removes a rule, or returns ErrRuleNotFound.
	DeleteSuppression(ctx context.Context, id string) error
	// List returns up to q.Limit matching anomalies after q.After in
	// (updated_at, id) order, and whether more follow.
	List(ctx context.Context, q Query) ([]Anomaly, bool, error)
	// Get returns the anomaly with id, or ErrNotFound.
	Get(ctx context.Context, id string) (Anomaly, error)
	// Patch applies p if the stored ETag is ifMatch; ErrStale if it is not,
	// ErrNotFound if there is no such anomaly.
	Patch(ctx context.Context, id string, p Patch, ifMatch string) (Anomaly, error)
	// VMs returns each VM's current risk, riskiest first.
	VMs(ctx context.Context, limit int) ([]VMRisk, error)
	// Scores returns the revisions of vm's anomalies whose last_seen is in
	// [since, until) (zero: unbounded), oldest first.
	Scores(ctx context.Context, vm string, since, until time.Time, limit int) ([]ScorePoint, error)
	// Detectors returns the detectors named by stored anomalies.
	Detectors(ctx context.Context) ([]DetectorInfo, error)
	// Retain deletes anomalies and revisions last updated before cutoff
	// and returns how many anomalies went.
	Retain(ctx context.Context, cutoff time.Time) (int, error)
}

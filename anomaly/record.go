// Package anomaly defines the canonical anomaly record: the JSON document
// Escapement writes to escapement.anomalies.v1 and serves from its API. It sits
// at the bottom of the dependency graph with the event and feature schemas.
//
// A record describes one incident: consecutive anomalous windows of one VM
// folded together. ID is stable across updates; Revision grows as the
// incident changes, and every consumer de-duplicates by (ID, Revision).
package anomaly

import "time"

// Topic is the Kafka topic anomalies travel on (key vm_id, value JSON).
const Topic = "escapement.anomalies.v1"

// SchemaVersion is carried in the escapement-schema header.
const SchemaVersion = "anomalies.v1"

// ContentType of an anomaly message.
const ContentType = "application/json"

// Status of an incident.
const (
	StatusNew        = "new"
	StatusInProgress = "in_progress"
	StatusSuppressed = "suppressed"
	StatusResolved   = "resolved"
)

// Severity bands, lowest first.
var Severities = []string{"info", "low", "medium", "high", "critical"}

// SeverityRank returns the index of s in Severities, or -1.
func SeverityRank(s string) int {
	for i, v := range Severities {
		if v == s {
			return i
		}
	}
	return -1
}

// Record is the canonical anomaly.
type Record struct {
	ID         string    `json:"id"`
	Revision   int       `json:"revision"`
	Status     string    `json:"status"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	FirstSeen  time.Time `json:"first_seen"`
	LastSeen   time.Time `json:"last_seen"`
	Severity   string    `json:"severity"`
	RiskScore  float64   `json:"risk_score"`
	Confidence float64   `json:"confidence"`
	Title      string    `json:"title"`
	Detector   Detector  `json:"detector"`
	Host       string    `json:"host"`
	VM         VM        `json:"vm"`
	Attack     []Attack  `json:"attack"`
	Anomaly    Detail    `json:"anomaly"`
	Links      Links     `json:"links"`

	// Analyst fields: set through the API (PATCH /api/v1/anomalies/{id}),
	// never by the scorer. A store keeps them apart from the scorer's
	// revisions so a new revision does not erase the analyst's work.
	Assignee string `json:"assignee,omitempty"`
	Note     string `json:"note,omitempty"`
	Verdict  string `json:"verdict,omitempty"` // "", VerdictTruePositive or VerdictFalsePositive
}

// Analyst verdicts.
const (
	VerdictTruePositive  = "true_positive"
	VerdictFalsePositive = "false_positive"
)

// ValidStatus reports whether s is one of the Status constants.
func ValidStatus(s string) bool {
	switch s {
	case StatusNew, StatusInProgress, StatusSuppressed, StatusResolved:
		return true
	}
	return false
}

// Detector names the model that produced the record.
type Detector struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Version string `json:"version"`
	Type    string `json:"type"`
}

// VM identifies the guest.
type VM struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	UUID string `json:"uuid,omitempty"`
	VMM  string `json:"vmm,omitempty"`
	PID  int    `json:"pid,omitempty"`
}

// Attack is a MITRE ATT&CK reference.
type Attack struct {
	TacticID      string `json:"tactic_id"`
	TacticName    string `json:"tactic_name"`
	TechniqueID   string `json:"technique_id"`
	TechniqueName string `json:"technique_name"`
}

// EscapeToHost is the ATT&CK reference every Escapement anomaly carries.
var EscapeToHost = Attack{
	TacticID: "TA0004", TacticName: "Privilege Escalation",
	TechniqueID: "T1611", TechniqueName: "Escape to Host",
}

// Detail is the evidence: the scores and the features that drove them.
type Detail struct {
	Score     float64   `json:"score"`
	Threshold float64   `json:"threshold"`
	Window    Window    `json:"window"`
	Windows   int       `json:"windows"` // anomalous windows folded into the incident
	Features  []Feature `json:"features"`
	// Detectors lists the detectors whose calibrated score crossed the
	// threshold (one entry per ensemble member that fired).
	Detectors []string `json:"detectors,omitempty"`
	// Class is the recognised scenario class, when the evidence matches one
	// (e.g. "device_emulation"); empty otherwise.
	Class string `json:"class,omitempty"`
	// VMBaseline lists the features of the evidence window that rose above
	// the VM's own baseline (the per-VM baseline detector): observed, the
	// VM's own level as baseline, and the rise in that detector's units as z.
	VMBaseline []Feature `json:"vm_baseline,omitempty"`
	// NGrams lists the evidence window's n-grams that benign training
	// windows never or rarely held (the sequence detector), rarest first.
	NGrams []NGram `json:"ngrams,omitempty"`
}

// NGram is an unseen or improbable n-gram of exit kinds or VMM system calls.
type NGram struct {
	Stream string `json:"stream"` // "exit" or "syscall"
	Hash   string `json:"hash"`   // 16 hex digits, features.NGramHash
	// Items names the n-gram's exit kinds or x86-64 system calls in order,
	// decoded from the hash (absent when it does not decode).
	Items []string `json:"items,omitempty"`
	Count int      `json:"count"` // occurrences in the window
	// BenignPerMillion is how many benign training windows in a million
	// held it (0: never seen).
	BenignPerMillion float64 `json:"benign_per_million"`
	Surprisal        float64 `json:"surprisal"` // −ln of its smoothed frequency
}

// Window is a time range.
type Window struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Feature is one contributing feature: what was seen against what is normal.
type Feature struct {
	Name     string  `json:"name"`
	Observed float64 `json:"observed"`
	Baseline float64 `json:"baseline"`
	Z        float64 `json:"z"`
}

// Links holds hypermedia links.
type Links struct {
	Self string `json:"self"`
}

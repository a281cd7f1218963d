package render

import (
	"time"

	"github.com/escapement/escapement/anomaly"
)

// Activity of a finding: what this revision does to it.
const (
	ActivityCreate = 1
	ActivityUpdate = 2
	ActivityClose  = 3
)

// Activity returns ActivityCreate for the first revision, ActivityClose
// for a resolved anomaly and ActivityUpdate otherwise.
func Activity(r anomaly.Record) int {
	switch {
	case r.Status == anomaly.StatusResolved:
		return ActivityClose
	case r.Revision <= 1:
		return ActivityCreate
	}
	return ActivityUpdate
}

var activityNames = map[int]string{ActivityCreate: "Create", ActivityUpdate: "Update", ActivityClose: "Close"}

// sevIndex is the record's severity band (0 info .. 4 critical), or -1.
func sevIndex(r anomaly.Record) int { return anomaly.SeverityRank(r.Severity) }

func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// attacks returns the record's ATT&CK references, or Escape to Host when it
// names none.
func attacks(r anomaly.Record) []anomaly.Attack {
	if len(r.Attack) == 0 {
		return []anomaly.Attack{anomaly.EscapeToHost}
	}
	return r.Attack
}

func vmName(r anomaly.Record) string {
	if r.VM.Name != "" {
		return r.VM.Name
	}
	return r.VM.ID
}

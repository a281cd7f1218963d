package outputs

import (
	"context"

	"github.com/escapement/escapement/anomaly"
)

// Output delivers anomaly records to one receiver. Send returns nil only
// once the receiver has accepted rec; it is called from one goroutine at a
// time per Output.
type Output interface {
	// Name identifies the output in the spool, logs and metrics; it must
	// stay the same across restarts for its queue to be found again.
	Name() string
	Send(ctx context.Context, rec anomaly.Record) error
}

// Target is an Output with its filter.
type Target struct {
	Output Output
	// MinSeverity is the lowest severity sent (one of anomaly.Severities;
	// "" sends all).
	MinSeverity string
}

// passes reports whether rec is for t.
func (t Target) passes(rec *anomaly.Record) bool {
	if rec.Status == anomaly.StatusSuppressed {
		return false
	}
	return t.MinSeverity == "" || anomaly.SeverityRank(rec.Severity) >= anomaly.SeverityRank(t.MinSeverity)
}

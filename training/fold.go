package training

import (
	"time"
)

// AlertWindow is one scored window of a VM: its bounds (ns) and whether it
// crossed the alert threshold.
type AlertWindow struct {
	Start, End int64
	Alert      bool
}

// FoldIncidents folds the windows of one VM, in time order, into incidents
// the way the streaming scorer does: consecutive alerting windows form one
// incident, which survives up to gap quiet windows (missing windows count as
// quiet) and ends at the next. A window starting before the end of the
// previous one is ignored (the scorer drops such duplicates). FirstSeen is
// the start of the first alerting window, LastSeen the end of the last.
// Incidents get no ID: Evaluate needs none.
//
// It lets an evaluation ask what one detector alone, or any other alert
// rule, would have raised without building a scorer for it.
func FoldIncidents(vm string, ws []AlertWindow, gap int) []Incident {
	var out []Incident
	var open bool
	var first, last, lastEnd int64
	quiet := 0
	closeAt := func() {
		out = append(out, Incident{VMID: vm, FirstSeen: time.Unix(0, first).UTC(), LastSeen: time.Unix(0, last).UTC()})
		open = false
	}
	for i, w := range ws {
		if i > 0 && w.Start < lastEnd {
			continue
		}
		if win := w.End - w.Start; open && i > 0 && w.Start > lastEnd && win > 0 {
			quiet += int((w.Start - lastEnd) / win)
			if quiet > gap {
				closeAt()
			}
		}
		lastEnd = w.End
		switch {
		case w.Alert && !open:
			open, first, last, quiet = true, w.Start, w.End, 0
		case w.Alert:
			last, quiet = w.End, 0
		case open:
			if quiet++; quiet > gap {
				closeAt()
			}
		}
	}
	if open {
		closeAt()
	}
	return out
}

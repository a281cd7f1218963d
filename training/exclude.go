package training

import (
	"cmp"
	"slices"
	"time"

	"github.com/escapement/escapement/datasets"
	"github.com/escapement/escapement/features"
)

// Reasons a window is left out of training.
const (
	ReasonTruePositive = "true_positive" // inside an incident an analyst marked true_positive
	ReasonIncident     = "incident"      // inside an incident without a verdict
	ReasonLabel        = "label"         // inside a labelled attack (labels file)
)

// Span is a time range of one VM to leave out of training, and why.
type Span struct {
	VMID       string
	Start, End time.Time
	Reason     string
	// LeadWindows also leaves out this many windows before Start: an
	// incident's first anomalous window is not its attack's first one.
	LeadWindows int64
}

// Exclusions answers whether a window lies inside one of its spans. A window
// [start, end) is inside a span when it overlaps [Start − LeadWindows·window
// length, End + SlackWindows·window length): the few windows after an
// incident's last anomalous one are still the attack's (as the evaluator's
// DetectionWindows).
type Exclusions struct {
	byVM map[string][]Span
	// SlackWindows is the number of windows after a span's end still
	// excluded. Default DetectionWindows.
	SlackWindows int64
}

// NewExclusions indexes spans by VM. A window inside spans of several reasons
// counts under the strongest: true_positive, then label, then incident.
func NewExclusions(spans []Span) *Exclusions {
	e := &Exclusions{byVM: map[string][]Span{}, SlackWindows: DetectionWindows}
	for _, s := range spans {
		e.byVM[s.VMID] = append(e.byVM[s.VMID], s)
	}
	for _, ss := range e.byVM {
		slices.SortStableFunc(ss, func(a, b Span) int { return cmp.Compare(a.Start.UnixNano(), b.Start.UnixNano()) })
	}
	return e
}

// Len is the number of spans.
func (e *Exclusions) Len() int {
	n := 0
	for _, ss := range e.byVM {
		n += len(ss)
	}
	return n
}

// Reason returns why r is excluded, or "" when it is kept.
func (e *Exclusions) Reason(r *features.Row) string {
	if e == nil {
		return ""
	}
	ss := e.byVM[r.VMID]
	if len(ss) == 0 {
		return ""
	}
	win := r.End - r.Start
	slack := e.SlackWindows * win
	reason := ""
	for _, s := range ss {
		if s.Start.UnixNano()-s.LeadWindows*win >= r.End {
			continue
		}
		if r.Start < s.End.UnixNano()+slack && (reason == "" || rank(s.Reason) < rank(reason)) {
			reason = s.Reason
		}
	}
	return reason
}

// rank orders reasons from strongest.
func rank(reason string) int {
	switch reason {
	case ReasonTruePositive:
		return 0
	case ReasonLabel:
		return 1
	case ReasonIncident:
		return 2
	}
	return 3
}

// LabelSpans turns labelled attack scenarios into spans; placebos (benign)
// are not excluded.
func LabelSpans(labels []datasets.Label) []Span {
	var out []Span
	for _, l := range labels {
		if !l.Placebo {
			out = append(out, Span{VMID: l.VMID, Start: l.Start, End: l.End, Reason: ReasonLabel})
		}
	}
	return out
}

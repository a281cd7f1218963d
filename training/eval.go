package training

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/escapement/escapement/anomaly"
)

// DetectionWindows is how many windows after a scenario's start an incident
// may open and still count as detecting it.
const DetectionWindows = 3

// ROCAUC returns the area under the ROC curve of scores against labels (true
// = anomalous), by the rank-sum (Mann–Whitney) statistic with ties counted
// half. It panics if the lengths differ and returns NaN when a class is
// empty.
func ROCAUC(scores []float64, labels []bool) float64 {
	if len(scores) != len(labels) {
		panic(fmt.Sprintf("training: %d scores and %d labels", len(scores), len(labels)))
	}
	idx := order(scores)
	var pos, neg, rankSum float64
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && scores[idx[j]] == scores[idx[i]] {
			j++
		}
		mid := float64(i+j+1) / 2 // average 1-based rank of the tie group
		for _, k := range idx[i:j] {
			if labels[k] {
				pos++
				rankSum += mid
			} else {
				neg++
			}
		}
		i = j
	}
	if pos == 0 || neg == 0 {
		return nan()
	}
	return (rankSum - pos*(pos+1)/2) / (pos * neg)
}

// PRAUC returns the average precision of scores against labels: the mean,
// over thresholds at each distinct score from the highest down, of precision
// weighted by the recall gained (tied scores enter together). It returns NaN
// when there are no positives.
func PRAUC(scores []float64, labels []bool) float64 {
	if len(scores) != len(labels) {
		panic(fmt.Sprintf("training: %d scores and %d labels", len(scores), len(labels)))
	}
	idx := order(scores)
	slices.Reverse(idx)
	var total float64
	for _, l := range labels {
		if l {
			total++
		}
	}
	if total == 0 {
		return nan()
	}
	var tp, seen, ap float64
	for i := 0; i < len(idx); {
		j := i
		gained := 0.0
		for j < len(idx) && scores[idx[j]] == scores[idx[i]] {
			if labels[idx[j]] {
				gained++
			}
			j++
		}
		tp += gained
		seen += float64(j - i)
		ap += gained / total * tp / seen
		i = j
	}
	return ap
}

func order(scores []float64) []int {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(scores[a], scores[b]) })
	return idx
}

func nan() float64 { var z float64; return z / z }

// Scenario is one injected behaviour of an evaluation run (mirrors the
// simulator's and the lab's scenario lists). Placebo scenarios run benign
// look-alikes and count as benign.
type Scenario struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Class     string    `json:"class"`
	Intensity string    `json:"intensity"` // flood, stealthy or placebo
	VMID      string    `json:"vm_id"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Placebo   bool      `json:"placebo"`
}

// Incident is what the scorer raised: one per anomaly ID.
type Incident struct {
	ID        string
	VMID      string
	FirstSeen time.Time
	LastSeen  time.Time
	Severity  string
	Class     string
}

// IncidentsFromRecords folds anomaly records into incidents, keeping the
// highest revision of each ID; the result is ordered by first_seen, then ID.
func IncidentsFromRecords(recs []anomaly.Record) []Incident {
	best := map[string]anomaly.Record{}
	for _, r := range recs {
		if b, ok := best[r.ID]; !ok || r.Revision > b.Revision {
			best[r.ID] = r
		}
	}
	out := make([]Incident, 0, len(best))
	for _, r := range best {
		out = append(out, Incident{ID: r.ID, VMID: r.VM.ID, FirstSeen: r.FirstSeen, LastSeen: r.LastSeen, Severity: r.Severity, Class: r.Anomaly.Class})
	}
	slices.SortFunc(out, func(a, b Incident) int {
		return cmp.Or(a.FirstSeen.Compare(b.FirstSeen), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// EvalInput is what Evaluate measures.
type EvalInput struct {
	Scenarios []Scenario
	Incidents []Incident
	Window    time.Duration // window length (for the detection deadline)
	VMDays    float64       // VM-days observed (for false alerts per VM-day)
	// Optional per-window scores with labels (true = inside a non-placebo
	// scenario) for ROC-AUC and PR-AUC.
	Scores []float64
	Labels []bool
}

// ScenarioResult is the outcome of one scenario.
type ScenarioResult struct {
	Scenario Scenario
	Detected bool
	Delay    time.Duration // first_seen − start of the detecting incident (≥ 0)
	Incident string        // ID of the detecting incident
}

// Report is the result of Evaluate.
type Report struct {
	Scenarios           []ScenarioResult
	Detected            int // non-placebo scenarios detected
	Attacks             int // non-placebo scenarios
	DetectionRate       float64
	MeanDelay           time.Duration // over detected scenarios
	FalseAlerts         int           // incidents not overlapping an active non-placebo scenario
	FalseAlertsPerVMDay float64
	ROCAUC, PRAUC       float64 // NaN without scores
}

// Evaluate matches incidents to scenarios. A non-placebo scenario is
// detected by an incident on its VM with first_seen ≤ start + 3 windows and
// last_seen ≥ start. An incident is a true alert when it overlaps an active
// non-placebo scenario on its VM (from start to end + 3 windows) and a false
// alert otherwise; placebo scenarios never excuse an incident.
func Evaluate(in EvalInput) Report {
	slack := time.Duration(DetectionWindows) * in.Window
	var r Report
	var delays time.Duration
	for _, s := range in.Scenarios {
		res := ScenarioResult{Scenario: s}
		if !s.Placebo {
			r.Attacks++
			for _, inc := range in.Incidents {
				if inc.VMID != s.VMID || inc.FirstSeen.After(s.Start.Add(slack)) || inc.LastSeen.Before(s.Start) {
					continue
				}
				d := max(inc.FirstSeen.Sub(s.Start), 0)
				if !res.Detected || d < res.Delay {
					res.Detected, res.Delay, res.Incident = true, d, inc.ID
				}
			}
			if res.Detected {
				r.Detected++
				delays += res.Delay
			}
		}
		r.Scenarios = append(r.Scenarios, res)
	}
	for _, inc := range in.Incidents {
		explained := false
		for _, s := range in.Scenarios {
			if !s.Placebo && s.VMID == inc.VMID && !inc.LastSeen.Before(s.Start) && !inc.FirstSeen.After(s.End.Add(slack)) {
				explained = true
				break
			}
		}
		if !explained {
			r.FalseAlerts++
		}
	}
	if r.Attacks > 0 {
		r.DetectionRate = float64(r.Detected) / float64(r.Attacks)
	}
	if r.Detected > 0 {
		r.MeanDelay = delays / time.Duration(r.Detected)
	}
	if in.VMDays > 0 {
		r.FalseAlertsPerVMDay = float64(r.FalseAlerts) / in.VMDays
	}
	r.ROCAUC, r.PRAUC = nan(), nan()
	if len(in.Scores) > 0 {
		r.ROCAUC, r.PRAUC = ROCAUC(in.Scores, in.Labels), PRAUC(in.Scores, in.Labels)
	}
	return r
}

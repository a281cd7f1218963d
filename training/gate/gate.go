package gate

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/escapement/escapement/anomaly"
	"github.com/escapement/escapement/features"
	"github.com/escapement/escapement/models"
	"github.com/escapement/escapement/scoring"
	"github.com/escapement/escapement/training"
)

// DefaultGateAlpha is the significance of the gate's alert-rate test.
const DefaultGateAlpha = 0.01

// GateConfig tunes the champion/challenger gate.
type GateConfig struct {
	// Budget is the false incidents per VM-day the challenger may raise on
	// benign data; 0 takes the challenger's calibrated budget.
	Budget float64
	// Alpha: the challenger is refused when its false incidents on benign
	// data would be that unlikely (one-sided Poisson) under the budget
	// (default DefaultGateAlpha).
	Alpha float64
	// Scorer configures the scorers (as the running scorer is configured).
	Scorer scoring.Config
}

// Measurement is what the gate measured of one model.
type Measurement struct {
	Version  string
	Detected int // attacks of the suite (and true-positive verdicts) detected
	Attacks  int
	Recall   float64 // Detected / Attacks (1 without attacks)
	// FalseAlerts are incidents on benign windows of the model's platform,
	// over VMDays of them.
	FalseAlerts int
	VMDays      float64
	AlertRate   float64  // FalseAlerts / VMDays
	Missed      []string // "name/intensity@vm" of the attacks not detected
}

// Metrics returns the measurement as history metrics.
func (m Measurement) Metrics() map[string]float64 {
	return map[string]float64{"recall": m.Recall, "detected": float64(m.Detected), "attacks": float64(m.Attacks),
		"false_alerts": float64(m.FalseAlerts), "benign_vm_days": m.VMDays, "alerts_per_vm_day": m.AlertRate}
}

// GateResult is the gate's decision.
type GateResult struct {
	Challenger Measurement
	Champion   *Measurement // nil when there is no champion
	Budget     float64      // false incidents per VM-day
	// AllowedAlerts is the most false incidents on the benign data the
	// budget explains at Alpha.
	AllowedAlerts int
	Pass          bool
	Reason        string // why it passed or was refused, for the history
}

// Gate measures the challenger (and the champion, when not nil) on the same
// evaluation sets and decides: the challenger passes when its recall on the
// sets' attacks is at least the champion's and its false incidents on the
// benign windows of its platform are within the budget (not significantly
// above Budget × VM-days, one-sided Poisson test at Alpha). Both models
// score each set in one pass over its rows.
func Gate(champion, challenger *models.Artifact, sets []EvalSet, cfg GateConfig) (GateResult, error) {
	if cfg.Alpha <= 0 || cfg.Alpha >= 1 {
		cfg.Alpha = DefaultGateAlpha
	}
	if cfg.Budget <= 0 {
		cfg.Budget = challenger.Manifest.BudgetPerVMDay
	}
	arts := []*models.Artifact{challenger}
	if champion != nil {
		arts = append(arts, champion)
	}
	ms, err := Measure(arts, sets, cfg.Scorer)
	if err != nil {
		return GateResult{}, err
	}
	r := GateResult{Challenger: ms[0], Budget: cfg.Budget}
	if champion != nil {
		r.Champion = &ms[1]
	}
	r.AllowedAlerts = PoissonAllowed(cfg.Budget*r.Challenger.VMDays, cfg.Alpha)
	c := r.Challenger
	recallOK := r.Champion == nil || c.Recall >= r.Champion.Recall
	alertsOK := c.FalseAlerts <= r.AllowedAlerts
	r.Pass = recallOK && alertsOK
	champ := "no champion"
	if r.Champion != nil {
		champ = fmt.Sprintf("champion %s %d/%d", r.Champion.Version, r.Champion.Detected, r.Champion.Attacks)
	}
	alerts := fmt.Sprintf("%d false incidents in %.3f benign VM-days (%.2f/VM-day; budget %.2g/VM-day allows %d)",
		c.FalseAlerts, c.VMDays, c.AlertRate, cfg.Budget, r.AllowedAlerts)
	switch {
	case r.Pass:
		r.Reason = fmt.Sprintf("recall %d/%d ≥ %s; %s", c.Detected, c.Attacks, champ, alerts)
	case !recallOK && !alertsOK:
		r.Reason = fmt.Sprintf("recall dropped: %d/%d < %s; and alert rate over budget: %s", c.Detected, c.Attacks, champ, alerts)
	case !recallOK:
		r.Reason = fmt.Sprintf("recall dropped: %d/%d < %s (newly missed: %s)", c.Detected, c.Attacks, champ, newlyMissed(c.Missed, r.Champion.Missed, 5))
	default:
		r.Reason = "alert rate over budget: " + alerts
	}
	return r, nil
}

// newlyMissed lists up to n attacks missed by the challenger that the
// champion detected, and how many more there are.
func newlyMissed(challenger, champion []string, n int) string {
	var out []string
	for _, m := range challenger {
		if !slices.Contains(champion, m) {
			out = append(out, m)
		}
	}
	if len(out) > n {
		return fmt.Sprintf("%s and %d more", strings.Join(out[:n], ", "), len(out)-n)
	}
	return strings.Join(out, ", ")
}

// Measure scores every set with each model (one pass over each set's rows)
// and returns per model its recall on the sets' attacks and its false
// incidents on the benign windows of its platform.
func Measure(arts []*models.Artifact, sets []EvalSet, cfg scoring.Config) ([]Measurement, error) {
	ms := make([]Measurement, len(arts))
	for i, a := range arts {
		ms[i].Version = a.Manifest.ModelVersion
	}
	for _, set := range sets {
		window := set.Window
		if window <= 0 {
			window = time.Second
		}
		scorers := make([]*scoring.Scorer, len(arts))
		recs := make([][]anomaly.Record, len(arts))
		for i, a := range arts {
			scorers[i] = scoring.NewScorer(a, cfg, nil, nil)
		}
		windows := 0
		err := set.Read(func(rows []features.Row) error {
			for _, r := range rows {
				windows++
				for i, s := range scorers {
					out, err := s.Score(r)
					if err != nil {
						return fmt.Errorf("evaluation set %s: %w", set.Name, err)
					}
					recs[i] = append(recs[i], out...)
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		vmDays := float64(windows) * window.Seconds() / 86400
		for i, s := range scorers {
			recs[i] = s.Expire(time.Unix(0, math.MaxInt64), recs[i])
			rep := training.Evaluate(training.EvalInput{Scenarios: set.Labels, Incidents: training.IncidentsFromRecords(recs[i]), Window: window, VMDays: vmDays})
			m := &ms[i]
			m.Detected += rep.Detected
			m.Attacks += rep.Attacks
			for _, sr := range rep.Scenarios {
				if !sr.Scenario.Placebo && !sr.Detected {
					m.Missed = append(m.Missed, fmt.Sprintf("%s/%s@%s", sr.Scenario.Name, sr.Scenario.Intensity, sr.Scenario.VMID))
				}
			}
			if set.AlertRate && (set.Platform == "" || set.Platform == arts[i].Manifest.Platform) {
				m.FalseAlerts += rep.FalseAlerts
				m.VMDays += vmDays
			}
		}
	}
	for i := range ms {
		m := &ms[i]
		m.Recall = 1
		if m.Attacks > 0 {
			m.Recall = float64(m.Detected) / float64(m.Attacks)
		}
		if m.VMDays > 0 {
			m.AlertRate = float64(m.FalseAlerts) / m.VMDays
		}
	}
	return ms, nil
}

// PoissonAllowed returns the largest count k such that a Poisson variable
// of mean lambda reaches k or more with probability ≥ alpha: the most false
// incidents a model meeting its budget plausibly raises.
func PoissonAllowed(lambda, alpha float64) int {
	if lambda <= 0 {
		return 0
	}
	// P(N ≥ k) = 1 − P(N ≤ k−1); walk k up while it stays ≥ alpha.
	p := math.Exp(-lambda) // P(N = 0)
	cdf := 0.0             // P(N ≤ k−1)
	k := 0
	for {
		if 1-(cdf+p) < alpha { // P(N ≥ k+1) < alpha
			return k
		}
		cdf += p
		k++
		p *= lambda / float64(k)
	}
}

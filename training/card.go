package training

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/escapement/escapement/models"
	"github.com/escapement/escapement/models/drift"
)

// Model card file names, written into the artifact directory.
const (
	CardJSON     = models.CardJSONFile
	CardMarkdown = models.CardMarkdownFile
)

// Card describes a trained model for the people who promote it: what it was
// trained on, how each detector's tail was fitted, the score distribution on
// held-out windows, the alert rate to expect, and how far its training data
// moved from the previous model's.
type Card struct {
	ModelVersion string         `json:"model_version"`
	CreatedAt    time.Time      `json:"created_at"`
	Platform     string         `json:"platform"`
	Data         CardData       `json:"data"`
	Rows         CardRows       `json:"rows"`
	Detectors    []CardDetector `json:"detectors"`
	Ensemble     CardDetector   `json:"ensemble"`
	// ExpectedIncidentsPerVMDay is the false incident rate the fitted tail
	// predicts at the threshold (the budget when calibration succeeded).
	ExpectedIncidentsPerVMDay float64 `json:"expected_incidents_per_vm_day"`
	BudgetPerVMDay            float64 `json:"budget_per_vm_day"`
	// WindowAlertRate is the share of benign windows above the threshold.
	WindowAlertRate float64    `json:"window_alert_rate"`
	Drift           *CardDrift `json:"drift_vs_previous,omitempty"`
	DriftNote       string     `json:"drift_note,omitempty"`
}

// CardData is the range and origin of the training data.
type CardData struct {
	Source string    `json:"source"`
	Since  time.Time `json:"since,omitzero"` // as asked
	Until  time.Time `json:"until,omitzero"`
	From   time.Time `json:"from"` // as found
	To     time.Time `json:"to"`
}

// CardRows counts windows at each step.
type CardRows struct {
	Read       int64            `json:"read"`
	Excluded   map[string]int64 `json:"excluded"`
	Kept       int64            `json:"kept"`
	Fitted     int              `json:"fitted"`
	HeldOut    int              `json:"held_out"`
	VMs        int              `json:"vms"`
	HeldOutVMs int              `json:"held_out_vms"`
	HoldoutBy  string           `json:"holdout_by"`
	SampledFit string           `json:"sampled_fit"` // "kept of seen"
	SampledHO  string           `json:"sampled_held_out"`
}

// CardDetector is one detector's (or the ensemble's) calibration.
type CardDetector struct {
	Name          string     `json:"name"`
	Method        string     `json:"method"` // empirical or gpd
	Threshold     float64    `json:"threshold"`
	Tail          models.GPD `json:"tail"`
	ExtremalIndex float64    `json:"extremal_index"`
	HeldOutWindow int        `json:"held_out_windows"`
	// CrossFitted: the ensemble's threshold was set on cross-fitted scores
	// (models.Calibration.CrossFitted).
	CrossFitted bool `json:"cross_fitted,omitempty"`
	// Quantiles are p50, p90, p99 and max, read off the calibration's
	// 257-point quantile table (finer ones it cannot resolve).
	Quantiles map[string]float64 `json:"held_out_quantiles"`
}

// CardDrift is the PSI of every feature of the new training sample on the
// previous model's reference bins.
type CardDrift struct {
	PreviousVersion string             `json:"previous_version"`
	PSI             map[string]float64 `json:"psi"`
	Max             float64            `json:"max"`
	Moderate        int                `json:"moderate"` // features with 0.1 ≤ PSI < 0.25
	Major           int                `json:"major"`    // features with PSI ≥ 0.25
}

// BuildCard assembles the card of a, trained as rep says on src. previous
// may be nil or lack a drift reference (DriftNote then says why there is no
// comparison); the PSI against it is rep.PreviousPSI (StreamConfig.Previous
// must have been previous.Drift).
func BuildCard(a *models.Artifact, rep *StreamReport, src string, since, until time.Time, previous *models.Artifact) *Card {
	m := &a.Manifest
	c := &Card{
		ModelVersion: m.ModelVersion, CreatedAt: m.CreatedAt, Platform: m.Platform,
		Data: CardData{Source: src, Since: since, Until: until, From: m.Training.From, To: m.Training.To},
		Rows: CardRows{
			Fitted: m.Training.Rows, HeldOut: m.Training.HoldoutRows, VMs: m.Training.VMs + m.Training.HoldoutVMs,
			HeldOutVMs: m.Training.HoldoutVMs, HoldoutBy: m.Training.HoldoutBy, Excluded: map[string]int64{},
		},
		BudgetPerVMDay: m.BudgetPerVMDay,
	}
	if rep != nil {
		c.Data.From, c.Data.To = rep.From, rep.To
		c.Rows.Read, c.Rows.Excluded, c.Rows.Kept = rep.Read, rep.Excluded, rep.Sample.Seen
		c.Rows.SampledFit = fmt.Sprintf("%d of %d", rep.Sample.KeptFit, rep.Sample.SeenFit)
		c.Rows.SampledHO = fmt.Sprintf("%d of %d", rep.Sample.KeptHoldout, rep.Sample.SeenHoldout)
		if rep.HoldoutBy == HoldoutByTime {
			c.Rows.SampledFit = fmt.Sprintf("%d of %d (split by time afterwards)", rep.Sample.KeptFit+rep.Sample.KeptHoldout, rep.Sample.Seen)
			c.Rows.SampledHO = ""
		}
	}
	for i, d := range a.Detectors {
		c.Detectors = append(c.Detectors, cardDetector(d.Name(), &m.Calibration.Detectors[i]))
	}
	al := &m.Calibration.Alert
	c.Ensemble = cardDetector("ensemble", al)
	c.ExpectedIncidentsPerVMDay = al.IncidentRate(al.Threshold)
	c.WindowAlertRate = al.TailProb(al.Threshold)
	switch {
	case previous == nil:
		c.DriftNote = "no previous model given"
	case previous.Drift == nil:
		c.DriftNote = fmt.Sprintf("previous model %s has no drift reference (trained before drift references were stored)", previous.Manifest.ModelVersion)
	case !slices.Equal(previous.Drift.Features, m.FeatureNames):
		c.DriftNote = fmt.Sprintf("previous model %s has other features: no comparison", previous.Manifest.ModelVersion)
	case rep == nil || len(rep.PreviousPSI) != len(m.FeatureNames):
		c.DriftNote = "the training data was not compared with the previous model"
	default:
		psi := rep.PreviousPSI
		d := &CardDrift{PreviousVersion: previous.Manifest.ModelVersion, PSI: map[string]float64{}}
		for j, p := range psi {
			d.PSI[previous.Drift.Features[j]] = p
			d.Max = max(d.Max, p)
			switch drift.Level(p) {
			case "moderate":
				d.Moderate++
			case "major":
				d.Major++
			}
		}
		c.Drift = d
	}
	return c
}

func cardDetector(name string, cal *models.Calibration) CardDetector {
	d := CardDetector{
		Name: name, Method: cal.Method, Threshold: cal.Threshold, Tail: cal.Tail,
		ExtremalIndex: cal.ExtremalIndex, HeldOutWindow: cal.Windows, Quantiles: map[string]float64{}, CrossFitted: cal.CrossFitted,
	}
	q := cal.Quantiles
	if len(q) > 1 {
		at := func(p float64) float64 { return q[int(p*float64(len(q)-1)+0.5)] }
		for _, p := range []struct {
			k string
			v float64
		}{{"p50", 0.5}, {"p90", 0.9}, {"p99", 0.99}, {"max", 1}} {
			d.Quantiles[p.k] = at(p.v)
		}
	}
	return d
}

// Write writes model-card.json and model-card.md into dir.
func (c *Card) Write(dir string) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, CardJSON), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write model card: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, CardMarkdown), []byte(c.Markdown()), 0o644); err != nil {
		return fmt.Errorf("write model card: %w", err)
	}
	return nil
}

// Markdown renders the card for people.
func (c *Card) Markdown() string {
	var b strings.Builder
	f := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	f("# Model %s\n\nCreated %s, platform %s.\n\n", c.ModelVersion, c.CreatedAt.Format(time.RFC3339), c.Platform)
	f("## Data\n\nSource `%s`", c.Data.Source)
	if !c.Data.Since.IsZero() || !c.Data.Until.IsZero() {
		f(", asked for window starts in [%s, %s)", fmtTime(c.Data.Since), fmtTime(c.Data.Until))
	}
	f("; windows found from %s to %s.\n\n", fmtTime(c.Data.From), fmtTime(c.Data.To))
	f("| rows | count |\n|---|---|\n| read | %d |\n", c.Rows.Read)
	reasons := make([]string, 0, len(c.Rows.Excluded))
	for r := range c.Rows.Excluded {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	for _, r := range reasons {
		f("| excluded: %s | %d |\n", r, c.Rows.Excluded[r])
	}
	f("| kept | %d |\n| fitted (sampled %s) | %d |\n", c.Rows.Kept, c.Rows.SampledFit, c.Rows.Fitted)
	if c.Rows.SampledHO != "" {
		f("| held out for calibration (sampled %s) | %d |\n", c.Rows.SampledHO, c.Rows.HeldOut)
	} else {
		f("| held out for calibration | %d |\n", c.Rows.HeldOut)
	}
	f("\n%d VMs, %d of them held out (split by %s).\n\n", c.Rows.VMs, c.Rows.HeldOutVMs, c.Rows.HoldoutBy)
	f("## Detectors (held-out scores)\n\n| detector | method | threshold | tail u / ξ / σ (n) | extremal index | windows | p50 | p90 | p99 | max |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, d := range append(slices.Clip(c.Detectors), c.Ensemble) {
		f("| %s | %s | %.4g | %.4g / %.3f / %.4g (%d) | %.3f | %d | %.4g | %.4g | %.4g | %.4g |\n", d.Name, d.Method, d.Threshold,
			d.Tail.U, d.Tail.Xi, d.Tail.Sigma, d.Tail.N, d.ExtremalIndex, d.HeldOutWindow,
			d.Quantiles["p50"], d.Quantiles["p90"], d.Quantiles["p99"], d.Quantiles["max"])
	}
	f("\n## Alert rate\n\nBudget %.3g false incidents per VM-day; the fitted tail predicts %.3g at the threshold (%.3g of benign windows above it). %s\n\n",
		c.BudgetPerVMDay, c.ExpectedIncidentsPerVMDay, c.WindowAlertRate, alertScoresNote(c.Ensemble.CrossFitted))
	f("## Drift against the previous model\n\n")
	if c.Drift == nil {
		f("%s.\n", c.DriftNote)
		return b.String()
	}
	f("Previous model %s. PSI of the new training data on the previous model's bins: max %.3f; %d features moderate (0.1–0.25), %d major (≥ 0.25).\n\n",
		c.Drift.PreviousVersion, c.Drift.Max, c.Drift.Moderate, c.Drift.Major)
	f("| feature | PSI | level |\n|---|---|---|\n")
	names := make([]string, 0, len(c.Drift.PSI))
	for n := range c.Drift.PSI {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		if c.Drift.PSI[names[i]] != c.Drift.PSI[names[j]] {
			return c.Drift.PSI[names[i]] > c.Drift.PSI[names[j]]
		}
		return names[i] < names[j]
	})
	for _, n := range names {
		f("| %s | %.3f | %s |\n", n, c.Drift.PSI[n], drift.Level(c.Drift.PSI[n]))
	}
	return b.String()
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "open"
	}
	return t.UTC().Format(time.RFC3339)
}

// alertScoresNote says how the ensemble scores the alert threshold was set on
// were made.
func alertScoresNote(crossFitted bool) string {
	if crossFitted {
		return "The threshold was set on cross-fitted ensemble scores (two folds of the held-out windows, each scored through detector calibrations fitted on the other)."
	}
	return fmt.Sprintf("The threshold was set on in-sample ensemble scores: the held-out data was too small for two folds of "+
		"%d windows each, so it may sit low for VMs the calibration never saw; hold out more (--holdout) or train on a longer range.", models.MinCalibrationWindows)
}

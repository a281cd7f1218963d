package gate_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/collectors/sim"
	"github.com/escapement/escapement/datasets"
	"github.com/escapement/escapement/features"
	"github.com/escapement/escapement/models"
	"github.com/escapement/escapement/models/defaultmodel"
	"github.com/escapement/escapement/scoring"
	"github.com/escapement/escapement/training"
	"github.com/escapement/escapement/training/gate"
)

// suiteDir is the committed attack suite (scripts/gen-suite).
const suiteDir = "../../datasets/suite"

// trainingRows simulates a fleet with attack scenarios of every class and
// returns its rows split into the benign ones and those inside a flood or a
// stealthy scenario (three windows of slack after its end, as escapement
// train excludes them).
func trainingRows(t *testing.T) (benign, flood, stealthy []features.Row) {
	t.Helper()
	dir := t.TempDir()
	_, err := datasets.GenerateSim(context.Background(), dir, sim.Config{Seed: 313131, VMs: 16, Duration: 30 * time.Minute,
		Start: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC), Scenarios: 32, Placebos: 4}, datasets.GenerateOptions{}, nil)
	require.NoError(t, err)
	labels, err := datasets.ReadLabels(dir)
	require.NoError(t, err)
	slack := int64(training.DetectionWindows) * int64(time.Second)
	inside := func(r features.Row) string {
		for _, l := range labels {
			if !l.Placebo && l.VMID == r.VMID && r.End > l.Start.UnixNano() && r.Start < l.End.UnixNano()+slack {
				return l.Intensity
			}
		}
		return ""
	}
	err = datasets.ReadFeatures(filepath.Join(dir, datasets.FeaturesFile), func(_ []string, rows []features.Row) error {
		for _, r := range rows {
			r.NGrams = nil
			switch inside(r) {
			case sim.Flood:
				flood = append(flood, r)
			case sim.Stealthy:
				stealthy = append(stealthy, r)
			default:
				benign = append(benign, r)
			}
		}
		return nil
	})
	require.NoError(t, err)
	require.NotEmpty(t, flood)
	require.NotEmpty(t, stealthy)
	return benign, flood, stealthy
}

func fit(t *testing.T, rows []features.Row, seed uint64) *models.Artifact {
	t.Helper()
	a, err := training.Fit(rows, features.Names(), training.TrainConfig{Seed: seed, Trees: 50})
	require.NoError(t, err)
	return a
}

// TestGateRefusesPoisonedChallenger: an attacker who works slowly (short
// episodes of every technique, spread over the VMs and the whole training
// period: about 5 % of the windows, none of them labelled) gets their
// activity learned as normal by a model retrained on that data. The gate
// must refuse it because its recall on the committed suite drops, while a
// challenger retrained on clean data passes.
func TestGateRefusesPoisonedChallenger(t *testing.T) {
	suite, err := gate.LoadSuite(suiteDir, features.Names())
	require.NoError(t, err)
	benign, flood, stealthy := trainingRows(t)
	attack := append(slices.Clone(flood), stealthy...)
	t.Logf("training data: %d benign windows, %d attack windows (%.1f %%)", len(benign), len(attack), 100*float64(len(attack))/float64(len(benign)+len(attack)))

	champion := fit(t, benign, 3)
	// The poisoned rows keep each VM's time order: the attack episodes sit
	// where they happened.
	poisoned := append(append([]features.Row(nil), benign...), attack...)

	tests := []struct {
		name      string
		challenge *models.Artifact
		pass      bool
		reason    string
	}{
		{"clean retrain passes", fit(t, benign, 2), true, "recall"},
		{"poisoned retrain refused", fit(t, poisoned, 3), false, "recall dropped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := gate.Gate(champion, tt.challenge, suite, gate.GateConfig{})
			require.NoError(t, err)
			t.Logf("%s: %s", tt.name, r.Reason)
			require.Equal(t, tt.pass, r.Pass, r.Reason)
			require.Contains(t, r.Reason, tt.reason)
			require.Positive(t, r.Champion.Attacks)
			require.Equal(t, r.Champion.Attacks, r.Challenger.Attacks, "both measured on the same suite")
			require.Positive(t, r.Challenger.VMDays, "the suite's benign windows of the sim platform count")
			if !tt.pass {
				require.Less(t, r.Challenger.Recall, r.Champion.Recall)
			}
		})
	}
}

func TestPoissonAllowed(t *testing.T) {
	tests := []struct {
		lambda, alpha float64
		want          int
	}{
		{0, 0.01, 0},
		{0.1, 0.01, 1}, // P(N≥1)=0.095, P(N≥2)=0.0047
		{0.1, 0.1, 0},  // P(N≥1)=0.095 < 0.1
		{1, 0.01, 4},   // P(N≥4)=0.019, P(N≥5)=0.0037
		{10, 0.01, 18}, // P(N≥18)=0.0143, P(N≥19)=0.0072
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, gate.PoissonAllowed(tt.lambda, tt.alpha), "lambda %v alpha %v", tt.lambda, tt.alpha)
	}
}

// TestBenignDataAndVerdicts measures the built-in model on a time range of
// a dataset given as benign data, then with analyst verdicts added: a false
// positive verdict over a detected attack turns its incident into a false
// one, a true positive verdict is one more attack to detect.
func TestBenignDataAndVerdicts(t *testing.T) {
	model, err := defaultmodel.Load(models.SchemaHash(features.Names()), features.Names())
	require.NoError(t, err)
	dir := filepath.Join(suiteDir, "sim")
	m, err := datasets.ReadManifest(dir)
	require.NoError(t, err)
	since, until := m.Start.Add(5*time.Minute), m.Start.Add(10*time.Minute)
	set, err := gate.LoadBenign(dir, features.Names(), since, until)
	require.NoError(t, err)
	require.True(t, set.AlertRate)
	for _, l := range set.Labels {
		require.True(t, l.End.After(since) && l.Start.Before(until), "label %s outside the range", l.ID)
	}

	base, err := gate.Measure([]*models.Artifact{model}, []gate.EvalSet{set}, scoring.Config{})
	require.NoError(t, err)
	b := base[0]
	require.InDelta(t, float64(m.VMs)*300/86400, b.VMDays, 1e-9, "only the windows in range are read")
	require.Positive(t, b.Detected)

	// The analyst marks the first detected attack a false positive and
	// confirms an interval on which the model raised nothing.
	var detected training.Scenario
	for _, l := range set.Labels {
		if !l.Placebo && l.Intensity == sim.Flood && l.Start.After(since) && l.End.Before(until) && !slices.Contains(b.Missed, l.Name+"/"+l.Intensity+"@"+l.VMID) {
			detected = l
			break
		}
	}
	var labels []training.Scenario
	for _, l := range set.Labels {
		if l.ID == detected.ID {
			l.Placebo, l.Intensity = true, "false_positive"
		}
		labels = append(labels, l)
	}
	quiet := training.Scenario{ID: "verdict-tp", VMID: "no-such-vm", Start: since, End: since.Add(10 * time.Second), Intensity: "true_positive"}
	set.Labels = append(labels, quiet)
	got, err := gate.Measure([]*models.Artifact{model}, []gate.EvalSet{set}, scoring.Config{})
	require.NoError(t, err)
	g := got[0]
	require.Equal(t, b.Attacks, g.Attacks, "one attack fewer, one verdict more")
	require.Equal(t, b.Detected-1, g.Detected)
	require.Equal(t, b.FalseAlerts+1, g.FalseAlerts)
	require.Contains(t, g.Missed, "/true_positive@no-such-vm")
	require.NotEmpty(t, detected.ID)
}

package models

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/escapement/escapement/models/internal/check"
)

// Calibration defaults.
const (
	DefaultBudget       = 1.0  // false incidents per VM-day
	DefaultGapWindows   = 1    // quiet windows an incident survives
	DefaultTailFraction = 0.05 // share of held-out windows above the POT threshold
	DefaultMinClusters  = 10   // incidents the held-out data must show to trust it alone
	DefaultQuantiles    = 257  // size of the stored score quantile table
	// MinCalibrationWindows is the fewest held-out windows Calibrate accepts.
	MinCalibrationWindows = 200
	// RiskAtThreshold is the risk score of a window exactly at the threshold.
	RiskAtThreshold = 60.0
	secondsPerDay   = 86400.0
)

// ErrTooFewWindows reports a held-out set too small to calibrate on.
var ErrTooFewWindows = fmt.Errorf("too few held-out windows to calibrate (need at least %d): hold out more data", MinCalibrationWindows)

// CalibrationConfig sets how Calibrate turns an alert budget into a threshold.
type CalibrationConfig struct {
	WindowSeconds float64 // window length; required
	Budget        float64 // target false incidents per VM-day; 0 = DefaultBudget
	GapWindows    int     // quiet windows an incident survives (as in the scorer); <0 = 0, 0 = DefaultGapWindows
	TailFraction  float64 // 0 = DefaultTailFraction
	MinClusters   int     // 0 = DefaultMinClusters
	Quantiles     int     // 0 = DefaultQuantiles
	// MinTailScale, when positive, marks scores on a log scale (see
	// TailScaler): the tail is exponential (shape ξ capped at 0) and, when
	// too few scores exceed u to fit one, its scale is at least
	// MinTailScale; 0 = a fitted shape, no floor.
	MinTailScale float64
	// ExpTail fits the exponential tail (ξ = 0, scale = the mean excess)
	// instead of the generalised Pareto: for scores whose top values are a
	// few discrete levels (counts of events a VM had not done), where a
	// PWM fit over a thin held-out set reads the jumps as a heavy tail.
	ExpTail bool
}

// TailScaler is implemented by detectors whose scores are already on a log
// scale with a natural unit (zmax: rises in log1p units of a raw rate).
// Their calibrated tail is exponential: a power-law (ξ > 0) tail of a log
// score would call a rise of any size unremarkable, and one benign held-out
// outlier was enough to fit one and make every flood look ordinary. When
// too few held-out scores exceed the POT threshold to fit anything, the
// assumed exponential's scale is at least MinTailScale score units: without
// a floor, a handful of tiny exceedances yields a tail so steep that the
// first benign window a little past them looks like a flood.
type TailScaler interface {
	MinTailScale() float64
}

// GPD is a generalised Pareto tail fitted to the exceedances over U:
// P(S > s) = Zeta · (1 + Xi·(s−U)/Sigma)^(−1/Xi) for s > U (exp(−(s−U)/Sigma)
// when Xi = 0). N is the number of exceedances it was fitted on; N = 0 means
// no tail was fitted.
type GPD struct {
	U     float64 `json:"u"`
	Zeta  float64 `json:"zeta"`
	Xi    float64 `json:"xi"`
	Sigma float64 `json:"sigma"`
	N     int     `json:"n"`
}

// Survival returns P(Y > y) of the excess distribution (without Zeta).
func (g GPD) Survival(y float64) float64 {
	if y <= 0 {
		return 1
	}
	if math.Abs(g.Xi) < 1e-9 {
		return math.Exp(-y / g.Sigma)
	}
	t := 1 + g.Xi*y/g.Sigma
	if t <= 0 {
		return 0 // beyond the endpoint of a bounded tail
	}
	return math.Pow(t, -1/g.Xi)
}

// Quantile returns the excess y with Survival(y) = p, for 0 < p ≤ 1.
func (g GPD) Quantile(p float64) float64 {
	if math.Abs(g.Xi) < 1e-9 {
		return -g.Sigma * math.Log(p)
	}
	return g.Sigma / g.Xi * (math.Pow(p, -g.Xi) - 1)
}

// FitGPD fits a generalised Pareto distribution to positive excesses y by
// probability-weighted moments (Hosking & Wallis 1987). Xi is kept in
// [−2, 0.9] (the estimator needs Xi < 1). y is sorted in place.
func FitGPD(y []float64) (xi, sigma float64, err error) {
	if len(y) < 2 {
		return 0, 0, errors.New("fit GPD: need at least 2 exceedances")
	}
	slices.Sort(y)
	n := float64(len(y))
	var a0, a1 float64
	for i, v := range y {
		p := (float64(i+1) - 0.35) / n
		a0 += v
		a1 += (1 - p) * v
	}
	a0, a1 = a0/n, a1/n
	if !(a0 > 0) {
		return 0, 0, errors.New("fit GPD: all exceedances are zero")
	}
	d := a0 - 2*a1
	if d <= 0 {
		xi = 0.9
		return xi, a0 * (1 - xi), nil
	}
	xi = 2 - a0/d
	sigma = 2 * a0 * a1 / d
	if xi > 0.9 || xi < -2 {
		xi = min(max(xi, -2), 0.9)
		sigma = a0 * (1 - xi) // keep the mean σ/(1−ξ)
	}
	return xi, sigma, nil
}

// Calibration maps the scores of one detector (or of the ensemble) to tail
// probabilities of a benign window and holds the alert threshold chosen for a
// budget of false incidents per VM-day. A window is anomalous when its score
// is strictly above Threshold.
type Calibration struct {
	Method        string  `json:"method"` // "empirical" or "gpd": how Threshold was reached
	Threshold     float64 `json:"threshold"`
	Budget        float64 `json:"budget_per_vm_day"`
	WindowSeconds float64 `json:"window_seconds"`
	GapWindows    int     `json:"gap_windows"`
	Windows       int     `json:"windows"` // held-out windows seen
	VMDays        float64 `json:"vm_days"` // held-out VM-days seen
	// ExtremalIndex is incidents per exceeding window in the tail (≤ 1):
	// exceedances come in clusters that one incident folds.
	ExtremalIndex float64 `json:"extremal_index"`
	// CrossFitted is set on an ensemble's alert calibration fitted to
	// cross-fitted scores (each held-out fold scored through detector
	// calibrations fitted on the other fold, see training.Fit); unset, the
	// scores were in sample.
	CrossFitted bool `json:"cross_fitted,omitempty"`
	// Quantiles[i] is the score at probability i/(len−1) of held-out windows.
	Quantiles []float64 `json:"quantiles"`
	Tail      GPD       `json:"tail"`
}

// Calibrate fits a Calibration to held-out benign scores, one ordered
// sequence per VM (windows the model was not fitted on). The threshold is the
// lowest for which the expected number of incidents per VM-day is within the
// budget: counted directly (exceedance clusters folded as the scorer folds
// them) when the held-out data holds at least MinClusters incidents at the
// budget, else extrapolated from a generalised Pareto tail fitted by PWM to
// the top TailFraction of scores, with the extremal index turning window
// exceedances into incidents.
func Calibrate(seqs [][]float64, cfg CalibrationConfig) (Calibration, error) {
	if !(cfg.WindowSeconds > 0) {
		panic("models: CalibrationConfig.WindowSeconds must be > 0")
	}
	cfg = cfg.withDefaults()
	var pooled []float64
	for _, s := range seqs {
		if !check.Finite(s) {
			return Calibration{}, fmt.Errorf("calibrate: %w", ErrNonFinite)
		}
		pooled = append(pooled, s...)
	}
	if len(pooled) < MinCalibrationWindows {
		return Calibration{}, fmt.Errorf("calibrate: %d windows: %w", len(pooled), ErrTooFewWindows)
	}
	slices.Sort(pooled)
	n := len(pooled)
	c := Calibration{
		Budget:        cfg.Budget,
		WindowSeconds: cfg.WindowSeconds,
		GapWindows:    cfg.GapWindows,
		Windows:       n,
		VMDays:        float64(n) * cfg.WindowSeconds / secondsPerDay,
		Quantiles:     make([]float64, cfg.Quantiles),
	}
	for i := range c.Quantiles {
		c.Quantiles[i] = quantileSorted(pooled, float64(i)/float64(cfg.Quantiles-1))
	}

	// Peaks over threshold.
	u := quantileSorted(pooled, 1-cfg.TailFraction)
	k := n - sort1(pooled, u) // scores > u
	if k >= 10 {
		y := make([]float64, 0, k)
		for _, v := range pooled[n-k:] {
			y = append(y, v-u)
		}
		if xi, sigma, err := FitGPD(y); err == nil {
			if xi < 0 || cfg.ExpTail {
				// A bounded tail (ξ < 0) puts an end point just past the
				// largest held-out score and calls anything beyond it
				// impossible; benign data the model never saw goes past
				// it (a VM busier than any held out), so where the data
				// cannot tell, assume the lighter of the unbounded tails:
				// exponential, with the mean excess as its scale.
				xi, sigma = 0, mean(y)
			}
			if cfg.MinTailScale > 0 && xi > 0 {
				// A log-scale score (TailScaler): exponential tail.
				xi, sigma = 0, mean(y)
			}
			c.Tail = GPD{U: u, Zeta: float64(k) / float64(n), Xi: xi, Sigma: sigma, N: k}
		}
	} else if k > 0 {
		// Fewer exceedances than a shape can be fitted on: u sits on an
		// atom (a detector that scores most benign windows exactly 0, as
		// zmax does when no feature rises above its envelope). Without a
		// tail, any score beyond the largest held-out one would get the
		// same p (0.5/n) and no flood could cross the threshold; assume
		// the exponential tail of the few exceedances instead.
		y := make([]float64, 0, k)
		for _, v := range pooled[n-k:] {
			y = append(y, v-u)
		}
		if sigma := max(mean(y), cfg.MinTailScale); sigma > 0 {
			c.Tail = GPD{U: u, Zeta: float64(k) / float64(n), Xi: 0, Sigma: sigma, N: k}
		}
	}
	// Extremal index, conservatively the larger of the estimates at u and
	// at a level with about 5·MinClusters exceedances.
	c.ExtremalIndex = 1
	if runs, exc := clusters(seqs, u, cfg.GapWindows); exc > 0 {
		c.ExtremalIndex = float64(runs) / float64(exc)
		hi := pooled[max(n-5*cfg.MinClusters-1, 0)]
		if runs, exc := clusters(seqs, hi, cfg.GapWindows); hi > u && exc >= cfg.MinClusters {
			c.ExtremalIndex = max(c.ExtremalIndex, float64(runs)/float64(exc))
		}
	}

	target := cfg.Budget * c.VMDays // incidents allowed in the held-out data
	if target >= float64(cfg.MinClusters) || c.Tail.N == 0 {
		// Lowest threshold among the held-out scores whose folded
		// incident count is within the target (binary search: the count
		// falls as the threshold rises, up to merges of nearby runs).
		lo, hi := 0, n-1
		for lo < hi {
			mid := (lo + hi) / 2
			if runs, _ := clusters(seqs, pooled[mid], cfg.GapWindows); float64(runs) <= target {
				hi = mid
			} else {
				lo = mid + 1
			}
		}
		c.Method, c.Threshold = "empirical", pooled[lo]
		return c, nil
	}
	c.Method, c.Threshold = "gpd", c.ThresholdFor(cfg.Budget)
	return c, nil
}

func (cfg CalibrationConfig) withDefaults() CalibrationConfig {
	if cfg.Budget <= 0 {
		cfg.Budget = DefaultBudget
	}
	switch {
	case cfg.GapWindows < 0:
		cfg.GapWindows = 0
	case cfg.GapWindows == 0:
		cfg.GapWindows = DefaultGapWindows
	}
	if cfg.TailFraction <= 0 || cfg.TailFraction >= 1 {
		cfg.TailFraction = DefaultTailFraction
	}
	if cfg.MinClusters <= 0 {
		cfg.MinClusters = DefaultMinClusters
	}
	if cfg.Quantiles < 2 {
		cfg.Quantiles = DefaultQuantiles
	}
	return cfg
}

// sort1 returns the number of sorted values ≤ t.
// It is a plain binary search (no comparison callback): TailProb calls it
// for every detector of every scored window. Each step picks its half by
// conditional moves: which half is a coin flip, a branch on it was
// mispredicted about every other step (eight steps over 257 quantiles).
func sort1(sorted []float64, t float64) int {
	lo, hi := 0, len(sorted)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		le := 0
		if sorted[mid] <= t {
			le = 1 // SETcc, no jump
		}
		le = -le // all ones when sorted[mid] ≤ t
		lo, hi = lo^((lo^(mid+1))&le), mid^((mid^hi)&le)
	}
	return lo
}

// quantileSorted interpolates between order statistics of sorted.
func quantileSorted(sorted []float64, p float64) float64 {
	h := p * float64(len(sorted)-1)
	i := int(h)
	if i+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	return sorted[i] + (h-float64(i))*(sorted[i+1]-sorted[i])
}

// clusters counts the incidents (runs of windows above t, a run surviving up
// to gap quiet windows) and the exceeding windows in per-VM sequences.
func clusters(seqs [][]float64, t float64, gap int) (runs, exceed int) {
	for _, s := range seqs {
		quiet := gap + 1
		for _, v := range s {
			if v > t {
				exceed++
				if quiet > gap {
					runs++
				}
				quiet = 0
			} else {
				quiet++
			}
		}
	}
	return runs, exceed
}

// Incidents counts the incidents a threshold t raises in per-VM sequences,
// folding as the scorer does (a run survives gap quiet windows).
func Incidents(seqs [][]float64, t float64, gap int) int {
	runs, _ := clusters(seqs, t, gap)
	return runs
}

// windowsPerDay is the number of windows one VM produces in a day.
func (c *Calibration) windowsPerDay() float64 { return secondsPerDay / c.WindowSeconds }

// TailProb returns P(S > s) for the score S of a benign window: the GPD tail
// above its threshold, the held-out quantiles below it. It never returns 0
// (floored at 1e-300) so that its logarithm is finite.
func (c *Calibration) TailProb(s float64) float64 {
	const floor = 1e-300
	if c.Tail.N > 0 && s > c.Tail.U {
		return max(c.Tail.Zeta*c.Tail.Survival(s-c.Tail.U), floor)
	}
	q := c.Quantiles
	m := len(q) - 1
	switch {
	case m < 1:
		return 1
	case s < q[0]:
		return 1
	case s >= q[m]:
		return max(0.5/float64(max(c.Windows, 1)), floor)
	}
	i := sort1(q, s) - 1 // last quantile ≤ s
	level := float64(i)
	if q[i+1] > q[i] {
		level += (s - q[i]) / (q[i+1] - q[i])
	}
	return max(1-level/float64(m), floor)
}

// PValue returns P(S ≥ s) for the score S of a benign window: the p-value
// of an observed score, which the ensemble combines (Artifact.Combine). It
// equals TailProb except where s sits on an atom of the held-out scores (a
// run of equal quantiles, such as the 0 most zmax and vmbase scores are):
// there TailProb gives the mass above the atom, which for an atom holding
// every held-out window is 0.5/n, and a detector that scored every benign
// window 0 would then give every window the same tiny p. P(S ≥ s) counts
// the atom itself, so p is super-uniform under benign data (P(p ≤ α) ≤ α),
// which the Bonferroni bound of the ensemble needs: a detector whose score
// does not move says nothing, instead of setting every window's score.
func (c *Calibration) PValue(s float64) float64 {
	const floor = 1e-300
	if c.Tail.N > 0 && s > c.Tail.U {
		return max(c.Tail.Zeta*c.Tail.Survival(s-c.Tail.U), floor)
	}
	q := c.Quantiles
	m := len(q) - 1
	switch {
	case m < 1 || s <= q[0]:
		return 1
	case s > q[m]:
		return max(0.5/float64(max(c.Windows, 1)), floor)
	}
	i := sort1(q, s) - 1 // last quantile ≤ s; s > q[0], so i ≥ 0
	if q[i] != s {
		// Between two quantiles (i < m, as s ≤ q[m]): TailProb's value.
		level := float64(i) + (s-q[i])/(q[i+1]-q[i])
		return max(1-level/float64(m), floor)
	}
	// On a quantile: the atom starts at the first quantile equal to s.
	lo := 0
	for hi := i; lo < hi; {
		mid := int(uint(lo+hi) >> 1)
		if q[mid] < s {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == m {
		return max(0.5/float64(max(c.Windows, 1)), floor) // the held-out maximum alone
	}
	return 1 - float64(lo)/float64(m)
}

// IncidentRate returns the expected false incidents per VM-day at threshold
// t under the fitted tail: windows per day × P(S > t) × extremal index.
func (c *Calibration) IncidentRate(t float64) float64 {
	return c.windowsPerDay() * c.TailProb(t) * c.ExtremalIndex
}

// ThresholdFor returns the threshold that meets budget incidents per VM-day
// under the fitted tail (used to re-target a calibrated model without its
// held-out data).
func (c *Calibration) ThresholdFor(budget float64) float64 {
	p := budget / (c.windowsPerDay() * max(c.ExtremalIndex, 1e-9))
	if c.Tail.N > 0 && p < c.Tail.Zeta {
		return c.Tail.U + c.Tail.Quantile(p/c.Tail.Zeta)
	}
	q := c.Quantiles
	level := min(max(1-p, 0), 1) * float64(len(q)-1)
	i := int(level)
	if i+1 >= len(q) {
		return q[len(q)-1]
	}
	return q[i] + (level-float64(i))*(q[i+1]-q[i])
}

// Risk maps a score to 0–100: RiskAtThreshold·log(p)/log(p_t), where p is
// TailProb(s) and p_t is TailProb(Threshold), clamped to [0, 100]. The
// threshold lands on 60; every further factor of p_t^(1/60) in rarity adds
// one point, and 100 is reached at p = p_t^(100/60).
func (c *Calibration) Risk(s float64) float64 {
	pt := c.TailProb(c.Threshold)
	if pt >= 1 {
		pt = 0.5
	}
	r := RiskAtThreshold * math.Log(c.TailProb(s)) / math.Log(pt)
	return min(max(r, 0), 100)
}

// Severity bands of the risk score (anomaly.Severities): info < 40 ≤ low <
// 60 ≤ medium < 75 ≤ high < 90 ≤ critical.
var severityFloors = [...]float64{0, 40, RiskAtThreshold, 75, 90}

// SeverityRank returns the index into anomaly.Severities of a risk score.
func SeverityRank(risk float64) int {
	r := 0
	for i, f := range severityFloors {
		if risk >= f {
			r = i
		}
	}
	return r
}

// Validate checks a decoded calibration.
func (c *Calibration) Validate() error {
	if !(c.WindowSeconds > 0) || len(c.Quantiles) < 2 || !check.Finite(c.Quantiles) ||
		!check.Finite([]float64{c.Threshold, c.ExtremalIndex, c.Tail.U, c.Tail.Xi, c.Tail.Sigma}) ||
		(c.Tail.N > 0 && !(c.Tail.Sigma > 0)) {
		return errors.New("calibration: invalid parameters: re-export the artifact from training")
	}
	return nil
}

func mean(y []float64) float64 {
	var s float64
	for _, v := range y {
		s += v
	}
	return s / float64(len(y))
}

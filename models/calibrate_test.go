package models

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// expSeqs returns vms sequences of n i.i.d. Exp(1) scores, each repeated rep
// times in a row (rep > 1 makes exceedances come in clusters).
func expSeqs(seed uint64, vms, n, rep int) [][]float64 {
	rng := rand.New(rand.NewPCG(seed, 9))
	seqs := make([][]float64, vms)
	for v := range seqs {
		for len(seqs[v]) < n {
			x := rng.ExpFloat64()
			for range rep {
				seqs[v] = append(seqs[v], x)
			}
		}
		seqs[v] = seqs[v][:n]
	}
	return seqs
}

func TestFitGPD(t *testing.T) {
	tests := []struct {
		name      string
		draw      func(r *rand.Rand) float64
		xi, sigma float64
		tol       float64
	}{
		{"exponential", func(r *rand.Rand) float64 { return 2 * r.ExpFloat64() }, 0, 2, 0.05},
		{"uniform (bounded)", func(r *rand.Rand) float64 { return r.Float64() }, -1, 1, 0.1},
		// Pareto with index 4: excess over 1 is GPD(ξ = 0.25, σ = 0.25).
		{"pareto", func(r *rand.Rand) float64 { return math.Pow(1-r.Float64(), -0.25) - 1 }, 0.25, 0.25, 0.05},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 3))
			y := make([]float64, 20000)
			for i := range y {
				y[i] = tt.draw(rng)
			}
			xi, sigma, err := FitGPD(y)
			require.NoError(t, err)
			require.InDelta(t, tt.xi, xi, tt.tol)
			require.InDelta(t, tt.sigma, sigma, tt.tol*tt.sigma*4)
		})
	}
	_, _, err := FitGPD([]float64{0, 0, 0})
	require.Error(t, err)
}

func TestCalibrateBudget(t *testing.T) {
	// One-minute windows: 1440 per VM-day. With i.i.d. Exp(1) scores and a
	// budget of 1 incident per VM-day, P(S > t) = 1/1440, so t = ln 1440.
	// Repeating each score twice halves the incidents per exceedance: the
	// answer becomes ln 720.
	tests := []struct {
		name   string
		vms, n int
		rep    int
		method string
		want   float64
		tol    float64
	}{
		{"empirical, independent", 50, 2880, 1, "empirical", math.Log(1440), 0.35},
		{"gpd, independent", 5, 1440, 1, "gpd", math.Log(1440), 0.8},
		{"empirical, clustered", 50, 2880, 2, "empirical", math.Log(720), 0.35},
		{"gpd, clustered", 5, 1440, 2, "gpd", math.Log(720), 0.8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seqs := expSeqs(21, tt.vms, tt.n, tt.rep)
			c, err := Calibrate(seqs, CalibrationConfig{WindowSeconds: 60, GapWindows: -1})
			require.NoError(t, err)
			require.Equal(t, tt.method, c.Method)
			require.InDelta(t, tt.want, c.Threshold, tt.tol)
			require.NoError(t, c.Validate())
			if c.Method == "empirical" {
				// The budget holds on the data it was set on.
				require.LessOrEqual(t, float64(Incidents(seqs, c.Threshold, 0)), c.Budget*c.VMDays)
			}
			// The tail model agrees with the direct count, roughly.
			require.InDelta(t, 1, c.IncidentRate(c.Threshold), 0.5)
			require.InDelta(t, 1/float64(tt.rep), c.ExtremalIndex, 0.15)
			require.InDelta(t, 0, c.Tail.Xi, 0.15, "exponential tail has ξ = 0")
		})
	}
}

func TestCalibrateFoldsRunsAcrossGaps(t *testing.T) {
	// Exceedances two windows apart are one incident with a 1-window gap,
	// two with none.
	seqs := [][]float64{{0, 5, 0, 5, 0, 0, 0, 5}}
	require.Equal(t, 2, Incidents(seqs, 1, 1))
	require.Equal(t, 3, Incidents(seqs, 1, 0))
	require.Equal(t, 1, Incidents(seqs, 1, 3))
}

func TestTailProbRiskSeverity(t *testing.T) {
	seqs := expSeqs(5, 20, 2000, 1)
	c, err := Calibrate(seqs, CalibrationConfig{WindowSeconds: 60})
	require.NoError(t, err)
	// TailProb follows the exponential survival e^−s.
	for _, s := range []float64{0.5, 1, 2, 4, 6, 9} {
		require.InEpsilon(t, math.Exp(-s), c.TailProb(s), 0.35, "s=%v", s)
	}
	require.Equal(t, 1.0, c.TailProb(-1))
	require.InDelta(t, RiskAtThreshold, c.Risk(c.Threshold), 1e-9)
	prev := -1.0
	for s := 0.0; s < 30; s += 0.5 {
		r := c.Risk(s)
		require.GreaterOrEqual(t, r, prev, "risk is monotone")
		require.LessOrEqual(t, r, 100.0)
		prev = r
	}
	require.Equal(t, 100.0, c.Risk(1000))

	tests := []struct {
		risk float64
		rank int
	}{{0, 0}, {39.9, 0}, {40, 1}, {59.9, 1}, {60, 2}, {74, 2}, {75, 3}, {89.9, 3}, {90, 4}, {100, 4}}
	for _, tt := range tests {
		require.Equal(t, tt.rank, SeverityRank(tt.risk), "risk %v", tt.risk)
	}
	// Re-targeting: ten times the budget lowers the threshold.
	require.Less(t, c.ThresholdFor(10), c.ThresholdFor(1))
	require.InDelta(t, c.ThresholdFor(1), c.Threshold, 0.6)
}

func TestCalibrateErrors(t *testing.T) {
	_, err := Calibrate([][]float64{{1, 2, 3}}, CalibrationConfig{WindowSeconds: 1})
	require.ErrorIs(t, err, ErrTooFewWindows)
	_, err = Calibrate([][]float64{{math.NaN()}}, CalibrationConfig{WindowSeconds: 1})
	require.ErrorIs(t, err, ErrNonFinite)
	require.Panics(t, func() { _, _ = Calibrate(nil, CalibrationConfig{}) })
}

// TestSort1 checks the hand-written binary search against a count.
func TestSort1(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	for _, n := range []int{0, 1, 2, 3, 10, 257} {
		s := make([]float64, n)
		for i := range s {
			s[i] = math.Floor(10 * rng.Float64()) // ties
		}
		slices.Sort(s)
		for _, q := range []float64{-1, 0, 0.5, 3, 9, 9.5, 10, math.Inf(1), math.Inf(-1)} {
			want := 0
			for _, v := range s {
				if v <= q {
					want++
				}
			}
			require.Equal(t, want, sort1(s, q), "n=%d t=%v", n, q)
		}
	}
}

// referenceSort1 is sort1 as first written, with a branch per step.
func referenceSort1(sorted []float64, t float64) int {
	lo, hi := 0, len(sorted)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if sorted[mid] <= t {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// TestSort1MatchesBranchySearch compares the branch-free search with the
// branchy one step for step: the same answer even where "sorted" is not (a
// quantile table read from a hand-edited artifact), and for NaN.
func TestSort1MatchesBranchySearch(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	for n := range 300 {
		s := make([]float64, n)
		for i := range s {
			s[i] = math.Floor(10 * rng.Float64())
		}
		if n%2 == 0 {
			slices.Sort(s)
		}
		if n%5 == 0 && n > 0 {
			s[rng.IntN(n)] = math.NaN()
		}
		for _, q := range []float64{-1, 0, 0.5, 3, 9, 9.5, 10, math.Inf(1), math.Inf(-1), math.NaN(), math.Copysign(0, -1)} {
			require.Equal(t, referenceSort1(s, q), sort1(s, q), "n=%d t=%v", n, q)
		}
	}
}

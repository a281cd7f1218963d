package training

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRankMatchesROCAUCAndPRAUC(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for _, n := range []int{2, 10, 1000, 20000} {
		scores, labels := make([]float64, n), make([]bool, n)
		for i := range scores {
			labels[i] = rng.Float64() < 0.1
			scores[i] = math.Floor(rng.NormFloat64() * 4) // many ties
			if labels[i] {
				scores[i] += 3
			}
		}
		labels[0], labels[1] = true, false
		r := Rank(scores, labels)
		require.InDelta(t, ROCAUC(scores, labels), r.ROCAUC(), 1e-12, "n=%d", n)
		require.InDelta(t, PRAUC(scores, labels), r.PRAUC(), 1e-12, "n=%d", n)
	}
}

func TestRankCurvesByHand(t *testing.T) {
	// Scores high to low: 9+ 8- 7+ 7- 5- 1+ ; 3 positives, 3 negatives.
	scores := []float64{7, 9, 5, 7, 1, 8}
	labels := []bool{true, true, false, false, true, false}
	r := Rank(scores, labels)
	require.Equal(t, []float64{9, 8, 7, 5, 1}, r.Thresholds)
	require.Equal(t, []int{1, 1, 2, 2, 3}, r.TP)
	require.Equal(t, []int{0, 1, 2, 3, 3}, r.FP)
	roc := r.ROC(0)
	require.Equal(t, []CurvePoint{{0, 1.0 / 3, 9}, {1.0 / 3, 1.0 / 3, 8}, {2.0 / 3, 2.0 / 3, 7}, {1, 2.0 / 3, 5}, {1, 1, 1}}, roc)
	pr := r.PR(0)
	require.Equal(t, CurvePoint{X: 2.0 / 3, Y: 0.5, Threshold: 7}, pr[2])
	// ROC-AUC by trapezoids: 1/3·1/3 + 1/3·(1/3+2/3)/2 + 1/3·2/3 + 0 = 0.5.
	require.InDelta(t, 0.5, r.ROCAUC(), 1e-12)

	for _, tc := range []struct {
		fpr, tpr, th float64
	}{
		{0, 1.0 / 3, 9},    // the top score alone has no false positive
		{0.3, 1.0 / 3, 9},  // one FP in three is 33 %: too many
		{0.34, 1.0 / 3, 8}, // allowed: same rate, lower threshold
		{0.67, 2.0 / 3, 7}, // two FPs
		{1, 1, 1},          // everything
	} {
		tpr, th := r.DetectionAtFPR(tc.fpr)
		require.InDelta(t, tc.tpr, tpr, 1e-12, "fpr %v", tc.fpr)
		require.Equal(t, tc.th, th, "fpr %v", tc.fpr)
	}
	// When even the top score is a false positive, nothing is detected.
	tpr, th := Rank([]float64{2, 1}, []bool{false, true}).DetectionAtFPR(0.1)
	require.Zero(t, tpr)
	require.True(t, math.IsInf(th, 1))
	// An empty class gives NaN.
	tpr, _ = Rank([]float64{2, 1}, []bool{false, false}).DetectionAtFPR(0.1)
	require.True(t, math.IsNaN(tpr))
	require.Nil(t, Rank([]float64{2, 1}, []bool{false, false}).ROC(10))
}

func TestCurveThinningKeepsEndsAndShape(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	n := 50000
	scores, labels := make([]float64, n), make([]bool, n)
	for i := range scores {
		labels[i] = i%7 == 0
		scores[i] = rng.Float64()
		if labels[i] {
			scores[i] += 0.3
		}
	}
	r := Rank(scores, labels)
	full, thin := r.ROC(0), r.ROC(200)
	require.Len(t, full, n)
	require.Less(t, len(thin), 2*200+300) // 5 % steps of FPR add at most log(n)/log(1.05)
	require.Greater(t, len(thin), 50)
	require.Equal(t, full[0], thin[0])
	for i := 1; i < len(thin); i++ {
		if thin[i].X <= 0.01 && thin[i-1].X > 0 {
			require.LessOrEqual(t, thin[i].X, 1.06*thin[i-1].X+2.0/float64(n), "the low-FPR end keeps its detail")
		}
	}
	require.Equal(t, full[len(full)-1], thin[len(thin)-1])
	for i := 1; i < len(thin); i++ {
		require.GreaterOrEqual(t, thin[i].X, thin[i-1].X, "ROC is monotone")
		require.GreaterOrEqual(t, thin[i].Y, thin[i-1].Y, "ROC is monotone")
	}
	// The area under the thinned curve stays close to the exact AUC.
	var area float64
	prev := CurvePoint{}
	for _, p := range thin {
		area += (p.X - prev.X) * (p.Y + prev.Y) / 2
		prev = p
	}
	require.InDelta(t, r.ROCAUC(), area, 0.01)
}

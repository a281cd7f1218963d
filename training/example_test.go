package training_test

import (
	"fmt"

	"github.com/escapement/escapement/training"
)

// Six windows, three inside attack scenarios: how well the scores rank them,
// and how many attack windows a threshold allowing one benign window in three
// would catch.
func ExampleRank() {
	scores := []float64{7, 9, 5, 7, 1, 8}
	labels := []bool{true, true, false, false, true, false}
	r := training.Rank(scores, labels)
	tpr, threshold := r.DetectionAtFPR(1.0 / 3)
	fmt.Printf("ROC-AUC %.2f, PR-AUC %.2f\n", r.ROCAUC(), r.PRAUC())
	fmt.Printf("at ≤ 1/3 false positives: threshold %v catches %.2f of attack windows\n", threshold, tpr)
	// Output:
	// ROC-AUC 0.50, PR-AUC 0.67
	// at ≤ 1/3 false positives: threshold 8 catches 0.33 of attack windows
}

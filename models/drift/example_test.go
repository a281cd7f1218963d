package drift_test

import (
	"fmt"

	"github.com/escapement/escapement/models/drift"
)

// A reference of one feature from training values, then the PSI of traffic
// that moved up.
func Example() {
	var X [][]float64
	for i := range 1000 {
		X = append(X, []float64{float64(i % 100)})
	}
	ref, _ := drift.Fit([]string{"exit_io_rate"}, X, 10)
	c := ref.NewCounter()
	for i := range 1000 {
		c.Add([]float64{float64(i%100) + 30})
	}
	psi := c.PSI()[0]
	fmt.Printf("%d bins, PSI %.2f (%s)\n", len(ref.Shares[0]), psi, drift.Level(psi))
	// Output: 10 bins, PSI 2.11 (major)
}

func ExamplePSI() {
	fmt.Printf("%.3f\n", drift.PSI([]float64{0.5, 0.5}, []float64{60, 40}))
	// Output: 0.041
}

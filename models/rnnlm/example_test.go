package rnnlm_test

import (
	"fmt"

	"github.com/escapement/escapement/models/rnnlm"
)

// A model fitted on a cyclic process finds a trace that breaks the cycle
// and uses a call never seen more anomalous than one that follows it.
func Example() {
	var normal [][]int
	for range 20 {
		normal = append(normal, []int{3, 5, 7, 3, 5, 7, 3, 5, 7, 3, 5, 7})
	}
	m := rnnlm.New(nil) // nil: no training progress
	m.Embed, m.Hidden, m.Epochs = 4, 8, 30
	if err := m.Fit(normal); err != nil {
		panic(err)
	}
	usual, odd := m.Score([]int{3, 5, 7, 3, 5, 7}), m.Score([]int{3, 7, 5, 99, 5, 3})
	fmt.Println(odd > usual)
	// Output: true
}

// Package check validates the plain-slice inputs of the detectors. It is
// shared by models and its detector packages so that they report the same
// sentinel errors (models re-exports them).
package check

import (
	"errors"
	"fmt"
	"math"
)

// ErrEmpty reports a training set with no rows or no columns.
var ErrEmpty = errors.New("empty training set: provide at least one row with at least one feature")

// ErrNonFinite reports a NaN or ±Inf value in the data.
var ErrNonFinite = errors.New("non-finite value (NaN or Inf): drop or repair the row before fitting")

// Matrix checks that X is non-empty, rectangular and finite, and returns its
// column count. A ragged X is a programming error and panics.
func Matrix(X [][]float64) (int, error) {
	if len(X) == 0 || len(X[0]) == 0 {
		return 0, ErrEmpty
	}
	d := len(X[0])
	for i, row := range X {
		if len(row) != d {
			panic(fmt.Sprintf("models: ragged matrix: row %d has %d columns, row 0 has %d", i, len(row), d))
		}
		for j, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return 0, fmt.Errorf("row %d column %d: %w", i, j, ErrNonFinite)
			}
		}
	}
	return d, nil
}

// Finite reports whether every value of x is finite.
func Finite(x []float64) bool {
	for _, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

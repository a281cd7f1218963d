package seq

import (
	"fmt"

	"github.com/escapement/escapement/models/internal/check"
)

// checkTraces reports ErrEmpty for a training set without a single call and
// an error for a negative call number.
func checkTraces(traces [][]int) error {
	calls := 0
	for i, t := range traces {
		for j, c := range t {
			if c < 0 {
				return fmt.Errorf("seq: trace %d call %d is %d: system-call numbers are non-negative", i, j, c)
			}
		}
		calls += len(t)
	}
	if calls == 0 {
		return check.ErrEmpty
	}
	return nil
}

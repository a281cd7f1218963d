package sim

import (
	"math"
	"math/rand/v2"
)

// gen appends the events of one occurrence of an activity at time t.
type gen func(v *vm, t int64)

// source is a Poisson process of one activity. rem is the operational time
// (in expected events) left before its next occurrence, so a rate that changes
// from tick to tick is handled exactly and without per-tick random draws.
type source struct {
	rate   float64 // occurrences per second at load 1
	scaled bool    // multiplied by the VM's current load
	rem    float64
	gen    gen
}

func newSource(r *rand.Rand, rate float64, scaled bool, g gen) *source {
	return &source{rate: rate, scaled: scaled, rem: r.ExpFloat64(), gen: g}
}

// run generates the occurrences of s in [t0, t1) at rate lambda.
func (s *source) run(v *vm, t0, t1 int64, lambda float64) {
	if lambda <= 0 || t1 <= t0 {
		return
	}
	span := float64(t1 - t0)
	budget := lambda * span / 1e9
	used := 0.0
	for s.rem <= budget-used {
		used += s.rem
		s.gen(v, t0+int64(used/budget*span))
		s.rem = v.rng.ExpFloat64()
	}
	s.rem -= budget - used
}

// lognormal returns exp(sigma·N(0,1)): a multiplier with median 1.
func lognormal(r *rand.Rand, sigma float64) float64 {
	x := r.NormFloat64() * sigma
	if x > 3*sigma {
		x = 3 * sigma
	}
	if x < -3*sigma {
		x = -3 * sigma
	}
	return math.Exp(x)
}

package sim

import (
	"errors"
	"fmt"
	"time"
)

// Tick is the fixed step of simulated time. Generation advances tick by tick,
// so the output does not depend on how callers chunk time.
const Tick = 10 * time.Millisecond

// DefaultStart is the start of simulated time when Config.Start is zero.
var DefaultStart = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// Scenario placement margins: scenarios start no earlier than Start+leadIn
// and end no later than Start+Duration-tailOut.
const (
	leadIn  = 10 * time.Second
	tailOut = 15 * time.Second
)

// Config describes a simulated fleet on one host.
type Config struct {
	Seed uint64 // everything generated is a function of Seed and the fields below
	VMs  int    // number of VMs (≥ 1)
	Host string // host name on every event; default "sim-host"
	// Start is the start of simulated time; default DefaultStart. A realtime
	// collector passes time.Now() so that event time is wall time.
	Start time.Time
	// Duration is the length of the run. Scenarios are placed inside
	// [Start+10s, Start+Duration-15s]. Zero means unbounded and allows no
	// scenarios or placebos.
	Duration time.Duration
	// Scenarios is the number of escape-technique scenarios. They cycle
	// through the threat classes, first as floods then stealthily: 16 give
	// every class at both intensities.
	Scenarios int
	// Placebos is the number of benign bursts placed with the same timing
	// machinery and labelled placebo.
	Placebos int
	// RateScale multiplies every benign rate; default 1.
	RateScale float64
}

func (c *Config) setDefaults() error {
	if c.VMs < 1 {
		return fmt.Errorf("sim: Config.VMs is %d: set at least 1 VM", c.VMs)
	}
	if c.Host == "" {
		c.Host = "sim-host"
	}
	if c.Start.IsZero() {
		c.Start = DefaultStart
	}
	if c.RateScale == 0 {
		c.RateScale = 1
	}
	if c.RateScale < 0 || c.Scenarios < 0 || c.Placebos < 0 || c.Duration < 0 {
		return errors.New("sim: Config.RateScale, Scenarios, Placebos and Duration must not be negative")
	}
	if c.Scenarios+c.Placebos > 0 && c.Duration < leadIn+tailOut+10*time.Second {
		return fmt.Errorf("sim: Config.Duration %v is too short for scenarios: set at least %v", c.Duration, leadIn+tailOut+10*time.Second)
	}
	return nil
}

// Version identifies the generator in dataset manifests. It changes whenever
// the same Config would produce a different stream.
const Version = "sim.v1"

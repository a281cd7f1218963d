package scoring

import "time"

// Defaults.
const (
	DefaultTopFeatures = 5
	DefaultGapWindows  = 1
	DefaultMaxVMs      = 100_000
	DefaultIdleTTL     = 10 * time.Minute
	sweepEvery         = 1024 // rows between idle sweeps
)

// Config tunes the Scorer. Zero values select the defaults.
type Config struct {
	// Budget re-targets the alert threshold to this many false incidents
	// per VM-day using the artifact's fitted tail; 0 keeps the artifact's
	// calibrated threshold.
	Budget float64
	// TopFeatures is how many features (by |z|) a record explains with.
	TopFeatures int
	// GapWindows is how many quiet windows an incident stays open across;
	// negative means none.
	GapWindows int
	// MaxVMs bounds the VMs tracked; the least recently seen is evicted.
	MaxVMs int
	// IdleTTL evicts a VM (closing its incident) after this much event time
	// without a row.
	IdleTTL time.Duration
	// DriftWindow is how many sampled rows (one scored row in 4) the
	// escapement_feature_psi gauges cover; 0 = DefaultDriftWindow,
	// negative disables them.
	DriftWindow int
}

func (c Config) withDefaults() Config {
	if c.TopFeatures <= 0 {
		c.TopFeatures = DefaultTopFeatures
	}
	switch {
	case c.GapWindows < 0:
		c.GapWindows = 0
	case c.GapWindows == 0:
		c.GapWindows = DefaultGapWindows
	}
	if c.MaxVMs <= 0 {
		c.MaxVMs = DefaultMaxVMs
	}
	if c.IdleTTL <= 0 {
		c.IdleTTL = DefaultIdleTTL
	}
	return c
}

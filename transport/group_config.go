package transport

import (
	"errors"
	"fmt"
	"time"
)

// StartOffset says where a partition without a committed offset starts.
type StartOffset string

// Start offsets.
const (
	StartFirst StartOffset = "first" // the oldest retained message (default)
	StartLast  StartOffset = "last"  // only messages produced after joining
)

// Defaults of GroupConfig.
const (
	DefaultSessionTimeout    = 30 * time.Second
	DefaultRebalanceTimeout  = 30 * time.Second
	DefaultHeartbeatInterval = 3 * time.Second
	DefaultJoinGroupBackoff  = 2 * time.Second
	DefaultRevokeTimeout     = 10 * time.Second
	DefaultMaxWait           = 500 * time.Millisecond
	DefaultReadBackoffMin    = 100 * time.Millisecond
	DefaultReadBackoffMax    = time.Second
	DefaultMaxBytes          = 10 << 20
)

// GroupConfig configures one consumer group member.
type GroupConfig struct {
	// GroupID names the consumer group; members with the same GroupID
	// share the partitions of Topics.
	GroupID string   `yaml:"group_id"`
	Topics  []string `yaml:"topics"`
	// CommitInterval is how often released offsets are committed
	// (default 1s); they are also committed when a generation ends.
	CommitInterval time.Duration `yaml:"commit_interval"`
	// StartOffset applies to partitions the group never committed
	// (default first).
	StartOffset StartOffset `yaml:"start_offset"`

	// Group membership timing (defaults 30s, 30s, 3s). The broker bounds
	// SessionTimeout (Kafka: 6s to 5min by default).
	SessionTimeout    time.Duration `yaml:"session_timeout"`
	RebalanceTimeout  time.Duration `yaml:"rebalance_timeout"`
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	// JoinGroupBackoff is the pause before joining again after an error
	// (default 2s).
	JoinGroupBackoff time.Duration `yaml:"join_group_backoff"`
	// RevokeTimeout bounds Handler.Revoked (default 10s); keep it below
	// RebalanceTimeout so the member rejoins in time.
	RevokeTimeout time.Duration `yaml:"revoke_timeout"`
	// WatchPartitionChanges starts a new generation when a topic gains
	// partitions.
	WatchPartitionChanges bool `yaml:"watch_partition_changes"`

	// Fetching: MaxWait is the longest a fetch waits for data (default
	// 500ms), MaxBytes the most a fetch returns (default 10 MiB), and
	// ReadBackoffMin/Max the pause after an empty fetch (100ms / 1s).
	MaxWait        time.Duration `yaml:"max_wait"`
	MaxBytes       int           `yaml:"max_bytes"`
	ReadBackoffMin time.Duration `yaml:"read_backoff_min"`
	ReadBackoffMax time.Duration `yaml:"read_backoff_max"`
}

// WithDefaults returns gc with every zero field set to its default.
func (gc GroupConfig) WithDefaults() GroupConfig {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&gc.CommitInterval, DefaultCommitInterval)
	def(&gc.SessionTimeout, DefaultSessionTimeout)
	def(&gc.RebalanceTimeout, DefaultRebalanceTimeout)
	def(&gc.HeartbeatInterval, DefaultHeartbeatInterval)
	def(&gc.JoinGroupBackoff, DefaultJoinGroupBackoff)
	def(&gc.RevokeTimeout, DefaultRevokeTimeout)
	def(&gc.MaxWait, DefaultMaxWait)
	def(&gc.ReadBackoffMin, DefaultReadBackoffMin)
	def(&gc.ReadBackoffMax, DefaultReadBackoffMax)
	if gc.StartOffset == "" {
		gc.StartOffset = StartFirst
	}
	if gc.MaxBytes == 0 {
		gc.MaxBytes = DefaultMaxBytes
	}
	return gc
}

// Validate reports every problem in gc (after defaults) in one error.
func (gc GroupConfig) Validate() error {
	gc = gc.WithDefaults()
	var errs []error
	if gc.GroupID == "" {
		errs = append(errs, errors.New("transport: GroupID is empty: name the consumer group"))
	}
	if len(gc.Topics) == 0 {
		errs = append(errs, errors.New("transport: no Topics: give the group at least one topic"))
	}
	for _, t := range gc.Topics {
		if t == "" {
			errs = append(errs, errors.New("transport: empty topic name in Topics"))
		}
	}
	if gc.StartOffset != StartFirst && gc.StartOffset != StartLast {
		errs = append(errs, fmt.Errorf("transport: StartOffset %q: want first or last", gc.StartOffset))
	}
	for name, d := range map[string]time.Duration{
		"CommitInterval": gc.CommitInterval, "SessionTimeout": gc.SessionTimeout,
		"RebalanceTimeout": gc.RebalanceTimeout, "HeartbeatInterval": gc.HeartbeatInterval,
		"JoinGroupBackoff": gc.JoinGroupBackoff, "RevokeTimeout": gc.RevokeTimeout,
		"MaxWait": gc.MaxWait, "ReadBackoffMin": gc.ReadBackoffMin, "ReadBackoffMax": gc.ReadBackoffMax,
	} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("transport: %s is negative", name))
		}
	}
	if gc.HeartbeatInterval >= gc.SessionTimeout {
		errs = append(errs, fmt.Errorf("transport: HeartbeatInterval %v must be below SessionTimeout %v (a third of it is usual)", gc.HeartbeatInterval, gc.SessionTimeout))
	}
	if gc.ReadBackoffMin > gc.ReadBackoffMax {
		errs = append(errs, errors.New("transport: ReadBackoffMin is above ReadBackoffMax"))
	}
	if gc.MaxBytes < 0 {
		errs = append(errs, errors.New("transport: MaxBytes is negative"))
	}
	return errors.Join(errs...)
}

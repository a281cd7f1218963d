package api

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/escapement/escapement/anomaly"
)

// TopFeatures is how many of a record's leading features a suppression
// rule's feature is matched against (records list features strongest first).
const TopFeatures = 5

// ErrRuleNotFound: no suppression rule with that id.
var ErrRuleNotFound = errors.New("suppression rule not found")

// Suppression is a rule that marks matching anomalies suppressed until it
// expires. Empty match fields match anything; at least one is set.
type Suppression struct {
	ID       string `json:"id"`
	VM       string `json:"vm,omitempty"`       // VM id
	Host     string `json:"host,omitempty"`     // hypervisor host
	Detector string `json:"detector,omitempty"` // detector id, or an ensemble member in anomaly.detectors
	Feature  string `json:"feature,omitempty"`  // among the record's first TopFeatures features
	Author   string `json:"author"`
	Reason   string `json:"reason,omitempty"`
	// CreatedAt is set by the store; ExpiresAt is required.
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Active reports whether the rule applies at t.
func (s Suppression) Active(t time.Time) bool { return t.Before(s.ExpiresAt) }

// Matches reports whether rec meets every match field the rule sets.
func (s Suppression) Matches(rec *anomaly.Record) bool {
	if s.VM != "" && s.VM != rec.VM.ID {
		return false
	}
	if s.Host != "" && s.Host != rec.Host {
		return false
	}
	if s.Detector != "" && s.Detector != rec.Detector.ID && !slices.Contains(rec.Anomaly.Detectors, s.Detector) {
		return false
	}
	if s.Feature != "" {
		feats := rec.Anomaly.Features
		if len(feats) > TopFeatures {
			feats = feats[:TopFeatures]
		}
		if !slices.ContainsFunc(feats, func(f anomaly.Feature) bool { return f.Name == s.Feature }) {
			return false
		}
	}
	return true
}

// Bounds of a suppression rule's fields.
const (
	maxRuleField  = 200
	maxRuleReason = 2000
)

// validate checks a rule as submitted at now.
func (s Suppression) validate(now time.Time) error {
	if s.VM == "" && s.Host == "" && s.Detector == "" && s.Feature == "" {
		return errors.New("a rule matches on at least one of vm, host, detector, feature")
	}
	for name, v := range map[string]string{"vm": s.VM, "host": s.Host, "detector": s.Detector, "feature": s.Feature, "author": s.Author} {
		if len(v) > maxRuleField {
			return fmt.Errorf("%s: at most %d bytes", name, maxRuleField)
		}
	}
	if len(s.Reason) > maxRuleReason {
		return fmt.Errorf("reason: at most %d bytes", maxRuleReason)
	}
	if strings.TrimSpace(s.Author) == "" {
		return errors.New("author is empty")
	}
	if s.ExpiresAt.IsZero() {
		return errors.New("expires_at is required (an RFC 3339 time): a suppression always ends")
	}
	if !s.ExpiresAt.After(now) {
		return fmt.Errorf("expires_at %s is not in the future", s.ExpiresAt.Format(time.RFC3339))
	}
	return nil
}

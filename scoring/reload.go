package scoring

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/escapement/escapement/anomaly"
	"github.com/escapement/escapement/models"
)

// use makes version the model of the info gauge and of the per-version
// window counter.
func (m *metrics) use(version string) {
	if m.infoLabels != "" {
		m.info.DeleteLabelValues(m.infoLabels)
	}
	m.info.WithLabelValues(version).Set(1)
	m.infoLabels = version
	m.modelRows = m.byModel.WithLabelValues(version)
}

// Version returns the version of the model in force.
func (s *Scorer) Version() string { return s.a.Manifest.ModelVersion }

// SwapModel replaces the scorer's model with a and appends to out the
// records it causes. Every open incident is resolved first, by the old model
// (its version in the record's detector, at the end of the VM's latest
// window), because an incident ID names the model that raised it: windows
// after the switch that are still anomalous open a new incident under the
// new version. Per-VM positions are kept, so redelivered windows older than
// a VM's latest are still ignored and no window is scored twice. The new
// model must take rows of the same length (callers load it against the
// featurizer's schema, see models.Load).
func (s *Scorer) SwapModel(a *models.Artifact, out []anomaly.Record) []anomaly.Record {
	if a == nil || a.Standardizer == nil || len(a.Detectors) == 0 {
		panic("scoring: SwapModel needs a loaded artifact")
	}
	var open []string
	for vm, st := range s.vms {
		if st.inc != nil {
			open = append(open, vm)
		}
	}
	slices.Sort(open) // deterministic record order
	for _, vm := range open {
		st := s.vms[vm]
		out = s.close(out, vm, st, st.lastEnd)
	}
	old := s.a.Manifest.ModelVersion
	alert := &a.Manifest.Calibration.Alert
	th := alert.Threshold
	if s.cfg.Budget > 0 && s.cfg.Budget != alert.Budget {
		th = alert.ThresholdFor(s.cfg.Budget)
	}
	names := a.DetectorNames()
	s.a, s.alert, s.threshold = a, alert, th
	s.detector = anomaly.Detector{
		ID:      "escapement/" + strings.Join(names, "+"),
		Name:    "Escapement ensemble (" + strings.Join(names, ", ") + ")",
		Version: a.Manifest.ModelVersion,
		Type:    "unsupervised_ensemble",
	}
	s.z = make([]float64, a.Standardizer.Dim())
	s.raw, s.p = make([]float64, a.NumDetectors()), make([]float64, a.NumDetectors())
	s.resetStreamStates()
	s.m.use(a.Manifest.ModelVersion)
	s.log.Info("model switched", "from", old, logModel, a.Manifest.ModelVersion, logThresh, th, "incidents_resolved", len(open))
	return out
}

// SwapModel switches the stage's scorer to a between two feature messages:
// Handle scores a whole message under the stage's lock, and the switch takes
// the same lock, so each window is scored once, by the model in force when
// its message is handled. The incidents the switch resolves are produced
// (retried every second until ctx is done) before the lock is released and
// before the deliveries they held are released, so their offsets are
// committed only once the resolutions are acknowledged.
func (s *Stage) SwapModel(ctx context.Context, a *models.Artifact) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	recs := s.cfg.Scorer.SwapModel(a, nil)
	for {
		err := s.produce(ctx, recs)
		if err == nil {
			break
		}
		s.log.Warn("produce incidents resolved by the model switch; retrying", "records", len(recs), "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("scoring: model switched to %s but %d resolved incidents were not produced: %w", a.Manifest.ModelVersion, len(recs), ctx.Err())
		case <-time.After(time.Second):
		}
	}
	for vm := range s.held {
		if !s.cfg.Scorer.Open(vm) {
			s.releaseLocked(vm)
		}
	}
	return nil
}

// Version returns the version of the model the stage scores with.
func (s *Stage) Version() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg.Scorer.Version()
}

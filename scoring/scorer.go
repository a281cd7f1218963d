package scoring

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/escapement/escapement/anomaly"
	"github.com/escapement/escapement/features"
	"github.com/escapement/escapement/models"
	"github.com/escapement/escapement/models/stream"
)

// ErrInvalidRow reports a row the scorer cannot score; the caller should
// dead-letter it.
var ErrInvalidRow = errors.New("invalid feature row")

// Log field names.
const (
	logVM       = "vm_id"
	logIncident = "incident_id"
	logSeverity = "severity"
	logWindows  = "windows"
	logModel    = "model_version"
	logThresh   = "threshold"
)

// Scorer scores feature rows and folds anomalous windows into incidents.
type Scorer struct {
	a         *models.Artifact
	cfg       Config
	threshold float64
	alert     *models.Calibration
	detector  anomaly.Detector
	log       *slog.Logger
	m         *metrics

	vms        map[string]*vmState
	open       int
	watermark  int64 // latest window end seen, ns
	sinceSweep int

	z, raw, p []float64     // scratch
	grams     []stream.Gram // scratch

	gramItems map[uint64][]string // decoded n-grams of explanations (see gramNames)

	drift *driftMonitor // nil when disabled
}

type vmState struct {
	lastEnd int64 // end of the latest window seen
	windows int   // windows scored
	inc     *incident
	states  []stream.State // per-VM state of the stream detectors
	held    []float64      // max of the windows held back while frozen (see learn)
}

// incident is the state of one open incident.
type incident struct {
	id         string
	revision   int
	host       string
	firstStart int64 // start of the first anomalous window
	firstEnd   int64
	lastEnd    int64 // end of the latest anomalous window
	windows    int   // anomalous windows folded
	quiet      int   // quiet windows since the latest anomalous one
	severity   int   // highest severity rank so far

	// Evidence of the riskiest window.
	risk, score, p   float64
	winStart, winEnd int64
	features         []anomaly.Feature
	fired            []string // union over the incident, sorted
	vmBaseline       []anomaly.Feature
	ngrams           []anomaly.NGram
}

// NewScorer returns a Scorer for a loaded artifact. logger and reg may be nil.
func NewScorer(a *models.Artifact, cfg Config, logger *slog.Logger, reg prometheus.Registerer) *Scorer {
	if a == nil || a.Standardizer == nil || len(a.Detectors) == 0 {
		panic("scoring: NewScorer needs a loaded artifact")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	alert := &a.Manifest.Calibration.Alert
	th := alert.Threshold
	if cfg.Budget > 0 && cfg.Budget != alert.Budget {
		th = alert.ThresholdFor(cfg.Budget)
	}
	names := a.DetectorNames()
	n := len(names)
	s := &Scorer{
		a: a, cfg: cfg, threshold: th, alert: alert, log: logger, m: newMetrics(reg),
		detector: anomaly.Detector{
			ID:      "escapement/" + strings.Join(names, "+"),
			Name:    "Escapement ensemble (" + strings.Join(names, ", ") + ")",
			Version: a.Manifest.ModelVersion,
			Type:    "unsupervised_ensemble",
		},
		vms: map[string]*vmState{},
		z:   make([]float64, a.Standardizer.Dim()),
		raw: make([]float64, n), p: make([]float64, n),
		drift: newDriftMonitor(cfg.DriftWindow, reg),
	}
	s.m.use(a.Manifest.ModelVersion)
	logger.Info("scorer ready", logModel, a.Manifest.ModelVersion, logThresh, th)
	return s
}

// Threshold returns the ensemble score threshold in use.
func (s *Scorer) Threshold() float64 { return s.threshold }

// VMs returns the number of VMs with state.
func (s *Scorer) VMs() int { return len(s.vms) }

// Score scores one row and returns the records it causes (usually none). A
// row with the wrong number of values, non-finite values or an empty window
// returns an error wrapping ErrInvalidRow and changes no state.
func (s *Scorer) Score(row features.Row) ([]anomaly.Record, error) {
	if err := s.validate(row); err != nil {
		s.m.invalid.Inc()
		return nil, err
	}
	st := s.vms[row.VMID]
	if st != nil && row.Start < st.lastEnd {
		s.m.stale.Inc()
		return nil, nil
	}
	var out []anomaly.Record
	if st == nil {
		if len(s.vms) >= s.cfg.MaxVMs {
			out = s.evictOldest(out)
		}
		st = &vmState{states: s.a.NewStates()}
		s.vms[row.VMID] = st
		s.m.vms.Set(float64(len(s.vms)))
	}
	win := row.End - row.Start
	if inc := st.inc; inc != nil && st.lastEnd > 0 && row.Start > st.lastEnd {
		// Missing windows count as quiet.
		inc.quiet += int((row.Start - st.lastEnd) / win)
		if inc.quiet > s.cfg.GapWindows {
			out = s.close(out, row.VMID, st, st.lastEnd)
		}
	}
	st.lastEnd = row.End
	s.watermark = max(s.watermark, row.End)

	z := s.a.Standardizer.Transform(row.Values, s.z)
	e := s.combine(row, st, z)
	s.m.scored.Inc()
	s.m.modelRows.Inc()
	s.m.ensemble.Observe(e)
	s.drift.observe(s.a.Drift, row.Values)

	// A VM's first windows are the model's grace (Manifest.GraceWindows):
	// scored, never anomalous.
	st.windows++
	if e > s.threshold && st.windows > s.a.Manifest.GraceWindows {
		s.m.anomalous.Inc()
		out = s.anomalous(out, row, st, z, e)
	} else if st.inc != nil {
		st.inc.quiet++
		if st.inc.quiet > s.cfg.GapWindows {
			out = s.close(out, row.VMID, st, row.End)
		}
	}
	s.learn(st, e)

	if s.sinceSweep++; s.sinceSweep >= sweepEvery {
		s.sinceSweep = 0
		out = s.Expire(time.Unix(0, s.watermark), out)
	}
	return out, nil
}

func (s *Scorer) validate(row features.Row) error {
	if len(row.Values) != s.a.Standardizer.Dim() {
		return fmt.Errorf("%w: %d values, model %s expects %d: run the featurizer schema the model was trained on",
			ErrInvalidRow, len(row.Values), s.a.Manifest.ModelVersion, s.a.Standardizer.Dim())
	}
	if row.End <= row.Start || row.VMID == "" {
		return fmt.Errorf("%w: vm %q window [%d, %d) is empty or unnamed", ErrInvalidRow, row.VMID, row.Start, row.End)
	}
	for i, v := range row.Values {
		if v-v != 0 { // NaN or ±Inf (one subtraction instead of IsNaN and IsInf)
			return fmt.Errorf("%w: vm %q feature %s is %v", ErrInvalidRow, row.VMID, s.a.Manifest.FeatureNames[i], v)
		}
	}
	return nil
}

// anomalous folds an anomalous window into the VM's incident (opening one if
// needed) and emits on open or severity rise.
func (s *Scorer) anomalous(out []anomaly.Record, row features.Row, st *vmState, z []float64, e float64) []anomaly.Record {
	risk := s.alert.Risk(e)
	sev := models.SeverityRank(risk)
	inc := st.inc
	opened := inc == nil
	if opened {
		inc = &incident{
			id:         IncidentID(row.VMID, row.Start, s.a.Manifest.ModelVersion),
			host:       row.Host,
			firstStart: row.Start,
			firstEnd:   row.End,
			severity:   sev,
		}
		st.inc = inc
		s.open++
		s.m.incidents.Set(float64(s.open))
	}
	inc.windows++
	inc.quiet = 0
	inc.lastEnd = row.End
	for _, name := range s.a.Fired(s.p) {
		if !slices.Contains(inc.fired, name) {
			inc.fired = append(inc.fired, name)
		}
	}
	slices.Sort(inc.fired)
	if opened || risk > inc.risk {
		inc.risk, inc.score, inc.p = risk, e, s.alert.TailProb(e)
		inc.winStart, inc.winEnd = row.Start, row.End
		inc.features = explain(s.a.Standardizer, s.a.Manifest.FeatureNames, row.Values, z, s.cfg.TopFeatures)
		inc.vmBaseline, inc.ngrams = s.explainStream(st, z)
	}
	switch {
	case opened:
		inc.revision = 1
		s.m.opened.Inc()
		s.log.Info("incident opened", logVM, row.VMID, logIncident, inc.id, logSeverity, anomaly.Severities[sev])
		return append(out, s.record(row.VMID, inc, anomaly.StatusNew, row.End))
	case sev > inc.severity:
		inc.severity = sev
		inc.revision++
		s.m.escalated.Inc()
		s.log.Info("incident escalated", logVM, row.VMID, logIncident, inc.id, logSeverity, anomaly.Severities[sev])
		return append(out, s.record(row.VMID, inc, anomaly.StatusInProgress, row.End))
	}
	return out
}

// close resolves the VM's incident at event time at (ns).
func (s *Scorer) close(out []anomaly.Record, vm string, st *vmState, at int64) []anomaly.Record {
	inc := st.inc
	st.inc = nil
	s.open--
	s.m.incidents.Set(float64(s.open))
	inc.revision++
	s.m.resolved.Inc()
	s.log.Info("incident resolved", logVM, vm, logIncident, inc.id, logWindows, inc.windows)
	return append(out, s.record(vm, inc, anomaly.StatusResolved, at))
}

// Expire evicts the VMs whose latest window ended before now − IdleTTL
// (event time), resolving their open incidents, and appends the records to
// out. Score calls it every few thousand rows at its watermark; callers may
// call it on a timer during quiet periods.
func (s *Scorer) Expire(now time.Time, out []anomaly.Record) []anomaly.Record {
	cut := now.UnixNano() - int64(s.cfg.IdleTTL)
	var idle []string
	for vm, st := range s.vms {
		if st.lastEnd < cut {
			idle = append(idle, vm)
		}
	}
	slices.Sort(idle) // deterministic record order
	for _, vm := range idle {
		out = s.evict(out, vm)
	}
	return out
}

func (s *Scorer) evictOldest(out []anomaly.Record) []anomaly.Record {
	oldest, at := "", int64(math.MaxInt64)
	for vm, st := range s.vms {
		if st.lastEnd < at || (st.lastEnd == at && vm < oldest) {
			oldest, at = vm, st.lastEnd
		}
	}
	return s.evict(out, oldest)
}

func (s *Scorer) evict(out []anomaly.Record, vm string) []anomaly.Record {
	st := s.vms[vm]
	if st.inc != nil {
		out = s.close(out, vm, st, st.lastEnd)
	}
	delete(s.vms, vm)
	s.m.evictions.Inc()
	s.m.vms.Set(float64(len(s.vms)))
	return out
}

// IncidentID is the stable ID of an incident: the first 16 bytes, in hex, of
// SHA-256 over the VM ID, the start of its first anomalous window (ns) and
// the model version.
func IncidentID(vm string, firstStart int64, modelVersion string) string {
	h := sha256.New()
	h.Write([]byte(vm))
	h.Write([]byte{0})
	h.Write(strconv.AppendInt(nil, firstStart, 10))
	h.Write([]byte{0})
	h.Write([]byte(modelVersion))
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// record renders the incident. at is the event time of the update (ns).
func (s *Scorer) record(vm string, inc *incident, status string, at int64) anomaly.Record {
	pt := s.alert.TailProb(s.threshold)
	conf := 1 - 0.5*min(inc.p/pt, 1)
	return anomaly.Record{
		ID:         inc.id,
		Revision:   inc.revision,
		Status:     status,
		CreatedAt:  time.Unix(0, inc.firstEnd).UTC(),
		UpdatedAt:  time.Unix(0, at).UTC(),
		FirstSeen:  time.Unix(0, inc.firstStart).UTC(),
		LastSeen:   time.Unix(0, inc.lastEnd).UTC(),
		Severity:   anomaly.Severities[inc.severity],
		RiskScore:  round(inc.risk, 1),
		Confidence: round(conf, 3),
		Title:      title(vm, inc.features),
		Detector:   s.detector,
		Host:       inc.host,
		VM:         anomaly.VM{ID: vm},
		Attack:     []anomaly.Attack{anomaly.EscapeToHost},
		Anomaly: anomaly.Detail{
			Score:      round(inc.score, 4),
			Threshold:  round(s.threshold, 4),
			Window:     anomaly.Window{Start: time.Unix(0, inc.winStart).UTC(), End: time.Unix(0, inc.winEnd).UTC()},
			Windows:    inc.windows,
			Features:   slices.Clone(inc.features),
			Detectors:  slices.Clone(inc.fired),
			Class:      classify(inc.features),
			VMBaseline: slices.Clone(inc.vmBaseline),
			NGrams:     slices.Clone(inc.ngrams),
		},
		Links: anomaly.Links{Self: "/api/v1/anomalies/" + inc.id},
	}
}

// Open reports whether vm has an open incident. The streaming stage keeps
// the inputs of an open incident uncommitted so that a new partition owner
// replays it from its first window and reproduces its ID and revisions.
func (s *Scorer) Open(vm string) bool {
	st := s.vms[vm]
	return st != nil && st.inc != nil
}

// Forget drops vm's state without emitting anything: its partition moved to
// another scorer, which replays the VM from the last committed offset.
func (s *Scorer) Forget(vm string) {
	if _, ok := s.vms[vm]; ok {
		delete(s.vms, vm)
		s.m.vms.Set(float64(len(s.vms)))
	}
}

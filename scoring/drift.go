package scoring

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/escapement/escapement/models/drift"
)

// Drift monitoring defaults.
const (
	// DefaultDriftWindow is the number of sampled rows the PSI gauges cover.
	DefaultDriftWindow = 10_000
	// driftStride samples one scored row in this many for the drift window,
	// keeping the cost per scored row to tens of nanoseconds.
	driftStride = 4
	// driftPublishEvery is the sampled rows between gauge updates.
	driftPublishEvery = 1_000
)

// driftMonitor keeps the bins of the latest sampled rows and exports the PSI
// of each feature against the model's training reference as
// escapement_feature_psi{feature}. A nil monitor does nothing.
type driftMonitor struct {
	ref    *drift.Reference
	window int
	ring   []uint8 // window × features bin indices, oldest overwritten first
	pos    int     // next row slot
	filled int
	counts [][]float64
	stride int
	since  int
	gauge  *prometheus.GaugeVec
	psi    []float64
}

// newDriftMonitor returns nil when the artifact has no reference (trained
// before references existed) or window < 0 (disabled).
func newDriftMonitor(ref *drift.Reference, window int, reg prometheus.Registerer) *driftMonitor {
	if ref == nil || window < 0 || len(ref.Features) == 0 {
		return nil
	}
	if window == 0 {
		window = DefaultDriftWindow
	}
	for _, s := range ref.Shares {
		if len(s) > 256 {
			return nil // bin indices are bytes; references have about 10 bins
		}
	}
	m := &driftMonitor{
		ref: ref, window: window, ring: make([]uint8, window*len(ref.Features)),
		counts: make([][]float64, len(ref.Features)), psi: make([]float64, len(ref.Features)),
	}
	for j := range m.counts {
		m.counts[j] = make([]float64, len(ref.Shares[j]))
	}
	m.gauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "escapement_feature_psi",
		Help: "Population stability index of each feature over the latest sampled scored rows against the model's training data (0.1 moderate, 0.25 major shift).",
	}, []string{"feature"})
	if reg != nil {
		if err := reg.Register(m.gauge); err != nil {
			// A scorer for a new model in the same process: reuse the
			// registered gauges, forgetting the old model's values.
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				panic(err)
			}
			m.gauge = are.ExistingCollector.(*prometheus.GaugeVec)
			m.gauge.Reset()
		}
	}
	return m
}

// observe samples one row's raw values (in the reference's feature order).
func (m *driftMonitor) observe(x []float64) {
	if m == nil {
		return
	}
	if m.stride++; m.stride < driftStride {
		return
	}
	m.stride = 0
	nf := len(m.ref.Features)
	slot := m.ring[m.pos*nf : (m.pos+1)*nf]
	full := m.filled == m.window
	for j, edges := range m.ref.Edges {
		b := binLinear(edges, x[j])
		if full {
			m.counts[j][slot[j]]--
		}
		slot[j] = uint8(b)
		m.counts[j][b]++
	}
	if m.pos++; m.pos == m.window {
		m.pos = 0
	}
	if !full {
		m.filled++
	}
	if m.since++; m.since >= min(driftPublishEvery, m.window) {
		m.since = 0
		m.publish()
	}
}

// binLinear is drift.Bin by a linear scan: faster for ten edges.
func binLinear(edges []float64, v float64) int {
	for i, e := range edges {
		if v <= e {
			return i
		}
	}
	return len(edges) // above every edge, or NaN
}

// publish sets every feature's gauge.
func (m *driftMonitor) publish() {
	for j, name := range m.ref.Features {
		m.psi[j] = drift.PSI(m.ref.Shares[j], m.counts[j])
		m.gauge.WithLabelValues(name).Set(m.psi[j])
	}
}

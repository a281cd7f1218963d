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
// of each feature against the running model's training reference as
// escapement_feature_psi{feature}. It follows the model: when the reference
// passed to observe changes (a hot reload swapped the artifact), the window
// starts afresh and the old model's gauges are dropped. A nil monitor does
// nothing.
type driftMonitor struct {
	ref    *drift.Reference // nil: the model has none, nothing is exported
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

// newDriftMonitor returns a monitor of window sampled rows (0 =
// DefaultDriftWindow), or nil when window < 0 (disabled).
func newDriftMonitor(window int, reg prometheus.Registerer) *driftMonitor {
	if window < 0 {
		return nil
	}
	if window == 0 {
		window = DefaultDriftWindow
	}
	m := &driftMonitor{window: window}
	m.gauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "escapement_feature_psi",
		Help: "Population stability index of each feature over the latest sampled scored rows against the model's training data (0.1 moderate, 0.25 major shift).",
	}, []string{"feature"})
	if reg != nil {
		if err := reg.Register(m.gauge); err != nil {
			// Another scorer in the same process: share the gauges.
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

// use starts a fresh window on ref's bins (nil: export nothing).
func (m *driftMonitor) use(ref *drift.Reference) {
	m.gauge.Reset()
	m.ref, m.pos, m.filled, m.stride, m.since = nil, 0, 0, 0, 0
	if ref == nil || len(ref.Features) == 0 {
		return
	}
	for _, s := range ref.Shares {
		if len(s) > 256 {
			return // bin indices are bytes; references have about 10 bins
		}
	}
	m.ref = ref
	m.ring = make([]uint8, m.window*len(ref.Features))
	m.counts = make([][]float64, len(ref.Features))
	for j := range m.counts {
		m.counts[j] = make([]float64, len(ref.Shares[j]))
	}
	m.psi = make([]float64, len(ref.Features))
}

// observe samples one row's raw values (in the reference's feature order)
// scored by a model whose reference is ref.
func (m *driftMonitor) observe(ref *drift.Reference, x []float64) {
	if m == nil {
		return
	}
	if ref != m.ref {
		m.use(ref)
	}
	if m.ref == nil {
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

// binLinear is drift.Bin for increasing edges (drift.Reference.Validate
// checks them): the number of edges below v, counted without a branch (a scan
// that stops at v's bin mispredicts its exit on most features of a row).
// NaN falls in the last bin, as in drift.Bin.
func binLinear(edges []float64, v float64) int {
	if v != v {
		return len(edges)
	}
	n := 0
	for _, e := range edges {
		below := 0
		if e < v {
			below = 1 // SETcc, no jump
		}
		n += below
	}
	return n
}

// publish sets every feature's gauge.
func (m *driftMonitor) publish() {
	for j, name := range m.ref.Features {
		m.psi[j] = drift.PSI(m.ref.Shares[j], m.counts[j])
		m.gauge.WithLabelValues(name).Set(m.psi[j])
	}
}

package kvm

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	records *prometheus.CounterVec // by result
	lost    prometheus.Counter
	// lostEmulation counts kvm_emulate_insn records lost: emulation counts
	// are low by that much.
	lostEmulation prometheus.Counter
	emitted       prometheus.Counter
	vms           prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "escapement_kvm_records_total",
			Help: "Trace records read from the kernel, by result: decoded, folded (kvm_exit merged into its companion), malformed, unknown, unattributed (task of no known VM).",
		}, []string{"result"}),
		lost: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "escapement_kvm_lost_records_total",
			Help: "Trace records lost in the kernel (ring-buffer overruns and drops); raise --buffer-kb when it grows.",
		}),
		lostEmulation: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "escapement_kvm_lost_emulation_records_total",
			Help: "kvm_emulate_insn records lost in the kernel: emulation counts are low by this much; raise the emulation buffer size when it grows.",
		}),
		emitted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "escapement_kvm_events_emitted_total",
			Help: "Canonical events handed to the next stage.",
		}),
		vms: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "escapement_kvm_vms",
			Help: "VMM processes currently followed.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.records, m.lost, m.lostEmulation, m.emitted, m.vms} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("kvm: register metrics (use one registry per collector or prometheus.WrapRegistererWith): %w", err)
		}
	}
	return m, nil
}

// observe adds the growth of the decoder's counters since prev.
func (m *metrics) observe(prev *DecodeStats, cur DecodeStats) {
	add := func(label string, a, b uint64) {
		if b > a {
			m.records.WithLabelValues(label).Add(float64(b - a))
		}
	}
	add("decoded", prev.Decoded, cur.Decoded)
	add("folded", prev.Folded, cur.Folded)
	add("malformed", prev.Malformed, cur.Malformed)
	add("unknown", prev.Unknown, cur.Unknown)
	add("unattributed", prev.Unattributed, cur.Unattributed)
	*prev = cur
}

package scoring

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	rows      *prometheus.CounterVec
	anomalous prometheus.Counter
	records   *prometheus.CounterVec
	evictions prometheus.Counter
	vms       prometheus.Gauge
	incidents prometheus.Gauge
	ensemble  prometheus.Histogram

	scored, stale, invalid      prometheus.Counter
	opened, escalated, resolved prometheus.Counter

	// Model in force (reload.go): info gauge and windows scored per version.
	info       *prometheus.GaugeVec
	byModel    *prometheus.CounterVec
	modelRows  prometheus.Counter
	infoLabels string
}

// Row results and record kinds (metric labels).
const (
	resultScored  = "scored"
	resultStale   = "stale"
	resultInvalid = "invalid"
	kindOpen      = "open"
	kindEscalate  = "escalate"
	kindResolve   = "resolve"
)

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "escapement_scoring_rows_total",
			Help: "Feature rows seen by the scorer, by result (scored, stale duplicate, invalid).",
		}, []string{"result"}),
		anomalous: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "escapement_scoring_anomalous_windows_total",
			Help: "Windows whose ensemble score crossed the threshold.",
		}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "escapement_scoring_records_total",
			Help: "Anomaly records emitted, by kind (open, escalate, resolve).",
		}, []string{"kind"}),
		evictions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "escapement_scoring_vm_evictions_total",
			Help: "VM states evicted for idleness or to respect the VM bound.",
		}),
		vms: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "escapement_scoring_vms",
			Help: "VMs with scorer state.",
		}),
		incidents: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "escapement_scoring_open_incidents",
			Help: "Incidents currently open.",
		}),
		ensemble: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "escapement_scoring_ensemble_score",
			Help:    "Ensemble score (−log10 tail probability) of scored windows.",
			Buckets: []float64{0.5, 1, 2, 3, 4, 5, 6, 8, 10, 15},
		}),
	}
	m.info = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "escapement_model_info",
		Help: "The model version the scorer runs (value 1; the label changes on a hot reload).",
	}, []string{"version"})
	m.byModel = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "escapement_scoring_model_windows_total",
		Help: "Windows scored, by the model version that scored them.",
	}, []string{"version"})
	m.scored, m.stale, m.invalid = m.rows.WithLabelValues(resultScored), m.rows.WithLabelValues(resultStale), m.rows.WithLabelValues(resultInvalid)
	m.opened, m.escalated, m.resolved = m.records.WithLabelValues(kindOpen), m.records.WithLabelValues(kindEscalate), m.records.WithLabelValues(kindResolve)
	if reg != nil {
		reg.MustRegister(m.rows, m.anomalous, m.records, m.evictions, m.vms, m.incidents, m.ensemble, m.info, m.byModel)
	}
	return m
}

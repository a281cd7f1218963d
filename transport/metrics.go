package transport

import (
	"errors"
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
)

const metricPrefix = "escapement_kafka_"

// register registers cs on reg; a nil reg registers nothing.
func register(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	if reg == nil {
		return nil
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return fmt.Errorf("transport: metrics already registered: give each producer a distinct ClientID and each group a distinct GroupID, or wrap the registerer with prometheus.WrapRegistererWith: %w", err)
			}
			return fmt.Errorf("transport: register metrics: %w", err)
		}
	}
	return nil
}

// unregister undoes register.
func unregister(reg prometheus.Registerer, cs ...prometheus.Collector) {
	if reg == nil {
		return
	}
	for _, c := range cs {
		reg.Unregister(c)
	}
}

// producerMetrics are the producer's own counters.
type producerMetrics struct {
	produced    *prometheus.CounterVec // topic
	failed      *prometheus.CounterVec // topic
	deadLetters *prometheus.CounterVec // stage
}

func newProducerMetrics(clientID string) *producerMetrics {
	l := prometheus.Labels{"client_id": clientID}
	return &producerMetrics{
		produced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricPrefix + "produced_messages_total", ConstLabels: l,
			Help: "Messages acknowledged by the brokers, by topic.",
		}, []string{"topic"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricPrefix + "produce_failed_messages_total", ConstLabels: l,
			Help: "Messages Produce returned an error for, by topic.",
		}, []string{"topic"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricPrefix + "dead_letters_total", ConstLabels: l,
			Help: "Messages written to the dead-letter topic, by stage.",
		}, []string{"stage"}),
	}
}

func (m *producerMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.produced, m.failed, m.deadLetters}
}

// groupMetrics are the consumer group's own counters.
type groupMetrics struct {
	handled      *prometheus.CounterVec // topic
	commits      *prometheus.CounterVec // result
	revocations  prometheus.Counter
	generations  prometheus.Counter
	fetchRetries prometheus.Counter
	assigned     prometheus.Gauge
	retained     prometheus.Gauge
}

func newGroupMetrics(groupID string) *groupMetrics {
	l := prometheus.Labels{"group": groupID}
	return &groupMetrics{
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricPrefix + "handled_messages_total", ConstLabels: l,
			Help: "Messages passed to Handler.Handle, by topic.",
		}, []string{"topic"}),
		commits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricPrefix + "commits_total", ConstLabels: l,
			Help: "Offset commit requests, by result (ok or error).",
		}, []string{"result"}),
		revocations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metricPrefix + "revoked_partitions_total", ConstLabels: l,
			Help: "Partitions taken away from this member (rebalance or stop).",
		}),
		generations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metricPrefix + "generations_total", ConstLabels: l,
			Help: "Group generations this member took part in.",
		}),
		fetchRetries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metricPrefix + "fetch_retries_total", ConstLabels: l,
			Help: "Partition readers reopened after a failed fetch (broker restart, network error).",
		}),
		assigned: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: metricPrefix + "assigned_partitions", ConstLabels: l,
			Help: "Partitions currently assigned to this member.",
		}),
		retained: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: metricPrefix + "retained_deliveries", ConstLabels: l,
			Help: "Deliveries still retained by the stage at the last commit, holding offsets back.",
		}),
	}
}

func (m *groupMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.handled, m.commits, m.revocations, m.generations, m.fetchRetries, m.assigned, m.retained}
}

// statsCollector exports kafka-go's Writer.Stats and Reader.Stats at scrape
// time. kafka-go resets its counters on every Stats call, so the collector
// accumulates them; a reader's last Stats are taken when it is removed.
type statsCollector struct {
	mu      sync.Mutex
	writer  *kafka.Writer
	readers map[*kafka.Reader]struct{}
	w       writerTotals
	r       map[string]*readerTotals // by topic

	descs map[string]*prometheus.Desc
}

type durTotals struct {
	count uint64
	sum   float64 // seconds
}

func (d *durTotals) add(s kafka.DurationStats) {
	d.count += uint64(s.Count)
	d.sum += s.Sum.Seconds()
}

type writerTotals struct {
	writes, messages, bytes, errors, retries float64
	batchMsgs                                durTotals // sum is messages, not seconds
	batch, write, wait                       durTotals
}

type readerTotals struct {
	messages, bytes, fetches, errors, timeouts, dials float64
}

func newStatsCollector(constLabels prometheus.Labels) *statsCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(metricPrefix+name, help, labels, constLabels)
	}
	return &statsCollector{
		readers: make(map[*kafka.Reader]struct{}),
		r:       make(map[string]*readerTotals),
		descs: map[string]*prometheus.Desc{
			"w_writes":   d("writer_writes_total", "Produce requests sent."),
			"w_messages": d("writer_messages_total", "Messages written."),
			"w_bytes":    d("writer_bytes_total", "Message bytes written."),
			"w_errors":   d("writer_errors_total", "Produce errors."),
			"w_retries":  d("writer_retries_total", "Produce retries."),
			"w_batch":    d("writer_batch_seconds", "Time to fill a batch."),
			"w_write":    d("writer_write_seconds", "Time to write a batch."),
			"w_wait":     d("writer_wait_seconds", "Time waiting for a broker response."),
			"w_size":     d("writer_batch_messages", "Messages per batch."),
			"r_messages": d("reader_messages_total", "Messages fetched.", "topic"),
			"r_bytes":    d("reader_bytes_total", "Message bytes fetched.", "topic"),
			"r_fetches":  d("reader_fetches_total", "Fetch requests.", "topic"),
			"r_errors":   d("reader_errors_total", "Fetch errors.", "topic"),
			"r_timeouts": d("reader_timeouts_total", "Fetch timeouts.", "topic"),
			"r_dials":    d("reader_dials_total", "Connections opened by readers.", "topic"),
			"r_lag":      d("reader_lag", "Messages between the reader's offset and the partition end.", "topic", "partition"),
			"r_offset":   d("reader_offset", "Next offset the reader fetches.", "topic", "partition"),
		},
	}
}

func (s *statsCollector) setWriter(w *kafka.Writer) {
	s.mu.Lock()
	s.writer = w
	s.mu.Unlock()
}

func (s *statsCollector) addReader(r *kafka.Reader) {
	s.mu.Lock()
	s.readers[r] = struct{}{}
	s.mu.Unlock()
}

// removeReader takes r's last stats and forgets it; call before r.Close.
func (s *statsCollector) removeReader(r *kafka.Reader) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accumulateReader(r.Stats())
	delete(s.readers, r)
}

func (s *statsCollector) accumulateReader(st kafka.ReaderStats) *readerTotals {
	t := s.r[st.Topic]
	if t == nil {
		t = &readerTotals{}
		s.r[st.Topic] = t
	}
	t.messages += float64(st.Messages)
	t.bytes += float64(st.Bytes)
	t.fetches += float64(st.Fetches)
	t.errors += float64(st.Errors)
	t.timeouts += float64(st.Timeouts)
	t.dials += float64(st.Dials)
	return t
}

// Describe implements prometheus.Collector.
// A producer's collector describes the writer metrics, a group's the reader
// metrics: their constant labels differ (client_id, group).
func (s *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	s.mu.Lock()
	writer := s.writer != nil
	s.mu.Unlock()
	for key, d := range s.descs {
		if (key[0] == 'w') == writer {
			ch <- d
		}
	}
}

// Collect implements prometheus.Collector.
func (s *statsCollector) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	defer s.mu.Unlock()
	counter := func(key string, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(s.descs[key], prometheus.CounterValue, v, labels...)
	}
	gauge := func(key string, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(s.descs[key], prometheus.GaugeValue, v, labels...)
	}
	summary := func(key string, d durTotals) {
		ch <- prometheus.MustNewConstSummary(s.descs[key], d.count, d.sum, nil)
	}
	if s.writer != nil {
		st := s.writer.Stats()
		w := &s.w
		w.writes += float64(st.Writes)
		w.messages += float64(st.Messages)
		w.bytes += float64(st.Bytes)
		w.errors += float64(st.Errors)
		w.retries += float64(st.Retries)
		w.batch.add(st.BatchTime)
		w.write.add(st.WriteTime)
		w.wait.add(st.WaitTime)
		w.batchMsgs.count += uint64(st.BatchSize.Count)
		w.batchMsgs.sum += float64(st.BatchSize.Sum)
		counter("w_writes", w.writes)
		counter("w_messages", w.messages)
		counter("w_bytes", w.bytes)
		counter("w_errors", w.errors)
		counter("w_retries", w.retries)
		summary("w_batch", w.batch)
		summary("w_write", w.write)
		summary("w_wait", w.wait)
		summary("w_size", w.batchMsgs)
	}
	for r := range s.readers {
		st := r.Stats()
		s.accumulateReader(st)
		gauge("r_lag", float64(st.Lag), st.Topic, st.Partition)
		gauge("r_offset", float64(st.Offset), st.Topic, st.Partition)
	}
	if s.writer != nil {
		return
	}
	for topic, t := range s.r {
		counter("r_messages", t.messages, topic)
		counter("r_bytes", t.bytes, topic)
		counter("r_fetches", t.fetches, topic)
		counter("r_errors", t.errors, topic)
		counter("r_timeouts", t.timeouts, topic)
		counter("r_dials", t.dials, topic)
	}
}

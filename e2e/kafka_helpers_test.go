package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/anomaly"
	"github.com/escapement/escapement/collectors"
	"github.com/escapement/escapement/collectors/sim"
	"github.com/escapement/escapement/events"
	"github.com/escapement/escapement/features"
	"github.com/escapement/escapement/models"
	"github.com/escapement/escapement/models/defaultmodel"
	"github.com/escapement/escapement/scoring"
	"github.com/escapement/escapement/transport"
)

// minPartitions is the least partition count the real-Kafka tests accept on
// the pipeline's topics.
const minPartitions = 3

// realKafka returns a config for the Apache Kafka named by KAFKA_BROKERS,
// with the pipeline's topics present and at least minPartitions partitions
// each, or skips the test when KAFKA_BROKERS is unset.
func realKafka(t *testing.T) transport.Config {
	t.Helper()
	brokers := os.Getenv("KAFKA_BROKERS")
	if brokers == "" {
		t.Skip("KAFKA_BROKERS is not set: start Apache Kafka with `bash scripts/kafka start` and run with KAFKA_BROKERS=127.0.0.1:9092")
	}
	cfg := transport.Config{Brokers: strings.Split(brokers, ","), ClientID: "escapement-it"}.WithDefaults()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var specs []transport.TopicSpec
	topics := []string{events.Topic, features.Topic, anomaly.Topic, transport.DeadLetterTopic}
	for _, tp := range topics {
		specs = append(specs, transport.TopicSpec{Name: tp, Partitions: 6})
	}
	require.NoError(t, transport.EnsureTopics(ctx, cfg, specs), "create the topics on %s", brokers)
	for _, tp := range topics[:3] {
		n := len(partitionsOf(ctx, t, cfg, tp))
		require.GreaterOrEqual(t, n, minPartitions,
			"topic %s has %d partitions: delete it (or recreate the broker's data with scripts/kafka) so the tests can create it with 6", tp, n)
	}
	return cfg
}

func kafkaClient(cfg transport.Config) *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Timeout: 10 * time.Second}
}

// partitionsOf lists the partition ids of topic.
func partitionsOf(ctx context.Context, t *testing.T, cfg transport.Config, topic string) []int {
	t.Helper()
	md, err := kafkaClient(cfg).Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	require.NoError(t, err)
	var ids []int
	for _, tp := range md.Topics {
		require.NoError(t, tp.Error, "metadata of %s", topic)
		for _, p := range tp.Partitions {
			ids = append(ids, p.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

// startAtEnd commits, for a group that has never run, the current end of
// every partition of topic, so the group reads only what this test produces
// and not what earlier runs left on the broker's fixed topics.
func startAtEnd(t *testing.T, cfg transport.Config, group, topic string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := kafkaClient(cfg)
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for _, p := range partitionsOf(ctx, t, cfg, topic) {
		req.Topics[topic] = append(req.Topics[topic], kafka.LastOffsetOf(p))
	}
	lo, err := cl.ListOffsets(ctx, req)
	require.NoError(t, err)
	commit := &kafka.OffsetCommitRequest{GroupID: group, GenerationID: -1, Topics: map[string][]kafka.OffsetCommit{}}
	for _, po := range lo.Topics[topic] {
		require.NoError(t, po.Error)
		commit.Topics[topic] = append(commit.Topics[topic], kafka.OffsetCommit{Partition: po.Partition, Offset: po.LastOffset})
	}
	resp, err := cl.OffsetCommit(ctx, commit)
	require.NoError(t, err, "seed offsets of group %s", group)
	for _, ps := range resp.Topics {
		for _, p := range ps {
			require.NoError(t, p.Error, "seed offset of group %s partition %d", group, p.Partition)
		}
	}
}

// itFleet is one test run's simulated fleet: fresh VM ids (seeded from the
// clock), event times starting now, and the reference computation.
type itFleet struct {
	fleet  *sim.Fleet
	steps  [][]events.Event // 500 ms collection steps
	nev    int
	vms    map[string]bool
	floods map[string]bool // VMs with a flood scenario
	rows   []features.Row  // the featurizer run directly on every event
	want   map[incidentKey]anomaly.Record
	runID  string
}

// incidentKey is what consumers de-duplicate anomaly records by.
type incidentKey struct {
	id  string
	rev int
}

func newITFleet(t *testing.T, vms, scenarios, placebos int) *itFleet {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	fleet, err := sim.New(sim.Config{Seed: seed, VMs: vms, Start: time.Now(), Duration: 40 * time.Second,
		Scenarios: scenarios, Placebos: placebos})
	require.NoError(t, err)
	f := &itFleet{fleet: fleet, vms: map[string]bool{}, floods: map[string]bool{}, runID: fmt.Sprintf("%x", seed)}
	for _, id := range fleet.VMIDs() {
		f.vms[id] = true
	}
	for _, s := range fleet.Truth() {
		if !s.Placebo && s.Intensity == sim.Flood {
			f.floods[s.VMID] = true
		}
	}
	require.NotEmpty(t, f.floods, "the fleet needs flood scenarios")
	for now := fleet.Now(); now < fleet.End(); {
		now = min(now+int64(500*time.Millisecond), fleet.End())
		var step []events.Event
		require.NoError(t, fleet.Step(now, func(evs []events.Event) error {
			step = append(step, evs...)
			return nil
		}))
		f.steps = append(f.steps, step)
		f.nev += len(step)
	}
	ref := features.New(itFeatures())
	for _, st := range f.steps {
		ref.Add(st, func(r features.Row) { f.rows = append(f.rows, r) })
	}
	ref.Flush(func(r features.Row) { f.rows = append(f.rows, r) })
	f.want = referenceIncidents(t, f.rows)
	t.Logf("fleet seed %s: %d VMs, %d events, %d windows, %d flood VMs, %d reference records",
		f.runID, len(f.vms), f.nev, len(f.rows), len(f.floods), len(f.want))
	return f
}

// itFeatures is the featurizer configuration of the stages and the reference.
func itFeatures() features.Config { return features.Config{Window: time.Second} }

// itScoring is the scorer configuration `escapement score` uses by default.
func itScoring() scoring.Config { return scoring.Config{TopFeatures: 5, GapWindows: 1} }

func itModel(t *testing.T) *models.Artifact {
	t.Helper()
	a, err := defaultmodel.Load(models.SchemaHash(features.Names()), features.Names())
	require.NoError(t, err)
	return a
}

// referenceIncidents scores rows with one scorer, each VM's rows in window
// order, as a single partition owner sees them.
func referenceIncidents(t *testing.T, rows []features.Row) map[incidentKey]anomaly.Record {
	t.Helper()
	sorted := slices.Clone(rows)
	slices.SortStableFunc(sorted, func(a, b features.Row) int {
		if a.Start != b.Start {
			return int(a.Start - b.Start)
		}
		return strings.Compare(a.VMID, b.VMID)
	})
	sc := scoring.NewScorer(itModel(t), itScoring(), nil, nil)
	want := map[incidentKey]anomaly.Record{}
	for _, r := range sorted {
		recs, err := sc.Score(r)
		require.NoError(t, err)
		for _, rec := range recs {
			want[incidentKey{rec.ID, rec.Revision}] = rec
		}
	}
	return want
}

// publish writes the fleet's steps through a collectors.Publisher, flushing
// after each step and sleeping pace between steps; the publisher retries
// failed produces until ctx ends.
func (f *itFleet) publish(ctx context.Context, t *testing.T, cfg transport.Config, pace time.Duration, afterStep func(i int)) {
	t.Helper()
	prod, err := transport.NewProducer(withID(cfg, "collect-"+f.runID), testLog(), nil)
	require.NoError(t, err)
	defer prod.Close()
	pub, err := collectors.NewPublisher(prod, collectors.PublisherConfig{RetryMax: time.Second}, testLog(), nil)
	require.NoError(t, err)
	for i, st := range f.steps {
		require.NoError(t, pub.Publish(ctx, st))
		require.NoError(t, pub.Flush(ctx))
		if afterStep != nil {
			afterStep(i)
		}
		if pace > 0 {
			time.Sleep(pace)
		}
	}
}

// windowKeys returns the (vm, window start) of every reference row.
func (f *itFleet) windowKeys() map[rowKey]bool {
	keys := make(map[rowKey]bool, len(f.rows))
	for _, r := range f.rows {
		keys[rowKey{r.VMID, r.Start}] = true
	}
	return keys
}

// featureTally de-duplicates the feature rows of this run's VMs.
type featureTally struct {
	rows map[rowKey][]float64
	dups int
}

func tallyFeatures(t *testing.T, msgs []transport.Message, vms map[string]bool) featureTally {
	t.Helper()
	ft := featureTally{rows: map[rowKey][]float64{}}
	for _, m := range msgs {
		if !vms[string(m.Key)] {
			continue
		}
		rows, err := features.DecodeRows(m.Value, nil)
		require.NoError(t, err)
		for _, r := range rows {
			k := rowKey{r.VMID, r.Start}
			if _, ok := ft.rows[k]; ok {
				ft.dups++
			}
			ft.rows[k] = r.Values
		}
	}
	return ft
}

// anomalyTally de-duplicates the anomaly records of this run's VMs by (id, revision).
type anomalyTally struct {
	recs map[incidentKey]anomaly.Record
	ids  map[string]bool
	msgs int
	dups int
}

func tallyAnomalies(t *testing.T, msgs []transport.Message, vms map[string]bool) anomalyTally {
	t.Helper()
	at := anomalyTally{recs: map[incidentKey]anomaly.Record{}, ids: map[string]bool{}}
	for _, m := range msgs {
		if !vms[string(m.Key)] {
			continue
		}
		var r anomaly.Record
		require.NoError(t, json.Unmarshal(m.Value, &r), "anomaly record %s", m.Value)
		require.Equal(t, r.VM.ID, string(m.Key), "anomaly records are keyed by vm_id")
		at.msgs++
		k := incidentKey{r.ID, r.Revision}
		if _, ok := at.recs[k]; ok {
			at.dups++
		}
		at.recs[k] = r
		at.ids[r.ID] = true
	}
	return at
}

func (at anomalyTally) vmsWithIncidents() map[string]bool {
	out := map[string]bool{}
	for _, r := range at.recs {
		out[r.VM.ID] = true
	}
	return out
}

// requireSameIncidents checks that got holds exactly the reference (id,
// revision) pairs, naming the first differences.
func requireSameIncidents(t *testing.T, want map[incidentKey]anomaly.Record, got map[incidentKey]anomaly.Record) {
	t.Helper()
	var missing, extra []string
	for k, r := range want {
		if _, ok := got[k]; !ok {
			missing = append(missing, fmt.Sprintf("%s rev %d (vm %s, %s)", k.id, k.rev, r.VM.ID, r.Status))
		}
	}
	for k, r := range got {
		if _, ok := want[k]; !ok {
			extra = append(extra, fmt.Sprintf("%s rev %d (vm %s, %s)", k.id, k.rev, r.VM.ID, r.Status))
		}
	}
	slices.Sort(missing)
	slices.Sort(extra)
	require.Empty(t, missing, "reference incidents missing from the anomalies topic")
	require.Empty(t, extra, "incidents on the anomalies topic that a single scorer does not produce")
}

// stageMember is one featurize or score group member run in the test process.
type stageMember struct {
	name   string
	cancel context.CancelFunc
	group  transport.Group
	prod   transport.Producer
	done   chan struct{}
	h      *recordingHandler
	// tolerate: a failing group is reported by err, not as a test error
	// (a supervisor restarts the member).
	tolerate bool
	err      error
}

// stop ends the member: crash leaves the group without telling the stage
// (its Revoked is not called and nothing more is handled), as when the
// process dies; otherwise the group revokes the stage's partitions cleanly.
func (m *stageMember) stop(crash bool) {
	if crash {
		m.h.crash()
	}
	_ = m.group.Close()
	m.cancel()
	<-m.done
	_ = m.prod.Close()
}

// recordingHandler forwards to a stage and records what it handled.
type recordingHandler struct {
	inner transport.Handler
	log   *handledLog

	mu      sync.Mutex
	crashed bool
	parts   []transport.TopicPartition // the current assignment
}

func (h *recordingHandler) crash() {
	h.mu.Lock()
	h.crashed = true
	h.mu.Unlock()
}

func (h *recordingHandler) isCrashed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.crashed
}

func (h *recordingHandler) assignment() []transport.TopicPartition {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.parts)
}

func (h *recordingHandler) Assigned(ctx context.Context, parts []transport.TopicPartition) {
	h.mu.Lock()
	h.parts = slices.Clone(parts)
	h.mu.Unlock()
	h.inner.Assigned(ctx, parts)
}

func (h *recordingHandler) Revoked(ctx context.Context, parts []transport.TopicPartition) {
	h.mu.Lock()
	h.parts = nil
	h.mu.Unlock()
	if h.isCrashed() {
		return
	}
	h.inner.Revoked(ctx, parts)
}

func (h *recordingHandler) Handle(ctx context.Context, d transport.Delivery) error {
	if h.isCrashed() {
		return context.Canceled
	}
	if err := h.inner.Handle(ctx, d); err != nil {
		return err
	}
	if h.log != nil {
		h.log.add(d.Message())
	}
	return nil
}

// handledLog counts the feature rows a score stage handled successfully,
// across members.
type handledLog struct {
	mu      sync.Mutex
	vms     map[string]bool
	handled map[rowKey]int
}

func newHandledLog(vms map[string]bool) *handledLog {
	return &handledLog{vms: vms, handled: map[rowKey]int{}}
}

func (l *handledLog) add(m *transport.Message) {
	if !l.vms[string(m.Key)] {
		return
	}
	rows, err := features.DecodeRows(m.Value, nil)
	if err != nil {
		return // the stage dead-lettered it
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range rows {
		l.handled[rowKey{r.VMID, r.Start}]++
	}
}

// counts returns the distinct rows handled and how many were handled again.
func (l *handledLog) counts(want map[rowKey]bool) (covered, again int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, n := range l.handled {
		if want[k] {
			covered++
		}
		again += n - 1
	}
	return covered, again
}

// startFeaturizer runs a featurize stage as a member of group.
func startFeaturizer(ctx context.Context, t *testing.T, cfg transport.Config, group, name string) *stageMember {
	t.Helper()
	prod, err := transport.NewProducer(withID(cfg, name), testLog(), nil)
	require.NoError(t, err)
	stage := features.NewStage(features.StageConfig{Featurizer: itFeatures(), Producer: prod,
		DeadLetter: func(ctx context.Context, m *transport.Message, err error) error {
			return fmt.Errorf("unexpected dead letter: %w", err)
		}}, testLog(), nil)
	return startMember(ctx, t, cfg, fastGroup(group, events.Topic), name, prod, stage, stage.Run, nil)
}

// startScorer runs a score stage with the built-in model as a member of group.
func startScorer(ctx context.Context, t *testing.T, cfg transport.Config, group, name string, log *handledLog) *stageMember {
	t.Helper()
	prod, err := transport.NewProducer(withID(cfg, name), testLog(), nil)
	require.NoError(t, err)
	stage := scoring.NewStage(scoring.StageConfig{Scorer: scoring.NewScorer(itModel(t), itScoring(), testLog(), nil), Producer: prod,
		DeadLetter: func(ctx context.Context, m *transport.Message, err error) error {
			return fmt.Errorf("unexpected dead letter: %w", err)
		}}, testLog(), nil)
	return startMember(ctx, t, cfg, fastGroup(group, features.Topic), name, prod, stage, stage.Run, log)
}

func startMember(ctx context.Context, t *testing.T, cfg transport.Config, gc transport.GroupConfig, name string,
	prod transport.Producer, stage transport.Handler, run func(context.Context) error, log *handledLog) *stageMember {
	t.Helper()
	mctx, cancel := context.WithCancel(ctx)
	g, err := transport.NewGroup(withID(cfg, name), gc, testLog(), nil)
	require.NoError(t, err)
	m := &stageMember{name: name, cancel: cancel, group: g, prod: prod, done: make(chan struct{}),
		h: &recordingHandler{inner: stage, log: log}, tolerate: tolerateFailure(ctx)}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = run(mctx) }()
	go func() {
		defer wg.Done()
		defer cancel() // a failed group ends the member, as it ends the process
		if err := g.Run(mctx, m.h); err != nil && !m.h.isCrashed() {
			m.err = err
			if !m.tolerate {
				t.Errorf("%s: %v", name, err)
			}
		}
	}()
	go func() { wg.Wait(); close(m.done) }()
	t.Cleanup(func() {
		select {
		case <-m.done:
		default:
			m.stop(false)
		}
	})
	return m
}

type tolerateKey struct{}

// tolerating marks ctx so members started with it report a failed group in
// stageMember.err instead of failing the test.
func tolerating(ctx context.Context) context.Context {
	return context.WithValue(ctx, tolerateKey{}, true)
}

func tolerateFailure(ctx context.Context) bool { v, _ := ctx.Value(tolerateKey{}).(bool); return v }

package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
)

// group is the Group on a kafka-go ConsumerGroup. Each generation runs in
// one function started with Generation.Start, so kafka-go waits for the
// handler's Revoked and the final commit before it joins the next
// generation: the commit still carries the generation that owned the
// partitions.
type group struct {
	cfg    Config
	gc     GroupConfig
	dialer *kafka.Dialer
	cg     *kafka.ConsumerGroup
	log    *slog.Logger
	m      *groupMetrics
	stats  *statsCollector
	unreg  func()

	closed  atomic.Bool
	running atomic.Bool
}

// NewGroup joins the consumer group gc.GroupID on the brokers of cfg. It
// consumes nothing until Run. reg may be nil.
func NewGroup(cfg Config, gc GroupConfig, logger *slog.Logger, reg prometheus.Registerer) (Group, error) {
	if err := errors.Join(cfg.Validate(), gc.Validate()); err != nil {
		return nil, err
	}
	cfg, gc = cfg.WithDefaults(), gc.WithDefaults()
	dialer, err := cfg.dialer()
	if err != nil {
		return nil, err
	}
	logger = orDiscard(logger).With(logGroup, gc.GroupID)
	start := kafka.FirstOffset
	if gc.StartOffset == StartLast {
		start = kafka.LastOffset
	}
	g := &group{
		cfg: cfg, gc: gc, dialer: dialer, log: logger,
		m:     newGroupMetrics(gc.GroupID),
		stats: newStatsCollector(prometheus.Labels{"group": gc.GroupID}),
	}
	cs := append(g.m.collectors(), g.stats)
	if err := register(reg, cs...); err != nil {
		return nil, err
	}
	g.unreg = func() { unregister(reg, cs...) }
	g.cg, err = kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                    gc.GroupID,
		Brokers:               cfg.Brokers,
		Dialer:                dialer,
		Topics:                gc.Topics,
		HeartbeatInterval:     gc.HeartbeatInterval,
		SessionTimeout:        gc.SessionTimeout,
		RebalanceTimeout:      gc.RebalanceTimeout,
		JoinGroupBackoff:      gc.JoinGroupBackoff,
		WatchPartitionChanges: gc.WatchPartitionChanges,
		StartOffset:           start,
		Timeout:               cfg.DialTimeout,
		Logger:                kafkaLogger(logger, slog.LevelDebug),
		ErrorLogger:           kafkaLogger(logger, slog.LevelWarn),
	})
	if err != nil {
		g.unreg()
		return nil, fmt.Errorf("transport: consumer group %s: %w", gc.GroupID, err)
	}
	return g, nil
}

// Run consumes generation after generation until ctx is done, the group is
// closed (both return nil) or h.Handle fails (its error is returned).
func (g *group) Run(ctx context.Context, h Handler) error {
	if g.closed.Load() {
		return ErrClosed
	}
	if !g.running.CompareAndSwap(false, true) {
		return errors.New("transport: Group.Run is already running: run one Handler per Group")
	}
	defer g.running.Store(false)
	for {
		gen, err := g.cg.Next(ctx)
		switch {
		case err == nil:
		case ctx.Err() != nil, errors.Is(err, kafka.ErrGroupClosed):
			return nil
		default:
			// kafka-go joins again by itself after a backoff.
			g.log.Warn("joining consumer group failed; retrying", logErr, err)
			continue
		}
		if err := g.runGeneration(ctx, gen, h); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// runGeneration runs gen inside gen.Start and waits for it.
func (g *group) runGeneration(ctx context.Context, gen *kafka.Generation, h Handler) error {
	g.m.generations.Inc()
	done := make(chan error, 1)
	gen.Start(func(genCtx context.Context) {
		done <- g.generation(ctx, genCtx, gen, h)
	})
	return <-done
}

// assignment is one partition of a generation with its start offset.
type assignment struct {
	tp     TopicPartition
	offset int64
	t      *tracker
}

func (g *group) generation(runCtx, genCtx context.Context, gen *kafka.Generation, h Handler) error {
	var as []assignment
	for topic, parts := range gen.Assignments {
		for _, p := range parts {
			as = append(as, assignment{tp: TopicPartition{Topic: topic, Partition: p.ID}, offset: p.Offset, t: newTracker()})
		}
	}
	slices.SortFunc(as, func(a, b assignment) int {
		if a.tp.Topic != b.tp.Topic {
			if a.tp.Topic < b.tp.Topic {
				return -1
			}
			return 1
		}
		return a.tp.Partition - b.tp.Partition
	})
	tps := make([]TopicPartition, len(as))
	for i, a := range as {
		tps[i] = a.tp
	}
	g.log.Info("partitions assigned", logGen, gen.ID, logParts, tps)
	g.m.assigned.Set(float64(len(as)))

	// ctx ends with the generation, with Run's ctx, or when a partition fails.
	ctx, cancel := context.WithCancelCause(genCtx)
	defer cancel(nil)
	stopAfter := context.AfterFunc(runCtx, func() { cancel(context.Cause(runCtx)) })
	defer stopAfter()

	if len(as) > 0 {
		h.Assigned(ctx, tps)
	}

	var (
		wg       sync.WaitGroup
		errMu    sync.Mutex
		firstErr error
	)
	for _, a := range as {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := g.consume(ctx, a, h); err != nil {
				errMu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				errMu.Unlock()
				cancel(err)
			}
		}()
	}
	committed := make(map[TopicPartition]int64, len(as))
	commitLoopDone := make(chan struct{})
	go func() {
		defer close(commitLoopDone)
		tick := time.NewTicker(g.gc.CommitInterval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				g.commit(gen, as, committed, false)
			}
		}
	}()
	wg.Wait()
	<-commitLoopDone

	if len(as) > 0 {
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(runCtx), g.gc.RevokeTimeout)
		h.Revoked(rctx, tps)
		rcancel()
	}
	g.commit(gen, as, committed, true)
	g.m.revocations.Add(float64(len(as)))
	g.m.assigned.Set(0)
	g.log.Info("partitions revoked", logGen, gen.ID, logParts, tps)
	return firstErr
}

// commit commits every partition whose committable offset advanced. final
// closes the trackers first, so later Releases are no-ops.
func (g *group) commit(gen *kafka.Generation, as []assignment, committed map[TopicPartition]int64, final bool) {
	offsets := make(map[string]map[int]int64)
	retained := 0
	for _, a := range as {
		var off int64
		var ok bool
		if final {
			off, ok = a.t.close()
		} else {
			off, ok = a.t.committable()
		}
		retained += a.t.outstanding()
		if !ok {
			continue
		}
		if prev, seen := committed[a.tp]; seen && prev >= off {
			continue
		}
		if offsets[a.tp.Topic] == nil {
			offsets[a.tp.Topic] = make(map[int]int64)
		}
		offsets[a.tp.Topic][a.tp.Partition] = off
	}
	g.m.retained.Set(float64(retained))
	if len(offsets) == 0 {
		return
	}
	if err := gen.CommitOffsets(offsets); err != nil {
		g.m.commits.WithLabelValues("error").Inc()
		g.log.Warn("committing offsets failed; the next commit retries, uncommitted messages are consumed again after a rebalance",
			logGen, gen.ID, logErr, err)
		return
	}
	g.m.commits.WithLabelValues("ok").Inc()
	for topic, parts := range offsets {
		for p, off := range parts {
			committed[TopicPartition{Topic: topic, Partition: p}] = off
		}
	}
}

// consume reads one partition from its assigned offset and hands each
// message to h in offset order until ctx ends or h fails. A fetch error (the
// broker restarting, a network blip) does not end the generation: the
// partition reader is opened again at the next offset after a backoff, and
// if the broker stays away the group's heartbeats fail and kafka-go ends the
// generation, which ends ctx.
func (g *group) consume(ctx context.Context, a assignment, h Handler) error {
	next := a.offset
	backoff := g.gc.ReadBackoffMax
	for {
		n, err := g.consumeFrom(ctx, a, next, h)
		next = n
		if err == nil || ctx.Err() != nil {
			return nil
		}
		var fe *fetchError
		if !errors.As(err, &fe) {
			return err
		}
		g.m.fetchRetries.Inc()
		g.log.Warn("fetch failed; reopening the partition reader", logTopic, a.tp.Topic, logPartition, a.tp.Partition, logErr, fe.err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// fetchError marks a failed fetch, which consume retries.
type fetchError struct{ err error }

func (e *fetchError) Error() string { return "transport: fetch: " + e.err.Error() }
func (e *fetchError) Unwrap() error { return e.err }

// consumeFrom reads the partition from offset until ctx ends, a fetch fails
// (a *fetchError) or h fails; it returns the next offset to read.
func (g *group) consumeFrom(ctx context.Context, a assignment, offset int64, h Handler) (int64, error) {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:        g.cfg.Brokers,
		Topic:          a.tp.Topic,
		Partition:      a.tp.Partition,
		Dialer:         g.dialer,
		MinBytes:       1,
		MaxBytes:       g.gc.MaxBytes,
		MaxWait:        g.gc.MaxWait,
		ReadBackoffMin: g.gc.ReadBackoffMin,
		ReadBackoffMax: g.gc.ReadBackoffMax,
		IsolationLevel: kafka.ReadCommitted,
		Logger:         kafkaLogger(g.log, slog.LevelDebug),
		ErrorLogger:    kafkaLogger(g.log, slog.LevelDebug),
	})
	g.stats.addReader(r)
	defer func() {
		g.stats.removeReader(r)
		if err := r.Close(); err != nil {
			g.log.Debug("closing partition reader", logTopic, a.tp.Topic, logPartition, a.tp.Partition, logErr, err)
		}
	}()
	if err := r.SetOffset(offset); err != nil {
		return offset, fmt.Errorf("transport: seek %s/%d to %d: %w", a.tp.Topic, a.tp.Partition, offset, err)
	}
	handled := g.m.handled.WithLabelValues(a.tp.Topic)
	for {
		km, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return offset, nil
			}
			return offset, &fetchError{fmt.Errorf("%s/%d: %w", a.tp.Topic, a.tp.Partition, err)}
		}
		d := &delivery{msg: fromKafka(&km), t: a.t}
		d.seq = a.t.add(km.Offset)
		err = h.Handle(ctx, d)
		handled.Inc()
		if err != nil {
			// The group keeps its reference: the failed message is not
			// committed and is consumed again by the partition's next owner.
			if ctx.Err() != nil {
				return offset, nil // Handle was interrupted by the end of the generation
			}
			return offset, fmt.Errorf("transport: handler failed on %s/%d offset %d: %w", a.tp.Topic, a.tp.Partition, km.Offset, err)
		}
		d.Release()
		offset = km.Offset + 1
	}
}

// Close leaves the group. A running Run sees its partitions revoked, commits
// and returns nil.
func (g *group) Close() error {
	if g.closed.Swap(true) {
		return nil
	}
	err := g.cg.Close()
	g.unreg()
	if err != nil {
		return fmt.Errorf("transport: close consumer group %s: %w", g.gc.GroupID, err)
	}
	return nil
}

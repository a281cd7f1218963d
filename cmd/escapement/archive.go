package main

import (
	"context"
	"errors"
	"io"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/escapement/escapement/datasets/archive"
	"github.com/escapement/escapement/events"
	"github.com/escapement/escapement/features"
	"github.com/escapement/escapement/transport"
)

func cmdArchive(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs, cfgFile := newFlagSet("archive", "Consume feature rows and keep them as Parquet files under --out, partitioned by date and hour of the window start (docs/archive.md).", stderr)
	var of obsFlags
	var kf kafkaFlags
	out := fs.String("out", "", "archive root `dir` (required); one consumer group writes one directory")
	topic := fs.String("topic", features.Topic, "`topic` to archive")
	evs := fs.Bool("events", false, "the topic holds raw events (escapement.events.v1 messages), archived by event time; implied by --topic "+events.Topic+". One directory holds one kind")
	group := fs.String("group", "escapement-archive", "consumer `group` the archivers share")
	rollRows := fs.Int("roll-rows", archive.DefaultRollRows, "rename a partition's open files into place once they hold this many `rows`")
	rollInterval := fs.Duration("roll-interval", archive.DefaultRollInterval, "rename a partition's open files into place this long after the first was opened; rows are committed to Kafka only then")
	of.register(fs, true)
	kf.register(fs, "Kafka bootstrap `brokers`, host:port[,host:port] (required)")
	if err := parseFlags(fs, cfgFile, args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("no archive directory: pass --out DIR")
	}
	rt, err := of.start("archive", stderr)
	if err != nil {
		return err
	}
	defer rt.close()
	kcfg, err := kf.config("archive")
	if err != nil {
		return err
	}
	if err := ensureTopics(ctx, kcfg, kf.partitions, rt.log); err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return serveMetrics(gctx, of.metricsListen, rt) })
	g.Go(func() error {
		return runArchiver(gctx, kcfg, archiveOptions{dir: *out, topic: *topic, group: *group, rollRows: *rollRows, rollInterval: *rollInterval,
			events: *evs || *topic == events.Topic}, rt)
	})
	return g.Wait()
}

// archiveOptions are the settings of one archiver group member.
type archiveOptions struct {
	dir, topic, group string
	rollRows          int
	rollInterval      time.Duration
	events            bool // raw events, not feature rows
}

// runArchiver runs one archive group member until ctx is done.
func runArchiver(ctx context.Context, kcfg transport.Config, o archiveOptions, rt *runtimeObs) error {
	client := "archive"
	if o.events {
		client = "archive-events" // distinct metrics when both run in one process
	}
	prod, err := transport.NewProducer(withClient(kcfg, client), rt.log, rt.reg)
	if err != nil {
		return err
	}
	defer prod.Close()
	a, err := archive.New(archive.Config{
		Dir: o.dir, RollRows: o.rollRows, RollInterval: o.rollInterval, Events: o.events,
		DeadLetter: deadLetterFunc(prod, "archive"),
	}, rt.log, rt.reg)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.Run(gctx) })
	g.Go(func() error {
		return runGroup(gctx, withClient(kcfg, client), transport.GroupConfig{GroupID: o.group, Topics: []string{o.topic}}, a, rt)
	})
	return g.Wait()
}

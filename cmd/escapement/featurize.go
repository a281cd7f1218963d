package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/escapement/escapement/datasets/archive"
	"github.com/escapement/escapement/events"
	"github.com/escapement/escapement/features"
	"github.com/escapement/escapement/transport"
)

type featurizeFlags struct {
	window, lateness, idleTTL time.Duration
	maxVMs, sketchK           int
}

func (f *featurizeFlags) register(fs *flag.FlagSet) {
	fs.DurationVar(&f.window, "window", features.DefaultWindow, "length of the per-VM tumbling feature `window`")
	fs.DurationVar(&f.lateness, "lateness", 2*time.Second, "how late (event time) an event may arrive and still count; a window closes at its end + lateness")
	fs.DurationVar(&f.idleTTL, "idle-ttl", 5*time.Minute, "forget a VM's state after this long without events")
	fs.IntVar(&f.maxVMs, "max-vms", 20000, "most VMs held per featurizer; beyond it the least recently seen is evicted")
	fs.IntVar(&f.sketchK, "sketch-k", 64, "n-grams kept per feature row for the sequence models")
}

func (f *featurizeFlags) config() features.Config {
	return features.Config{Window: f.window, Lateness: f.lateness, IdleTTL: f.idleTTL, MaxVMs: f.maxVMs, SketchK: f.sketchK}
}

func cmdFeaturize(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs, cfgFile := newFlagSet("featurize", "Consume escapement.events.v1, window each VM's events and publish feature rows to escapement.features.v1.", stderr)
	var of obsFlags
	var kf kafkaFlags
	var ff featurizeFlags
	group := fs.String("group", "escapement-featurize", "consumer `group` the featurizers share")
	archiveDir := fs.String("archive", "", "also archive the feature rows as Parquet under this `dir` (docs/archive.md): an archiver group member in this process")
	archiveGroup := fs.String("archive-group", "escapement-archive", "consumer `group` of the --archive archiver")
	archiveEvents := fs.String("archive-events", "", "also archive the raw events under this `dir` (another group member, group <archive-group>-events)")
	archiveRoll := fs.Duration("archive-roll-interval", archive.DefaultRollInterval, "with --archive: rename open files into place (and commit their rows) this long after the first was opened")
	of.register(fs, true)
	kf.register(fs, "Kafka bootstrap `brokers`, host:port[,host:port] (required)")
	ff.register(fs)
	if err := parseFlags(fs, cfgFile, args); err != nil {
		return err
	}
	if *archiveEvents != "" && *archiveEvents == *archiveDir {
		return errors.New("--archive-events needs a directory of its own: one directory holds one kind of record")
	}
	rt, err := of.start("featurize", stderr)
	if err != nil {
		return err
	}
	defer rt.close()
	kcfg, err := kf.config("featurize")
	if err != nil {
		return err
	}
	if err := ensureTopics(ctx, kcfg, kf.partitions, rt.log); err != nil {
		return err
	}
	if *archiveDir == "" && *archiveEvents == "" {
		return runFeaturizer(ctx, kcfg, *group, ff.config(), rt)
	}
	// The archiver is a second consumer group reading the features topic
	// back, not a tap inside the featurizer: its exactly-once archive rests
	// on Kafka offsets of that topic (file names, resume point), which rows
	// still inside the featurizer do not have yet.
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return runFeaturizer(gctx, kcfg, *group, ff.config(), rt) })
	if *archiveDir != "" {
		g.Go(func() error {
			return runArchiver(gctx, kcfg, archiveOptions{dir: *archiveDir, topic: features.Topic, group: *archiveGroup,
				rollRows: archive.DefaultRollRows, rollInterval: *archiveRoll}, rt)
		})
	}
	if *archiveEvents != "" {
		g.Go(func() error {
			return runArchiver(gctx, kcfg, archiveOptions{dir: *archiveEvents, topic: events.Topic, group: *archiveGroup + "-events",
				rollRows: archive.DefaultRollRows, rollInterval: *archiveRoll, events: true}, rt)
		})
	}
	return g.Wait()
}

// runFeaturizer runs one featurize group member until ctx is done.
func runFeaturizer(ctx context.Context, kcfg transport.Config, group string, fc features.Config, rt *runtimeObs) error {
	prod, err := transport.NewProducer(withClient(kcfg, "featurize"), rt.log, rt.reg)
	if err != nil {
		return err
	}
	defer prod.Close()
	stage := features.NewStage(features.StageConfig{
		Featurizer: fc, Producer: prod, DeadLetter: deadLetterFunc(prod, "featurize"),
	}, rt.log, rt.reg)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return stage.Run(gctx) })
	g.Go(func() error {
		return runGroup(gctx, kcfg, transport.GroupConfig{GroupID: group, Topics: []string{events.Topic}}, stage, rt)
	})
	return g.Wait()
}

// withClient gives a producer or group its own client id so metrics of
// several clients in one process do not collide.
func withClient(cfg transport.Config, name string) transport.Config {
	cfg.ClientID += "-" + name
	return cfg
}

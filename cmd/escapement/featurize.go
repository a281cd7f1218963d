package main

import (
	"context"
	"flag"
	"io"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/escapement/escapement/events"
	"github.com/escapement/escapement/features"
	"github.com/escapement/escapement/transport"
)

type featurizeFlags struct {
	window, lateness, idleTTL time.Duration
	maxVMs, sketchK, warmup   int
}

func (f *featurizeFlags) register(fs *flag.FlagSet) {
	fs.DurationVar(&f.window, "window", features.DefaultWindow, "length of the per-VM tumbling feature `window`")
	fs.DurationVar(&f.lateness, "lateness", 2*time.Second, "how late (event time) an event may arrive and still count; a window closes at its end + lateness")
	fs.DurationVar(&f.idleTTL, "idle-ttl", 5*time.Minute, "forget a VM's state after this long without events")
	fs.IntVar(&f.maxVMs, "max-vms", 20000, "most VMs held per featurizer; beyond it the least recently seen is evicted")
	fs.IntVar(&f.sketchK, "sketch-k", 64, "n-grams kept per feature row for the sequence models")
	fs.IntVar(&f.warmup, "warmup-windows", features.DefaultWarmupWindows, "first windows of a VM whose novelty features are 0 (cover the guest's boot: boot-time probing is not an attack)")
}

func (f *featurizeFlags) config() features.Config {
	return features.Config{Window: f.window, Lateness: f.lateness, IdleTTL: f.idleTTL, MaxVMs: f.maxVMs, SketchK: f.sketchK, WarmupWindows: f.warmup}
}

func cmdFeaturize(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs, cfgFile := newFlagSet("featurize", "Consume escapement.events.v1, window each VM's events and publish feature rows to escapement.features.v1.", stderr)
	var of obsFlags
	var kf kafkaFlags
	var ff featurizeFlags
	group := fs.String("group", "escapement-featurize", "consumer `group` the featurizers share")
	of.register(fs, true)
	kf.register(fs, "Kafka bootstrap `brokers`, host:port[,host:port] (required)")
	ff.register(fs)
	if err := parseFlags(fs, cfgFile, args); err != nil {
		return err
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
	return runFeaturizer(ctx, kcfg, *group, ff.config(), rt)
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

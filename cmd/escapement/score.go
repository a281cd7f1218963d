package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/escapement/escapement/features"
	"github.com/escapement/escapement/models"
	"github.com/escapement/escapement/models/defaultmodel"
	"github.com/escapement/escapement/models/registry"
	"github.com/escapement/escapement/scoring"
	"github.com/escapement/escapement/transport"
)

// scoreFlags select the model and tune the scorer.
type scoreFlags struct {
	model       string
	budget      float64
	topFeatures int
	gapWindows  int

	// Hot reload (registerRegistry; score and run only).
	registry       string
	reloadInterval time.Duration
}

func (s *scoreFlags) registerRegistry(fs *flag.FlagSet) {
	fs.StringVar(&s.registry, "registry", "", "model registry `directory`: score with its champion (unless --model) and switch to a new champion between batches")
	fs.DurationVar(&s.reloadInterval, "reload-interval", scoring.DefaultWatchInterval, "how often to check the registry's champion pointer")
}

func (s *scoreFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.model, "model", "", "model artifact `directory` written by `escapement train`; empty uses the default model built into the binary")
	fs.Float64Var(&s.budget, "budget", 0, "alert budget: false incidents per VM-day the threshold is set for, from the model's fitted tail (0: the model's own, 1 per VM-day by default)")
	fs.IntVar(&s.topFeatures, "top-features", 5, "`number` of features each anomaly is explained with")
	fs.IntVar(&s.gapWindows, "gap-windows", 1, "quiet windows an incident stays open across before it resolves")
}

func (s *scoreFlags) load() (*models.Artifact, error) {
	if s.model != "" && s.registry != "" {
		return nil, errors.New("give --model or --registry, not both: with --registry the scorer runs the registry's champion")
	}
	if s.registry != "" {
		reg, err := registry.Open(s.registry, nil)
		if err != nil {
			return nil, err
		}
		v, err := reg.Champion()
		if err != nil {
			return nil, err
		}
		return reg.Load(v, models.SchemaHash(features.Names()), features.Names())
	}
	if s.model == "" {
		a, err := defaultmodel.Load(models.SchemaHash(features.Names()), features.Names())
		if err != nil {
			return nil, fmt.Errorf("the built-in default model: %w (regenerate it with `make model`)", err)
		}
		return a, nil
	}
	return models.Load(s.model, models.SchemaHash(features.Names()), features.Names())
}

func (s *scoreFlags) config() scoring.Config {
	return scoring.Config{Budget: s.budget, TopFeatures: s.topFeatures, GapWindows: s.gapWindows}
}

func cmdScore(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs, cfgFile := newFlagSet("score", "Consume escapement.features.v1, score each VM's windows with the model and publish incidents\nto escapement.anomalies.v1 (canonical anomaly JSON). Several scorers in one --group share the partitions.", stderr)
	var of obsFlags
	var kf kafkaFlags
	var sc scoreFlags
	group := fs.String("group", "escapement-score", "consumer `group` the scorers share")
	of.register(fs, true)
	kf.register(fs, "Kafka bootstrap `brokers`, host:port[,host:port] (required)")
	sc.register(fs)
	sc.registerRegistry(fs)
	if err := parseFlags(fs, cfgFile, args); err != nil {
		return err
	}
	rt, err := of.start("score", stderr)
	if err != nil {
		return err
	}
	defer rt.close()
	model, err := sc.load()
	if err != nil {
		return err
	}
	kcfg, err := kf.config("score")
	if err != nil {
		return err
	}
	if err := ensureTopics(ctx, kcfg, kf.partitions, rt.log); err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return serveMetrics(gctx, of.metricsListen, rt) })
	g.Go(func() error { return runScorer(gctx, kcfg, *group, model, sc, rt) })
	return g.Wait()
}

// runScorer runs one score group member until ctx is done.
func runScorer(ctx context.Context, kcfg transport.Config, group string, model *models.Artifact, sc scoreFlags, rt *runtimeObs) error {
	prod, err := transport.NewProducer(withClient(kcfg, "score"), rt.log, rt.reg)
	if err != nil {
		return err
	}
	defer prod.Close()
	scorer := scoring.NewScorer(model, sc.config(), rt.log, rt.reg)
	stage := scoring.NewStage(scoring.StageConfig{Scorer: scorer, Producer: prod, DeadLetter: deadLetterFunc(prod, "score")}, rt.log, rt.reg)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return stage.Run(gctx) })
	if sc.registry != "" {
		reg, err := registry.Open(sc.registry, rt.log)
		if err != nil {
			return err
		}
		w := scoring.NewWatcher(scoring.WatchConfig{Registry: reg, Interval: sc.reloadInterval,
			SchemaHash: models.SchemaHash(features.Names()), Names: features.Names()}, stage, rt.log, rt.reg)
		g.Go(func() error { return w.Run(gctx) })
	}
	g.Go(func() error {
		return runGroup(gctx, kcfg, transport.GroupConfig{GroupID: group, Topics: []string{features.Topic}}, stage, rt)
	})
	return g.Wait()
}

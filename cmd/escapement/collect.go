package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/escapement/escapement/collectors"
	"github.com/escapement/escapement/collectors/sim"
	"github.com/escapement/escapement/transport"
)

// simFlags configure the fleet simulator.
type simFlags struct {
	vms, scenarios, placebos int
	seed                     uint64
	truth                    string
	rateScale                float64
}

func (s *simFlags) register(fs *flag.FlagSet, defScenarios, defPlacebos int) {
	fs.IntVar(&s.vms, "vms", 20, "`number` of simulated VMs")
	fs.Uint64Var(&s.seed, "seed", 1, "simulator `seed`: the same seed gives the same fleet, scenarios and events")
	fs.IntVar(&s.scenarios, "scenarios", defScenarios, "`number` of escape-technique scenarios injected (they cycle through the threat classes, floods first)")
	fs.IntVar(&s.placebos, "placebos", defPlacebos, "`number` of placebo scenarios: same timing, benign payloads")
	fs.StringVar(&s.truth, "truth", "", "write the simulator's ground truth (scenarios) as JSON to this `file`")
	fs.Float64Var(&s.rateScale, "rate-scale", 1, "multiply every benign event rate by this `factor`")
}

func (s *simFlags) fleet(start time.Time, duration time.Duration) (*sim.Fleet, error) {
	return sim.New(sim.Config{Seed: s.seed, VMs: s.vms, Start: start, Duration: duration,
		Scenarios: s.scenarios, Placebos: s.placebos, RateScale: s.rateScale})
}

func writeTruth(path string, f *sim.Fleet) error {
	if path == "" {
		return nil
	}
	out, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--truth: %w", err)
	}
	if err := f.WriteTruth(out); err != nil {
		out.Close()
		return fmt.Errorf("--truth: %w", err)
	}
	return out.Close()
}

func cmdCollect(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs, cfgFile := newFlagSet("collect", "Run a collector and publish its events to escapement.events.v1, batched per VM.", stderr)
	var of obsFlags
	var kf kafkaFlags
	var sf simFlags
	of.register(fs, true)
	kf.register(fs, "Kafka bootstrap `brokers`, host:port[,host:port] (required)")
	source := fs.String("source", "sim", "event `source`: sim (the fleet simulator)")
	duration := fs.Duration("duration", 0, "stop after this long (0: until interrupted)")
	sf.register(fs, 0, 0)
	if err := parseFlags(fs, cfgFile, args); err != nil {
		return err
	}
	rt, err := of.start("collect", stderr)
	if err != nil {
		return err
	}
	defer rt.close()
	kcfg, err := kf.config("collect")
	if err != nil {
		return err
	}
	var c collectors.Collector
	switch *source {
	case "sim":
		if (sf.scenarios > 0 || sf.placebos > 0) && *duration == 0 {
			return fmt.Errorf("--scenarios and --placebos need --duration: scenarios are placed inside the run")
		}
		fleet, err := sf.fleet(time.Now(), *duration)
		if err != nil {
			return err
		}
		if err := writeTruth(sf.truth, fleet); err != nil {
			return err
		}
		c = sim.NewCollector(fleet, true, rt.log)
	default:
		return fmt.Errorf("--source %q: this build collects from sim; see docs/collector.md", *source)
	}
	if err := ensureTopics(ctx, kcfg, kf.partitions, rt.log); err != nil {
		return err
	}
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	prod, err := transport.NewProducer(kcfg, rt.log, rt.reg)
	if err != nil {
		return err
	}
	defer prod.Close()
	pub, err := collectors.NewPublisher(prod, collectors.PublisherConfig{}, rt.log, rt.reg)
	if err != nil {
		return err
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return serveMetrics(gctx, of.metricsListen, rt) })
	g.Go(func() error {
		defer stop() // the collector's end ends the command
		return pub.Run(gctx, c)
	})
	return g.Wait()
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/escapement/escapement/collectors"
	"github.com/escapement/escapement/collectors/kvm"
	"github.com/escapement/escapement/collectors/sim"
	"github.com/escapement/escapement/events"
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
	fs.IntVar(&s.scenarios, "scenarios", defScenarios, "`number` of escape-technique scenarios injected (they cycle through the threat classes, floods first; 16 cover every class at both intensities)")
	fs.IntVar(&s.placebos, "placebos", defPlacebos, "`number` of placebo scenarios: same timing, benign payloads")
	fs.StringVar(&s.truth, "truth", "", "write the simulator's ground truth (scenarios) as JSON to this `file`")
	fs.Float64Var(&s.rateScale, "rate-scale", 1, "multiply every benign event rate by this `factor`")
}

func (s *simFlags) config(start time.Time, duration time.Duration) sim.Config {
	return sim.Config{Seed: s.seed, VMs: s.vms, Start: start, Duration: duration,
		Scenarios: s.scenarios, Placebos: s.placebos, RateScale: s.rateScale}
}

func (s *simFlags) fleet(start time.Time, duration time.Duration) (*sim.Fleet, error) {
	return sim.New(s.config(start, duration))
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

// sourceFlags select and configure a collector.
type sourceFlags struct {
	source   string
	replay   string
	fast     bool
	record   string
	tracefs  string
	duration time.Duration
	sim      simFlags
}

func (s *sourceFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.source, "source", "sim", "event `source`: sim (fleet simulator), kvm (live KVM tracepoints of this host's VMs; root) or replay (a --record file)")
	fs.StringVar(&s.replay, "replay", "", "recording `file` for --source replay")
	fs.BoolVar(&s.fast, "replay-fast", false, "replay at maximum speed instead of the recorded pace")
	fs.StringVar(&s.record, "record", "", "also save every collected event to this Arrow IPC `file` (platform noted); replay it with --source replay")
	fs.StringVar(&s.tracefs, "tracefs", kvm.DefaultTracefs, "tracefs mount `point` for --source kvm (mounted when absent)")
	fs.DurationVar(&s.duration, "duration", 0, "stop after this long (0: until interrupted or the end of a replay)")
	s.sim.register(fs, 0, 0)
}

// collector builds the selected collector; the returned closer flushes a
// recording.
func (s *sourceFlags) collector(rt *runtimeObs) (collectors.Collector, *kvm.Recorder, error) {
	var c collectors.Collector
	switch s.source {
	case "sim":
		if (s.sim.scenarios > 0 || s.sim.placebos > 0) && s.duration == 0 {
			return nil, nil, errors.New("--scenarios and --placebos need --duration: scenarios are placed inside the run")
		}
		fleet, err := s.sim.fleet(time.Now(), s.duration)
		if err != nil {
			return nil, nil, err
		}
		if err := writeTruth(s.sim.truth, fleet); err != nil {
			return nil, nil, err
		}
		c = sim.NewCollector(fleet, true, rt.log)
	case "kvm":
		if err := kvm.CheckAccess(s.tracefs); err != nil {
			return nil, nil, err
		}
		host, _ := os.Hostname()
		kc, err := kvm.New(kvm.Config{Tracefs: s.tracefs, Host: host}, rt.log, rt.reg)
		if err != nil {
			return nil, nil, err
		}
		c = kc
	case "replay":
		if s.replay == "" {
			return nil, nil, errors.New("--source replay needs --replay FILE (a file written by --record)")
		}
		c = kvm.NewReplay(s.replay, !s.fast)
	default:
		return nil, nil, fmt.Errorf("--source %q: want sim, kvm or replay", s.source)
	}
	if s.record == "" {
		return c, nil, nil
	}
	platform := "sim"
	if s.source == "kvm" {
		platform = kvm.DetectPlatform("/sys/module", "/proc/cpuinfo")
	}
	rec, err := kvm.NewRecorder(s.record, platform)
	if err != nil {
		return nil, nil, fmt.Errorf("--record: %w", err)
	}
	return kvm.Recording(c, rec), rec, nil
}

func cmdCollect(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs, cfgFile := newFlagSet("collect", "Run a collector and publish its events to escapement.events.v1, batched per VM.\nWith --record and no --brokers it only records.", stderr)
	var of obsFlags
	var kf kafkaFlags
	var sf sourceFlags
	of.register(fs, true)
	kf.register(fs, "Kafka bootstrap `brokers`, host:port[,host:port]; required unless --record is given")
	sf.register(fs)
	if err := parseFlags(fs, cfgFile, args); err != nil {
		return err
	}
	rt, err := of.start("collect", stderr)
	if err != nil {
		return err
	}
	defer rt.close()
	if kf.brokers == "" && sf.record == "" {
		return errors.New("no Kafka brokers: pass --brokers host:port (or ESCAPEMENT_BROKERS), or --record FILE to only record")
	}
	c, rec, err := sf.collector(rt)
	if err != nil {
		return err
	}
	if rec != nil {
		defer func() {
			if err := rec.Close(); err != nil {
				rt.log.Error("close recording", "err", err)
			}
		}()
	}
	if sf.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, sf.duration)
		defer cancel()
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return serveMetrics(gctx, of.metricsListen, rt) })
	if kf.brokers == "" {
		g.Go(func() error {
			defer stop()
			return c.Run(gctx, func(context.Context, []events.Event) error { return nil })
		})
		return g.Wait()
	}
	kcfg, err := kf.config("collect")
	if err != nil {
		return err
	}
	if err := ensureTopics(ctx, kcfg, kf.partitions, rt.log); err != nil {
		return err
	}
	g.Go(func() error {
		defer stop() // the collector's end ends the command
		return publishFrom(gctx, kcfg, c, rt.log, rt)
	})
	return g.Wait()
}

// publishFrom runs c into a per-VM batching publisher on a new producer.
func publishFrom(ctx context.Context, kcfg transport.Config, c collectors.Collector, log *slog.Logger, rt *runtimeObs) error {
	prod, err := transport.NewProducer(withClient(kcfg, "collect"), log, rt.reg)
	if err != nil {
		return err
	}
	defer prod.Close()
	pub, err := collectors.NewPublisher(prod, collectors.PublisherConfig{}, log, rt.reg)
	if err != nil {
		return err
	}
	return pub.Run(ctx, c)
}

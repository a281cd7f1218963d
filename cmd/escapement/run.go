package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/escapement/escapement/anomaly"
	"github.com/escapement/escapement/api"
	"github.com/escapement/escapement/collectors/sim"
	"github.com/escapement/escapement/transport/embedded"
)

func defaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "escapement")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "escapement")
	}
	return "escapement-data"
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cfgFile := newFlagSet("run", "Run everything in one process: the fleet simulator, the featurizer, the scorer and the anomaly API,\non an embedded single-node Kafka-protocol broker (or on --brokers). Prints each anomaly as it arrives,\na progress line, and a summary on exit.", stderr)
	var of obsFlags
	var kf kafkaFlags
	var ff featurizeFlags
	var sf simFlags
	var sc scoreFlags
	of.register(fs, false)
	// run prints its own readable lines; the stages' logs are for trouble.
	quietLogs := fs.Lookup("log-level")
	_ = quietLogs.Value.Set("warn")
	quietLogs.DefValue = "warn"
	kf.register(fs, "Kafka bootstrap `brokers`; empty starts the embedded single-node broker")
	ff.register(fs)
	sf.register(fs, 10, 3)
	sc.register(fs)
	sc.registerRegistry(fs)
	dataDir := fs.String("data-dir", defaultDataDir(), "`directory` where the embedded broker keeps its topics across restarts")
	retention := fs.Duration("retention", 24*time.Hour, "embedded broker: drop topic data older than this")
	retentionBytes := fs.Int64("retention-bytes", 256<<20, "embedded broker: most `bytes` kept per partition")
	duration := fs.Duration("duration", 2*time.Minute, "run this long, then drain and print the summary (0: until interrupted; scenarios need a duration)")
	listen := fs.String("listen", "127.0.0.1:8080", "serve the anomaly API, /healthz and /metrics on this `addr`")
	summaryJSON := fs.String("summary-json", "", "write the run summary as JSON to this `file`")
	quiet := fs.Bool("quiet", false, "do not print anomalies and progress lines (the summary is still printed)")
	progressEvery := fs.Duration("progress", 5*time.Second, "interval of the progress line")
	if err := parseFlags(fs, cfgFile, args); err != nil {
		return err
	}
	if *duration == 0 && (sf.scenarios > 0 || sf.placebos > 0) {
		sf.scenarios, sf.placebos = 0, 0
		fmt.Fprintln(stderr, "note: --duration 0 runs until interrupted without scenarios (they are placed inside the run's duration)")
	}
	rt, err := of.start("run", stderr)
	if err != nil {
		return err
	}
	defer rt.close()
	model, err := sc.load()
	if err != nil {
		return err
	}

	// Kafka: the cluster given, or the embedded single-node broker.
	if kf.brokers == "" {
		dir := filepath.Join(*dataDir, "kafka")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("--data-dir: %w", err)
		}
		b, err := embedded.Start(embedded.Config{DataDir: dir, Partitions: kf.partitions,
			RetentionMs: retention.Milliseconds(), RetentionBytes: *retentionBytes, Logger: rt.log})
		if err != nil {
			return fmt.Errorf("start the embedded broker (data in %s): %w", dir, err)
		}
		defer b.Close()
		kf.brokers = b.Addr()
		fmt.Fprintf(stdout, "embedded Kafka-protocol broker at %s (single node, data in %s): a convenience for one host, not a cluster\n", b.Addr(), dir)
		fmt.Fprintf(stdout, "  watch anomalies: kcat -b %s -C -t %s\n", b.Addr(), anomaly.Topic)
	}
	kcfg, err := kf.config("run")
	if err != nil {
		return err
	}
	if err := ensureTopics(ctx, kcfg, kf.partitions, rt.log); err != nil {
		return err
	}

	start := time.Now()
	fleet, err := sf.fleet(start, *duration)
	if err != nil {
		return err
	}
	if err := writeTruth(sf.truth, fleet); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "simulating %d VMs (seed %d) with %d scenarios and %d placebos; model %s; API on http://%s/api/v1/anomalies, triage page on http://%[6]s/ui/\n",
		sf.vms, sf.seed, countScenarios(fleet.Truth(), false), countScenarios(fleet.Truth(), true), model.Manifest.ModelVersion, *listen)

	// Anomalies of this run, newest revision per incident.
	var mu sync.Mutex
	incidents := map[string]anomaly.Record{}
	onStored := func(r anomaly.Record) {
		if r.FirstSeen.Before(start.Add(-ff.window)) {
			return // an incident of an earlier run kept in --data-dir
		}
		mu.Lock()
		_, seen := incidents[r.ID]
		incidents[r.ID] = r
		mu.Unlock()
		if !*quiet && !seen {
			fmt.Fprintln(stdout, anomalyLine(r))
		}
	}
	numIncidents := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(incidents)
	}

	// Stages. The collector stops at --duration; the rest drain after it.
	stages, stopStages := context.WithCancel(ctx)
	defer stopStages()
	g, gctx := errgroup.WithContext(stages)
	srvOpts := serveOptions{DataDir: *dataDir, Listen: *listen, LocalOnlyOnLoopback: true, Retention: 30 * 24 * time.Hour, RateLimit: api.DefaultRateLimit, Out: stdout}
	g.Go(func() error { return runServe(gctx, kcfg, srvOpts, onStored, rt) })
	g.Go(func() error { return runScorer(gctx, kcfg, "escapement-score", model, sc, rt) })
	g.Go(func() error { return runFeaturizer(gctx, kcfg, "escapement-featurize", ff.config(), rt) })

	collectCtx, stopCollect := context.WithCancel(gctx)
	defer stopCollect()
	if *duration > 0 {
		collectCtx, stopCollect = context.WithTimeout(gctx, *duration)
		defer stopCollect()
	}
	collected := make(chan error, 1)
	go func() { collected <- publishFrom(collectCtx, kcfg, sim.NewCollector(fleet, true, rt.log), rt.log, rt) }()

	prog := &progress{g: rt.reg, anomalies: numIncidents}
	tick := time.NewTicker(*progressEvery)
	defer tick.Stop()
	var runErr error
wait:
	for {
		select {
		case err := <-collected:
			runErr = err
			break wait
		case <-gctx.Done():
			runErr = g.Wait()
			break wait
		case now := <-tick.C:
			if !*quiet {
				fmt.Fprintln(stdout, prog.line(now))
			}
		}
	}
	interrupted := ctx.Err() != nil
	if runErr == nil && !interrupted {
		// Drain: the last windows close after window + lateness, then they
		// are scored and their anomalies stored.
		drain := ff.window + ff.lateness + 3*time.Second
		fmt.Fprintf(stdout, "collector stopped; draining the pipeline for %s\n", drain)
		select {
		case <-time.After(drain):
		case <-gctx.Done():
		}
	}
	stopStages()
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) && runErr == nil {
		runErr = err
	}
	if !*quiet {
		fmt.Fprintln(stdout, prog.line(time.Now()))
	}

	if runErr != nil {
		return runErr // a failed pipeline has no summary worth printing
	}
	mu.Lock()
	recs := make([]anomaly.Record, 0, len(incidents))
	for _, r := range incidents {
		recs = append(recs, r)
	}
	mu.Unlock()
	sum := summarize(fleet, recs, ff.window, time.Since(start), rt.reg)
	sum.print(stdout)
	if *summaryJSON != "" {
		return sum.writeJSON(*summaryJSON)
	}
	return nil
}

func countScenarios(truth []sim.Scenario, placebo bool) int {
	n := 0
	for _, s := range truth {
		if s.Placebo == placebo {
			n++
		}
	}
	return n
}

// anomalyLine is one readable line per incident.
func anomalyLine(r anomaly.Record) string {
	top := ""
	for i, f := range r.Anomaly.Features {
		if i == 3 {
			break
		}
		top += fmt.Sprintf(" %s=%.3g(baseline %.3g)", f.Name, f.Observed, f.Baseline)
	}
	return fmt.Sprintf("ANOMALY %s %-8s risk=%3.0f vm=%s %s |%s", r.FirstSeen.Format("15:04:05"), r.Severity, r.RiskScore, r.VM.ID, r.Title, top)
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/escapement/escapement/anomaly"
	"github.com/escapement/escapement/events"
	"github.com/escapement/escapement/features"
	"github.com/escapement/escapement/obs"
	"github.com/escapement/escapement/transport"
)

// obsFlags are the observability flags every command takes.
type obsFlags struct {
	logLevel, logFormat string
	pyroscopeURL        string
	metricsListen       string
}

func (o *obsFlags) register(fs *flag.FlagSet, withMetrics bool) {
	fs.StringVar(&o.logLevel, "log-level", "info", "log `level`: debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", "text", "log `format`: text or json")
	fs.StringVar(&o.pyroscopeURL, "pyroscope-url", "", "push continuous profiles to this Pyroscope server `URL` (e.g. http://pyroscope:4040); empty disables")
	if withMetrics {
		fs.StringVar(&o.metricsListen, "metrics-listen", "", "serve Prometheus /metrics on this `addr` (e.g. 127.0.0.1:9464); empty disables")
	}
}

type runtimeObs struct {
	log      *slog.Logger
	reg      *prometheus.Registry
	profiler obs.Profiler
}

func (o *obsFlags) start(stage string, stderr io.Writer) (*runtimeObs, error) {
	log, err := obs.NewLogger(stderr, o.logFormat, o.logLevel)
	if err != nil {
		return nil, err
	}
	log = log.With(obs.FieldStage, stage)
	host, _ := os.Hostname()
	p, err := obs.StartProfiling(o.pyroscopeURL, "escapement", stage, host, log)
	if err != nil {
		return nil, err
	}
	return &runtimeObs{log: log, reg: obs.NewRegistry(), profiler: p}, nil
}

func (r *runtimeObs) close() { _ = r.profiler.Stop() }

// serveMetrics serves /metrics on addr until ctx is done.
func serveMetrics(ctx context.Context, addr string, r *runtimeObs) error {
	if addr == "" {
		return nil
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", obs.MetricsHandler(r.reg))
	return serveHTTP(ctx, addr, mux, r.log)
}

// serveHTTP serves h on addr until ctx is done, then shuts down gracefully.
func serveHTTP(ctx context.Context, addr string, h http.Handler, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another escapement running? choose another address with --listen)", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	log.Info("http listening", obs.FieldAddr, ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		return nil
	}
}

// kafkaFlags say how to reach Kafka.
type kafkaFlags struct {
	brokers     string
	clientID    string
	tls         bool
	tlsCA       string
	tlsCert     string
	tlsKey      string
	tlsInsecure bool
	saslMech    string
	saslUser    string
	saslPass    string
	partitions  int
}

func (k *kafkaFlags) register(fs *flag.FlagSet, brokersHelp string) {
	fs.StringVar(&k.brokers, "brokers", "", brokersHelp)
	fs.StringVar(&k.clientID, "kafka-client-id", "escapement", "Kafka client `id`")
	fs.BoolVar(&k.tls, "kafka-tls", false, "connect to Kafka over TLS")
	fs.StringVar(&k.tlsCA, "kafka-tls-ca", "", "PEM `file` of CAs that sign the brokers' certificates (implies --kafka-tls)")
	fs.StringVar(&k.tlsCert, "kafka-tls-cert", "", "PEM client certificate `file` for mutual TLS")
	fs.StringVar(&k.tlsKey, "kafka-tls-key", "", "PEM client key `file` for mutual TLS")
	fs.BoolVar(&k.tlsInsecure, "kafka-tls-insecure", false, "do not verify the brokers' certificates (testing only)")
	fs.StringVar(&k.saslMech, "kafka-sasl-mechanism", "", "SASL `mechanism`: plain, scram-sha-256 or scram-sha-512; empty disables SASL")
	fs.StringVar(&k.saslUser, "kafka-sasl-user", "", "SASL user `name`")
	fs.StringVar(&k.saslPass, "kafka-sasl-password", "", "SASL `password` (prefer ESCAPEMENT_KAFKA_SASL_PASSWORD over the command line)")
	fs.IntVar(&k.partitions, "partitions", 6, "`number` of partitions of the topics this stage creates when they are missing")
}

func (k *kafkaFlags) config(clientSuffix string) (transport.Config, error) {
	cfg := transport.Config{ClientID: k.clientID + "-" + clientSuffix}
	for _, b := range strings.Split(k.brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			cfg.Brokers = append(cfg.Brokers, b)
		}
	}
	cfg.TLS = transport.TLSConfig{Enable: k.tls || k.tlsCA != "" || k.tlsCert != "", CAFile: k.tlsCA, CertFile: k.tlsCert, KeyFile: k.tlsKey, InsecureSkipVerify: k.tlsInsecure}
	cfg.SASL = transport.SASLConfig{Mechanism: k.saslMech, Username: k.saslUser, Password: k.saslPass}
	cfg = cfg.WithDefaults()
	if len(cfg.Brokers) == 0 {
		return cfg, errors.New("no Kafka brokers: pass --brokers host:port[,host:port] or set ESCAPEMENT_BROKERS (or use `escapement run`, which starts an embedded broker)")
	}
	return cfg, cfg.Validate()
}

// allTopics are the topics of the pipeline, created when missing.
func allTopics(partitions int) []transport.TopicSpec {
	var specs []transport.TopicSpec
	for _, t := range []string{events.Topic, features.Topic, anomaly.Topic, transport.DeadLetterTopic} {
		specs = append(specs, transport.TopicSpec{Name: t, Partitions: partitions})
	}
	return specs
}

func ensureTopics(ctx context.Context, cfg transport.Config, partitions int, log *slog.Logger) error {
	tctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := transport.EnsureTopics(tctx, cfg, allTopics(partitions)); err != nil {
		return fmt.Errorf("create topics on %s: %w (is the broker up? check --brokers)", strings.Join(cfg.Brokers, ","), err)
	}
	log.Debug("topics ready", "partitions", partitions)
	return nil
}

// deadLetterFunc returns the dead-letter callback stages take.
func deadLetterFunc(p transport.Producer, stage string) func(context.Context, *transport.Message, error) error {
	return func(ctx context.Context, m *transport.Message, cause error) error {
		return transport.DeadLetter(ctx, p, stage, m, cause)
	}
}

// runGroup runs a consumer group member for h until ctx is done and closes it.
func runGroup(ctx context.Context, cfg transport.Config, gc transport.GroupConfig, h transport.Handler, r *runtimeObs) error {
	g, err := transport.NewGroup(cfg, gc, r.log, r.reg)
	if err != nil {
		return err
	}
	defer g.Close()
	if err := g.Run(ctx, h); err != nil {
		return fmt.Errorf("consumer group %s: %w", gc.GroupID, err)
	}
	return nil
}

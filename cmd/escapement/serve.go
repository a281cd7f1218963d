package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/escapement/escapement/anomaly"
	"github.com/escapement/escapement/api"
	"github.com/escapement/escapement/obs"
	"github.com/escapement/escapement/outputs"
	"github.com/escapement/escapement/transport"
)

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cfgFile := newFlagSet("serve", "Consume escapement.anomalies.v1 into the anomaly store (SQLite) and serve the anomaly API (docs/api.md).", stderr)
	var of obsFlags
	var kf kafkaFlags
	of.register(fs, false)
	kf.register(fs, "Kafka bootstrap `brokers`, host:port[,host:port] (required)")
	o := serveOptions{Out: stdout}
	fs.StringVar(&o.Listen, "listen", "127.0.0.1:8080", "serve the API, /healthz, /readyz and /metrics on this `addr`")
	fs.StringVar(&o.DataDir, "data-dir", filepath.Join(defaultDataDir(), "serve"), "`directory` of the anomaly store (anomalies.db)")
	fs.StringVar(&o.Group, "group", "", "Kafka consumer `group` of the feed (default escapement-serve-<store instance>: resumes while the store file lives)")
	fs.DurationVar(&o.Retention, "retention", 30*24*time.Hour, "delete anomalies not updated for this long (0 keeps them all)")
	fs.StringVar(&o.TokensFile, "api-tokens", "", "`file` of API tokens, lines NAME:SCOPES:SHA256HEX (also ESCAPEMENT_API_TOKENS with the entries themselves)")
	fs.BoolVar(&o.LocalOnly, "local-only", false, "answer /api without a token, to loopback clients only")
	fs.StringVar(&o.TLSCert, "tls-cert", "", "serve HTTPS with this PEM certificate `file` (with --tls-key)")
	fs.StringVar(&o.TLSKey, "tls-key", "", "PEM private key `file` for --tls-cert")
	fs.Float64Var(&o.RateLimit, "rate-limit", api.DefaultRateLimit, "API requests per second per token (bursts of twice that); over it answers 429")
	o.Outputs.register(fs)
	if err := parseFlags(fs, cfgFile, args); err != nil {
		return err
	}
	if o.TokensFile != "" && o.TokensFile == os.Getenv("ESCAPEMENT_API_TOKENS") {
		o.TokensFile = "" // the variable holds entries, not a file name: LoadTokens reads it
	}
	rt, err := of.start("serve", stderr)
	if err != nil {
		return err
	}
	defer rt.close()
	kcfg, err := kf.config("serve")
	if err != nil {
		return err
	}
	if err := ensureTopics(ctx, kcfg, kf.partitions, rt.log); err != nil {
		return err
	}
	return runServe(ctx, kcfg, o, nil, rt)
}

// serveOptions configure runServe.
type serveOptions struct {
	DataDir   string        // the store is DataDir/anomalies.db
	Listen    string        // API address
	Group     string        // consumer group; default from the store's instance id
	Retention time.Duration // 0 keeps everything
	// TokensFile and ESCAPEMENT_API_TOKENS give the API tokens.
	TokensFile string
	// LocalOnly answers /api without a token to loopback clients.
	LocalOnly bool
	// LocalOnlyOnLoopback turns LocalOnly on when no token is configured
	// and Listen is a loopback address (escapement run), and says so.
	LocalOnlyOnLoopback bool
	TLSCert, TLSKey     string
	RateLimit           float64
	Out                 io.Writer // where notices go (nil: discarded)
	// Outputs push stored, unsuppressed anomalies to receivers (none when
	// no output is configured).
	Outputs outputFlags
}

// outputFlags configure the push outputs of serve (docs/siem.md).
type outputFlags struct {
	HECURL, HECToken string
	WebhookURL       string
	SyslogAddr       string
	SyslogCA         string
	MinSeverity      string
	SpoolDir         string
}

func (f *outputFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.HECURL, "output-hec-url", "", "push anomalies to this Splunk HTTP Event Collector `url`, e.g. https://splunk:8088 (with --output-hec-token)")
	fs.StringVar(&f.HECToken, "output-hec-token", "", "HEC `token`, sent as Authorization: Splunk <token> (better set as ESCAPEMENT_OUTPUT_HEC_TOKEN)")
	fs.StringVar(&f.WebhookURL, "output-webhook-url", "", "POST each anomaly as JSON to this `url`")
	fs.StringVar(&f.SyslogAddr, "output-syslog-addr", "", "send each anomaly as RFC 5424 syslog carrying CEF, over TLS with octet counting, to this `host:port` (usually 6514)")
	fs.StringVar(&f.SyslogCA, "output-syslog-ca", "", "PEM `file` of the CA that signed the syslog receiver's certificate (default: the system roots)")
	fs.StringVar(&f.MinSeverity, "output-min-severity", "medium", "push only anomalies of this `severity` or higher: info, low, medium, high or critical")
	fs.StringVar(&f.SpoolDir, "spool-dir", "", "`directory` of the outputs' disk spool, which keeps anomalies while a receiver is down (default <data-dir>/spool)")
}

// targets builds the configured outputs; none when no output is set.
func (f *outputFlags) targets() ([]outputs.Target, error) {
	if anomaly.SeverityRank(f.MinSeverity) < 0 && f.MinSeverity != "" {
		return nil, fmt.Errorf("--output-min-severity %q: want info, low, medium, high or critical", f.MinSeverity)
	}
	var ts []outputs.Target
	add := func(o outputs.Output) { ts = append(ts, outputs.Target{Output: o, MinSeverity: f.MinSeverity}) }
	if f.HECURL != "" || f.HECToken != "" {
		hec, err := outputs.NewHEC(outputs.HECConfig{URL: f.HECURL, Token: f.HECToken})
		if err != nil {
			return nil, err
		}
		add(hec)
	}
	if f.WebhookURL != "" {
		hook, err := outputs.NewWebhook(outputs.WebhookConfig{URL: f.WebhookURL})
		if err != nil {
			return nil, err
		}
		add(hook)
	}
	if f.SyslogAddr != "" {
		tcfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if f.SyslogCA != "" {
			pem, err := os.ReadFile(f.SyslogCA)
			if err != nil {
				return nil, fmt.Errorf("--output-syslog-ca: %w", err)
			}
			tcfg.RootCAs = x509.NewCertPool()
			if !tcfg.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("--output-syslog-ca %s: no PEM certificate in it", f.SyslogCA)
			}
		}
		sl, err := outputs.NewSyslog(outputs.SyslogConfig{Addr: f.SyslogAddr, TLS: tcfg, ProductVersion: version})
		if err != nil {
			return nil, err
		}
		add(sl)
	}
	return ts, nil
}

func isLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// runServe opens the anomaly store, feeds it from the anomalies topic and
// serves the API. The consumer group is named after the store file's
// instance id, so a restart resumes from the committed offsets and a new
// store file reads the topic from the start.
func runServe(ctx context.Context, kcfg transport.Config, o serveOptions, onStored func(anomaly.Record), rt *runtimeObs) error {
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	if (o.TLSCert == "") != (o.TLSKey == "") {
		return errors.New("give both --tls-cert and --tls-key, or neither")
	}
	tokens, err := api.LoadTokens(o.TokensFile)
	if err != nil {
		return err
	}
	localOnly := o.LocalOnly
	if !localOnly && tokens.Len() == 0 && o.LocalOnlyOnLoopback && isLoopbackAddr(o.Listen) {
		localOnly = true
		fmt.Fprintf(out, "anomaly API is local-only: loopback clients need no token (set ESCAPEMENT_API_TOKENS to require tokens)\n")
	}
	store, err := api.OpenSQLite(filepath.Join(o.DataDir, "anomalies.db"), rt.log, rt.reg)
	if err != nil {
		return err
	}
	defer store.Close()
	srv, err := api.NewServer(api.ServerConfig{Store: store, Metrics: obs.MetricsHandler(rt.reg), Tokens: tokens,
		LocalOnly: localOnly, RateLimit: o.RateLimit}, rt.log, rt.reg)
	if err != nil {
		return err
	}
	group := o.Group
	if group == "" {
		group = "escapement-serve-" + store.Instance()
	}
	rt.log.Info("anomaly store", "path", store.Path(), "group", group, "local_only", localOnly, "tokens", tokens.Len())

	prod, err := transport.NewProducer(withClient(kcfg, "serve-dlq"), rt.log, rt.reg)
	if err != nil {
		return err
	}
	defer prod.Close()
	targets, err := o.Outputs.targets()
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	if len(targets) > 0 {
		spoolDir := o.Outputs.SpoolDir
		if spoolDir == "" {
			spoolDir = filepath.Join(o.DataDir, "spool")
		}
		disp, err := outputs.New(outputs.Config{SpoolDir: spoolDir, Targets: targets}, rt.log, rt.reg)
		if err != nil {
			return err
		}
		defer disp.Close()
		names := make([]string, len(targets))
		for i, t := range targets {
			names[i] = t.Output.Name()
		}
		rt.log.Info("push outputs", "outputs", names, "min_severity", o.Outputs.MinSeverity, "spool", spoolDir)
		g.Go(func() error { return disp.Run(gctx) })
		inner := onStored
		onStored = func(r anomaly.Record) {
			if inner != nil {
				inner(r)
			}
			if r.Status == anomaly.StatusSuppressed {
				return
			}
			// The spool is on disk before the feed commits the offset.
			if err := disp.Enqueue(gctx, r); err != nil {
				rt.log.Error("anomaly not spooled for the push outputs; it stays in the store and the pull API", "id", r.ID, "revision", r.Revision, "err", err)
			}
		}
	}
	feed := api.NewFeed(api.FeedConfig{Store: store, DeadLetter: deadLetterFunc(prod, "serve"), OnStored: onStored}, rt.log, rt.reg)
	if o.TLSCert != "" {
		g.Go(func() error { return serveHTTPS(gctx, o.Listen, o.TLSCert, o.TLSKey, srv.Handler(), rt.log) })
	} else {
		g.Go(func() error { return serveHTTP(gctx, o.Listen, srv.Handler(), rt.log) })
	}
	g.Go(func() error {
		api.RetainEvery(gctx, store, o.Retention, 10*time.Minute, rt.log)
		return nil
	})
	g.Go(func() error {
		srv.SetReady(true)
		return runGroup(gctx, kcfg, transport.GroupConfig{GroupID: group, Topics: []string{anomaly.Topic}, StartOffset: transport.StartFirst}, feed, rt)
	})
	return g.Wait()
}

// serveHTTPS serves h over TLS (1.2 or later) on addr until ctx is done.
func serveHTTPS(ctx context.Context, addr, certFile, keyFile string, h http.Handler, log *slog.Logger) error {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another escapement running? choose another address with --listen)", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}}
	log.Info("https listening", obs.FieldAddr, ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
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

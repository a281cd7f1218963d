package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"golang.org/x/sync/errgroup"

	"github.com/escapement/escapement/anomaly"
	"github.com/escapement/escapement/api"
	"github.com/escapement/escapement/obs"
	"github.com/escapement/escapement/transport"
)

func cmdServe(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs, cfgFile := newFlagSet("serve", "Consume escapement.anomalies.v1 into the anomaly store and serve the anomaly API (docs/api.md).", stderr)
	var of obsFlags
	var kf kafkaFlags
	of.register(fs, false)
	kf.register(fs, "Kafka bootstrap `brokers`, host:port[,host:port] (required)")
	listen := fs.String("listen", "127.0.0.1:8080", "serve the API, /healthz, /readyz and /metrics on this `addr`")
	maxRecords := fs.Int("max-anomalies", 100000, "most anomalies the store keeps; the least recently updated are dropped first")
	if err := parseFlags(fs, cfgFile, args); err != nil {
		return err
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
	store := api.NewMemStore(*maxRecords)
	return runServe(ctx, kcfg, store, *listen, nil, rt)
}

// runServe feeds store from the anomalies topic and serves the API on listen.
// Every serve instance reads every partition from the start (its store is
// in memory), so it joins a group of its own.
func runServe(ctx context.Context, kcfg transport.Config, store api.Store, listen string, onStored func(anomaly.Record), rt *runtimeObs) error {
	prod, err := transport.NewProducer(withClient(kcfg, "serve-dlq"), rt.log, rt.reg)
	if err != nil {
		return err
	}
	defer prod.Close()
	host, _ := os.Hostname()
	group := fmt.Sprintf("escapement-serve-%s-%d", host, os.Getpid())
	feed := api.NewFeed(api.FeedConfig{Store: store, DeadLetter: deadLetterFunc(prod, "serve"), OnStored: onStored}, rt.log, rt.reg)
	srv := api.NewServer(store, obs.MetricsHandler(rt.reg), rt.log)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return serveHTTP(gctx, listen, srv.Handler(), rt.log) })
	g.Go(func() error {
		srv.SetReady(true)
		return runGroup(gctx, kcfg, transport.GroupConfig{GroupID: group, Topics: []string{anomaly.Topic}, StartOffset: transport.StartFirst}, feed, rt)
	})
	return g.Wait()
}

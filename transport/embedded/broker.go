package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Defaults of Config.
const (
	DefaultAddr           = "127.0.0.1:0"
	DefaultPartitions     = 6
	DefaultRetentionCheck = time.Minute
)

// Config configures the embedded broker.
type Config struct {
	// DataDir persists the broker's state; empty keeps everything in memory.
	DataDir string `yaml:"data_dir"`
	// Addr is the host:port to listen on and advertise (default
	// 127.0.0.1:0; port 0 picks a free port, see Broker.Addr).
	Addr string `yaml:"addr"`
	// Partitions is the partition count of auto-created topics and of
	// topics created with -1 partitions (default 6).
	Partitions int `yaml:"partitions"`
	// RetentionMs and RetentionBytes bound every partition's log by age and
	// size; 0 keeps the broker default (7 days, unbounded size).
	RetentionMs    int64 `yaml:"retention_ms"`
	RetentionBytes int64 `yaml:"retention_bytes"`
	// RetentionCheck is how often retention is enforced (default 1m).
	RetentionCheck time.Duration `yaml:"retention_check"`
	Logger         *slog.Logger  `yaml:"-"`
}

// Broker is a running embedded broker.
type Broker struct {
	c    *kfake.Cluster
	addr string
	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

// Start starts the broker and returns once it accepts connections.
func Start(cfg Config) (*Broker, error) {
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.Partitions == 0 {
		cfg.Partitions = DefaultPartitions
	}
	if cfg.RetentionCheck == 0 {
		cfg.RetentionCheck = DefaultRetentionCheck
	}
	host, portStr, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("embedded: Addr %q: want host:port: %w", cfg.Addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("embedded: Addr %q: port must be 0..65535", cfg.Addr)
	}
	if cfg.Partitions < 0 || cfg.RetentionMs < 0 || cfg.RetentionBytes < 0 || cfg.RetentionCheck < 0 {
		return nil, errors.New("embedded: Partitions, RetentionMs, RetentionBytes and RetentionCheck must not be negative")
	}
	bcfg := map[string]string{}
	if cfg.RetentionMs > 0 {
		bcfg["log.retention.ms"] = strconv.FormatInt(cfg.RetentionMs, 10)
	}
	if cfg.RetentionBytes > 0 {
		bcfg["log.retention.bytes"] = strconv.FormatInt(cfg.RetentionBytes, 10)
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(port),
		// kfake always asks for 127.0.0.1:port; listen on the configured host.
		kfake.ListenFn(func(network, address string) (net.Listener, error) {
			_, p, err := net.SplitHostPort(address)
			if err != nil {
				return nil, err
			}
			return net.Listen(network, net.JoinHostPort(host, p))
		}),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(cfg.Partitions),
		kfake.BrokerConfigs(bcfg),
	}
	if cfg.DataDir != "" {
		opts = append(opts, kfake.DataDir(cfg.DataDir))
	}
	if cfg.Logger != nil {
		opts = append(opts, kfake.WithLogger(slogBridge{cfg.Logger.With("component", "kfake")}))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("embedded: start broker on %s (data dir %q): %w", cfg.Addr, cfg.DataDir, err)
	}
	addrs := c.ListenAddrs()
	if len(addrs) != 1 {
		c.Close()
		return nil, fmt.Errorf("embedded: broker listens on %d addresses, want 1", len(addrs))
	}
	b := &Broker{c: c, addr: addrs[0], stop: make(chan struct{})}
	if cfg.RetentionMs > 0 || cfg.RetentionBytes > 0 {
		b.wg.Add(1)
		go b.retain(cfg.RetentionCheck)
	}
	return b, nil
}

// retain enforces broker-level retention every interval.
func (b *Broker) retain(interval time.Duration) {
	defer b.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			b.c.ApplyRetention()
		}
	}
}

// Addr is the host:port clients bootstrap from.
func (b *Broker) Addr() string { return b.addr }

// Close stops the broker and, with a DataDir, flushes its state to disk.
func (b *Broker) Close() error {
	b.once.Do(func() {
		close(b.stop)
		b.wg.Wait()
		b.c.Close()
	})
	return nil
}

// slogBridge carries kfake's log lines into slog; kfake's info level is
// chatty (every request), so it goes to debug.
type slogBridge struct{ l *slog.Logger }

func (s slogBridge) Logf(level kfake.LogLevel, format string, args ...any) {
	var lv slog.Level
	switch level {
	case kfake.LogLevelError:
		lv = slog.LevelError
	case kfake.LogLevelWarn:
		lv = slog.LevelWarn
	case kfake.LogLevelNone:
		return
	default:
		lv = slog.LevelDebug
	}
	ctx := context.Background()
	if !s.l.Enabled(ctx, lv) {
		return
	}
	s.l.Log(ctx, lv, fmt.Sprintf(format, args...))
}

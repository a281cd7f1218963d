package scoring

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/escapement/escapement/models"
	"github.com/escapement/escapement/models/registry"
)

// DefaultWatchInterval is how often a Watcher reads the champion pointer.
const DefaultWatchInterval = 10 * time.Second

// Swapper switches a running scorer to another model (Stage does).
type Swapper interface {
	SwapModel(ctx context.Context, a *models.Artifact) error
	Version() string
}

// WatchConfig configures a Watcher.
type WatchConfig struct {
	Registry *registry.Registry
	// Interval between reads of the champion pointer (default
	// DefaultWatchInterval).
	Interval time.Duration
	// SchemaHash and Names are the running featurizer's schema: a champion
	// trained on another is refused (and the old model kept).
	SchemaHash string
	Names      []string
}

// Watcher polls a registry's champion pointer and hot-reloads the scorer
// when it changes. A champion that fails to load (schema mismatch, corrupt
// file) is logged and counted once per version, and the scorer keeps its
// model; it is tried again on every poll, so a fixed pointer is picked up.
type Watcher struct {
	cfg    WatchConfig
	target Swapper
	log    *slog.Logger
	failed string // version (or pointer error) whose load failed last: logged and counted once

	reloads *prometheus.CounterVec
}

// Reload results (metric label).
const (
	reloadSwitched = "switched"
	reloadFailed   = "failed"
)

// NewWatcher returns a Watcher of cfg.Registry driving target. logger and
// reg may be nil.
func NewWatcher(cfg WatchConfig, target Swapper, logger *slog.Logger, reg prometheus.Registerer) *Watcher {
	if cfg.Registry == nil || target == nil {
		panic("scoring: NewWatcher needs a registry and a target")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultWatchInterval
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	w := &Watcher{cfg: cfg, target: target, log: logger}
	w.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "escapement_model_reloads_total",
		Help: "Hot reloads of the champion model, by result (switched, failed: the old model is kept).",
	}, []string{"result"})
	if reg != nil {
		reg.MustRegister(w.reloads)
	}
	return w
}

// Run polls every Interval until ctx is done. Only a failure to produce the
// records of a switch (ctx done meanwhile) ends it with an error.
func (w *Watcher) Run(ctx context.Context) error {
	t := time.NewTicker(w.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if _, err := w.Poll(ctx); err != nil && ctx.Err() == nil {
				return err
			}
		}
	}
}

// Poll reads the champion pointer once and switches the target if it names
// another version. It reports whether it switched; a champion that cannot be
// loaded is not an error (the old model stays), a failed switch is.
func (w *Watcher) Poll(ctx context.Context) (bool, error) {
	cur := w.target.Version()
	v, err := w.cfg.Registry.Champion()
	if err != nil {
		if !errors.Is(err, registry.ErrNoChampion) {
			w.fail("", err)
		}
		return false, nil
	}
	if v == cur {
		w.failed = ""
		return false, nil
	}
	a, err := w.cfg.Registry.Load(v, w.cfg.SchemaHash, w.cfg.Names)
	if err != nil {
		w.fail(v, err)
		return false, nil
	}
	if err := w.target.SwapModel(ctx, a); err != nil {
		return false, err
	}
	w.failed = ""
	w.reloads.WithLabelValues(reloadSwitched).Inc()
	w.log.Info("champion model loaded", "from", cur, logModel, v, "registry", w.cfg.Registry.Dir())
	return true, nil
}

func (w *Watcher) fail(version string, err error) {
	key := version
	if key == "" {
		key = err.Error() // a broken pointer: once per distinct error
	}
	if w.failed == key {
		return
	}
	w.failed = key
	w.reloads.WithLabelValues(reloadFailed).Inc()
	w.log.Warn("champion model not loaded; keeping the current one", logModel, version, "current", w.target.Version(), "err", err)
}

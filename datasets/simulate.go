package datasets

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/escapement/escapement/collectors/sim"
	"github.com/escapement/escapement/events"
	"github.com/escapement/escapement/features"
)

// GenerateOptions say what GenerateSim writes.
type GenerateOptions struct {
	// Events writes events.parquet. A day of a 20-VM fleet is about 1.7
	// billion events, so large feature datasets are usually made without.
	Events bool
	// Featurizer configures the feature rows written to features.parquet.
	Featurizer features.Config
	// Progress, if set, is called about once per simulated minute with the
	// simulated time reached, the end and the counts so far.
	Progress func(now, end time.Time, events, rows int64)
}

// GenerateSim records a simulated fleet as a dataset in dir: features.parquet
// (the featurizer run on the fleet's events), events.parquet when
// opt.Events, labels.json (the fleet's scenarios and placebos) and
// manifest.json. The run needs cfg.Duration > 0. Files appear by atomic
// rename once complete. log may be nil.
func GenerateSim(ctx context.Context, dir string, cfg sim.Config, opt GenerateOptions, log *slog.Logger) (Manifest, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Duration <= 0 {
		return Manifest{}, fmt.Errorf("datasets: a simulated dataset needs a Duration > 0")
	}
	fleet, err := sim.New(cfg)
	if err != nil {
		return Manifest{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Manifest{}, fmt.Errorf("datasets: %w", err)
	}
	names := features.Names()
	fw, commitFeatures, err := createAtomic(filepath.Join(dir, FeaturesFile), func(w io.Writer) (rowWriter[features.Row], error) {
		return NewFeatureWriter(w, names)
	})
	if err != nil {
		return Manifest{}, err
	}
	defer func() { _ = commitFeatures(false) }() // removes the partial file unless committed
	var ew rowWriter[events.Event]
	commitEvents := func(bool) error { return nil }
	if opt.Events {
		ew, commitEvents, err = createAtomic(filepath.Join(dir, EventsFile), func(w io.Writer) (rowWriter[events.Event], error) {
			return NewEventWriter(w)
		})
		if err != nil {
			return Manifest{}, err
		}
		defer func() { _ = commitEvents(false) }()
	}

	fz := features.New(opt.Featurizer)
	var rows []features.Row
	var nEvents, nRows int64
	emitRow := func(r features.Row) { rows = append(rows, r) }
	step := func(evs []events.Event) error {
		nEvents += int64(len(evs))
		if ew != nil {
			if err := ew.Write(evs); err != nil {
				return err
			}
		}
		fz.Add(evs, emitRow)
		return nil
	}
	flushRows := func() error {
		if len(rows) == 0 {
			return nil
		}
		nRows += int64(len(rows))
		err := fw.Write(rows)
		rows = rows[:0]
		return err
	}
	for fleet.Now() < fleet.End() {
		if err := ctx.Err(); err != nil {
			return Manifest{}, fmt.Errorf("datasets: generation of %s stopped: %w", dir, err)
		}
		if err := fleet.Step(min(fleet.Now()+int64(time.Minute), fleet.End()), step); err != nil {
			return Manifest{}, err
		}
		if err := flushRows(); err != nil {
			return Manifest{}, err
		}
		if opt.Progress != nil {
			opt.Progress(time.Unix(0, fleet.Now()), time.Unix(0, fleet.End()), nEvents, nRows)
		}
	}
	fz.Flush(emitRow)
	if err := flushRows(); err != nil {
		return Manifest{}, err
	}
	if err := commitFeatures(true); err != nil {
		return Manifest{}, err
	}
	if err := commitEvents(true); err != nil {
		return Manifest{}, err
	}
	truth := fleet.Truth()
	labels := make([]Label, len(truth))
	for i, s := range truth {
		labels[i] = Label(s)
	}
	if err := WriteLabels(dir, labels); err != nil {
		return Manifest{}, err
	}
	c := fleet.Config()
	m := Manifest{
		Format: Format, Generator: "sim", GeneratorVersion: sim.Version,
		Seed: c.Seed, VMs: c.VMs, Host: c.Host, Start: c.Start.UTC(),
		Duration: c.Duration.String(), DurationSeconds: c.Duration.Seconds(),
		Scenarios: c.Scenarios, Placebos: c.Placebos, Events: nEvents,
		FeatureNames: names, FeatureRows: nRows, FeatureSchemaHash: features.SchemaHash(),
		WindowSeconds: fz.Config().Window.Seconds(), Platform: "sim",
	}
	if !opt.Events {
		m.EventsFileAbsent = true
	}
	if err := WriteManifest(dir, m); err != nil {
		return Manifest{}, err
	}
	log.Info("simulated dataset written", "dir", dir, "events", m.Events, "feature_rows", nRows, "labels", len(labels))
	return m, nil
}

// rowWriter is what EventWriter and FeatureWriter have in common.
type rowWriter[T any] interface {
	Write([]T) error
	Close() error
}

// createAtomic creates path.tmp and a writer on it; commit(true) closes the
// writer and renames the file into place, commit(false) removes it (a no-op
// after a successful commit).
func createAtomic[T any](path string, open func(io.Writer) (rowWriter[T], error)) (rowWriter[T], func(bool) error, error) {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return nil, nil, fmt.Errorf("datasets: %w", err)
	}
	w, err := open(f)
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, nil, err
	}
	done := false
	commit := func(ok bool) error {
		if done {
			return nil
		}
		done = true
		if !ok {
			_ = w.Close()
			return errors.Join(os.Remove(tmp))
		}
		if err := w.Close(); err != nil { // closes f
			os.Remove(tmp)
			return err
		}
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("datasets: %w", err)
		}
		return nil
	}
	return w, commit, nil
}

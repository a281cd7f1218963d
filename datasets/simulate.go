package datasets

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/escapement/escapement/collectors/sim"
	"github.com/escapement/escapement/events"
)

// GenerateSim records a simulated fleet as a dataset in dir: events.parquet,
// labels.json (the fleet's scenarios and placebos) and manifest.json.
// features.parquet is added by the featurizer (escapement dataset). The run
// needs cfg.Duration > 0. log may be nil.
func GenerateSim(ctx context.Context, dir string, cfg sim.Config, log *slog.Logger) (Manifest, error) {
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
	path := filepath.Join(dir, EventsFile)
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return Manifest{}, fmt.Errorf("datasets: %w", err)
	}
	defer os.Remove(tmp) // no-op once renamed
	w, err := NewEventWriter(f)
	if err != nil {
		f.Close()
		return Manifest{}, err
	}
	write := func(evs []events.Event) error { return w.Write(evs) }
	for fleet.Now() < fleet.End() {
		if err := ctx.Err(); err != nil {
			f.Close()
			return Manifest{}, fmt.Errorf("datasets: generation of %s stopped: %w", dir, err)
		}
		if err := fleet.Step(fleet.Now()+int64(60e9), write); err != nil {
			f.Close()
			return Manifest{}, err
		}
		log.Debug("generating", "dir", dir, "events", w.Rows(), "sim_time", fleet.Now())
	}
	if err := w.Close(); err != nil { // closes f
		return Manifest{}, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return Manifest{}, fmt.Errorf("datasets: %w", err)
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
		Scenarios: c.Scenarios, Placebos: c.Placebos, Events: w.Rows(),
	}
	if err := WriteManifest(dir, m); err != nil {
		return Manifest{}, err
	}
	log.Info("simulated dataset written", "dir", dir, "events", m.Events, "labels", len(labels))
	return m, nil
}

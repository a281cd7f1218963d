package training

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/escapement/escapement/features"
	"github.com/escapement/escapement/models"
	"github.com/escapement/escapement/models/drift"
)

// ReadFunc streams feature rows to fn in batches (rows valid during the
// call only), such as archive.ReadWith bound to a directory and a range.
type ReadFunc func(fn func(names []string, rows []features.Row) error) error

// StreamConfig configures StreamFit.
type StreamConfig struct {
	Train  TrainConfig
	Sample SampleConfig // Seed and HoldoutFraction default to Train's
	// Exclude leaves windows out (nil keeps all).
	Exclude *Exclusions
	// Progress, if set, is called after every batch with the counts so far.
	Progress func(StreamReport)
	// Previous is the previous model's drift reference (nil for none): the
	// fitted sample is counted on its bins into StreamReport.PreviousPSI.
	Previous *drift.Reference
}

// StreamReport counts what StreamFit read, left out and fitted.
type StreamReport struct {
	Read     int64            `json:"read"`
	Excluded map[string]int64 `json:"excluded"` // by reason
	Sample   SampleStats      `json:"sample"`
	// From and To bound the window starts and ends read (after exclusion).
	From, To  time.Time     `json:"-"`
	Elapsed   time.Duration `json:"-"`
	HoldoutBy string        `json:"holdout_by"`
	// PreviousPSI is the PSI of each feature of the fitted sample against
	// StreamConfig.Previous (nil without one).
	PreviousPSI []float64 `json:"-"`
}

// StreamFit reads the rows of read, leaves out the excluded windows, keeps a
// bounded seeded sample (Sampler) and fits and calibrates on it (FitSplit).
// Memory is bounded by the sample caps, not the length of the stream. The
// returned artifact's Training.Rows and HoldoutRows are the sampled rows;
// the report has the full counts.
func StreamFit(read ReadFunc, names []string, cfg StreamConfig) (*models.Artifact, *StreamReport, error) {
	if len(names) == 0 {
		return nil, nil, errors.New("train: no feature names: pass the featurizer's catalog names")
	}
	if cfg.Sample.Seed == 0 {
		cfg.Sample.Seed = cfg.Train.Seed
	}
	if cfg.Sample.HoldoutFraction == 0 {
		cfg.Sample.HoldoutFraction = cfg.Train.HoldoutFraction
	}
	began := time.Now()
	s := NewSampler(len(names), cfg.Sample)
	rep := &StreamReport{Excluded: map[string]int64{}}
	from, to := int64(0), int64(0)
	var windows []int64 // window lengths of the first rows, for the median
	err := read(func(got []string, rows []features.Row) error {
		if !slices.Equal(got, names) {
			return fmt.Errorf("train: the data has %d feature columns, this featurizer %d (first: %v): read a range written with this catalog", len(got), len(names), got[:min(len(got), 3)])
		}
		for i := range rows {
			r := &rows[i]
			rep.Read++
			if why := cfg.Exclude.Reason(r); why != "" {
				rep.Excluded[why]++
				continue
			}
			if from == 0 || r.Start < from {
				from = r.Start
			}
			to = max(to, r.End)
			if len(windows) < 10_000 {
				windows = append(windows, r.End-r.Start)
			}
			s.Add(r)
		}
		if cfg.Progress != nil {
			rep.Sample = s.Stats()
			cfg.Progress(*rep)
		}
		return nil
	})
	rep.Sample = s.Stats()
	rep.Elapsed = time.Since(began)
	if err != nil {
		return nil, rep, err
	}
	if rep.Sample.Seen == 0 {
		return nil, rep, fmt.Errorf("train: no windows to fit on (%d read, all excluded or none in range): widen --since/--until or check the exclusions", rep.Read)
	}
	rep.From, rep.To = time.Unix(0, from).UTC(), time.Unix(0, to).UTC()
	if cfg.Train.Window <= 0 {
		slices.Sort(windows)
		cfg.Train.Window = time.Duration(max(windows[len(windows)/2], 1))
	}
	fit, held, by := s.Split()
	rep.HoldoutBy = by
	cfg.Train.HoldoutBy = by
	if cfg.Train.Stream == nil {
		// The sample thins each VM's windows and drops the n-grams, so the
		// stream detectors (per-VM replay, n-gram sketch) are not fitted
		// unless asked for.
		cfg.Train.Stream = []string{}
	}
	a, err := FitSplit(fit, held, names, cfg.Train)
	if err != nil {
		return nil, rep, err
	}
	if p := cfg.Previous; p != nil && slices.Equal(p.Features, names) {
		c := p.NewCounter()
		for _, seq := range fit {
			for i := range seq {
				c.Add(seq[i].Values)
			}
		}
		rep.PreviousPSI = c.PSI()
	}
	return a, rep, nil
}

package training

import (
	"fmt"
	"slices"

	"github.com/escapement/escapement/features"
	"github.com/escapement/escapement/models"
	"github.com/escapement/escapement/models/ngram"
	"github.com/escapement/escapement/models/stream"
	"github.com/escapement/escapement/models/vmbase"
)

// Grams converts a row's n-gram sketch for the stream detectors, reusing
// dst's storage (pass nil to get a new slice).
func Grams(ngrams []features.NGram, dst []stream.Gram) []stream.Gram {
	dst = dst[:0]
	for _, g := range ngrams {
		dst = append(dst, stream.Gram{Hash: g.Hash, Count: g.Count})
	}
	return dst
}

// DefaultStream is the stream detectors Fit adds by default: the per-VM
// baseline. The n-gram detector is left out: on simulated fleets it does not
// raise detection (see docs/models.md) and would only widen the Bonferroni
// bound.
var DefaultStream = []string{vmbase.Name}

// StreamTailFraction is the share of held-out windows above the POT
// threshold in the stream detectors' tail fits (models.CalibrationConfig):
// most of their scores sit at or near 0 (a VM doing what it did before), so
// the tail is fitted on the top 0.2 % rather than the top 5 %.
var StreamTailFraction = 0.002

// newStream returns an unfitted stream detector by name.
func newStream(name string, std *models.Standardizer, names []string, cfg TrainConfig) (stream.Detector, error) {
	switch name {
	case vmbase.Name:
		d := newBaseline(std, names)
		d.Warmup = cfg.BaselineWarmup
		return d, nil
	case ngram.Name:
		return ngram.New(), nil
	}
	return nil, fmt.Errorf("train: unknown stream detector %q: use %s or %s", name, vmbase.Name, ngram.Name)
}

// newBaseline returns the per-VM baseline detector over the standardiser's
// units and the feature names' primitive groups.
func newBaseline(std *models.Standardizer, names []string) *vmbase.Detector {
	d := vmbase.New()
	d.Median = slices.Clone(std.Median)
	d.Scale = slices.Clone(std.Scale)
	d.Group = vmbase.Groups(names)
	return d
}

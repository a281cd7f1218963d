package autoencoder

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/escapement/escapement/models/internal/check"
)

// Name is the detector name stored in artifacts.
const Name = "autoencoder"

// Defaults.
var DefaultHidden = []int{16, 8, 16}

const (
	DefaultSteps     = 1500
	DefaultBatch     = 64
	DefaultLearnRate = 0.005
)

// Detector is the autoencoder. Set the exported fields before Fit (zero
// values select the defaults).
type Detector struct {
	Hidden    []int   // hidden layer widths
	Steps     int     // Adam steps
	Batch     int     // rows per mini-batch (at most the number of rows)
	LearnRate float64 // Adam step size

	net *net
}

// New returns an unfitted autoencoder with the defaults.
func New() *Detector { return &Detector{} }

// Name returns "autoencoder".
func (d *Detector) Name() string { return Name }

// Dim returns the number of features fitted (0 if unfitted).
func (d *Detector) Dim() int {
	if d.net == nil {
		return 0
	}
	return d.net.layers[0].in
}

func (d *Detector) defaults() error {
	if len(d.Hidden) == 0 {
		d.Hidden = slices.Clone(DefaultHidden)
	}
	if d.Steps == 0 {
		d.Steps = DefaultSteps
	}
	if d.Batch == 0 {
		d.Batch = DefaultBatch
	}
	if d.LearnRate == 0 {
		d.LearnRate = DefaultLearnRate
	}
	if d.Steps < 1 || d.Batch < 1 || !(d.LearnRate > 0) || math.IsInf(d.LearnRate, 0) {
		return fmt.Errorf("autoencoder: steps %d, batch %d, learn rate %v: each must be positive", d.Steps, d.Batch, d.LearnRate)
	}
	return nil
}

// Fit trains the network to reconstruct the rows of X (see the package doc).
func (d *Detector) Fit(X [][]float64, rng *rand.Rand) error {
	dim, err := check.Matrix(X)
	if err != nil {
		return err
	}
	if rng == nil {
		panic("autoencoder: Fit needs a seeded *rand.Rand")
	}
	if err := d.defaults(); err != nil {
		return err
	}
	sizes := append(append([]int{dim}, d.Hidden...), dim)
	if err := checkSizes(sizes); err != nil {
		return err
	}
	layers := glorot(sizes, rng)
	if err := train(layers, X, min(d.Batch, len(X)), d.Steps, d.LearnRate, rng); err != nil {
		return fmt.Errorf("autoencoder: train: %w", err)
	}
	for _, l := range layers {
		if !check.Finite(l.w) || !check.Finite(l.b) {
			return errors.New("autoencoder: training diverged (non-finite weights): lower LearnRate or standardise the features")
		}
	}
	d.net = newNet(layers)
	return nil
}

// glorot initialises weights uniformly in ±sqrt(6/(in+out)), biases zero.
func glorot(sizes []int, rng *rand.Rand) []layer {
	out := make([]layer, len(sizes)-1)
	for i := range out {
		in, o := sizes[i], sizes[i+1]
		lim := math.Sqrt(6 / float64(in+o))
		w := make([]float64, in*o)
		for j := range w {
			w[j] = (2*rng.Float64() - 1) * lim
		}
		out[i] = layer{in: in, out: o, w: w, b: make([]float64, o)}
	}
	return out
}

// Score returns the mean squared reconstruction error of x.
func (d *Detector) Score(x []float64) float64 {
	if d.net == nil {
		panic("autoencoder: Score before Fit or UnmarshalBinary")
	}
	if len(x) != d.net.layers[0].in {
		panic(fmt.Sprintf("autoencoder: vector has %d features, detector was fitted on %d", len(x), d.net.layers[0].in))
	}
	return d.net.reconstructionError(x)
}

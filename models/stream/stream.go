package stream

import "math/rand/v2"

// Gram is one entry of a window's n-gram sketch: the n-gram's hash (its
// lowest bit is the stream: 0 exit kinds, 1 VMM system calls) and how often
// it occurred in the window.
type Gram struct {
	Hash  uint64
	Count uint32
}

// Stream returns the sketch stream of the n-gram (0 exits, 1 system calls).
func (g Gram) Stream() uint8 { return uint8(g.Hash & 1) }

// Window is what a stream detector sees of one window: the standardised
// feature vector and the n-gram sketch.
type Window struct {
	Z     []float64
	Grams []Gram
}

// Detector scores windows of one VM in time order through a per-VM State.
//
// Fit learns from benign sequences (each one VM's windows in time order) and
// mutates the receiver; all randomness comes from rng, so the same input and
// seed give the same model, bit for bit. NewState returns a fresh state for
// a VM never seen. The scale of scores is the detector's own; a Calibration
// maps it to a tail probability.
type Detector interface {
	Name() string
	Fit(seqs [][]Window, rng *rand.Rand) error
	NewState() State
	MarshalBinary() ([]byte, error)
	UnmarshalBinary(data []byte) error
}

// State is one VM's view of a Detector.
type State interface {
	// Score returns how anomalous w is for this VM (higher is more
	// anomalous); it does not change the state. While the VM is warming up
	// it returns 0.
	Score(w Window) float64
	// Learn folds w into the VM's baseline. The scorer calls it only for
	// windows that are not anomalous.
	Learn(w Window)
}

// Explainer is implemented by states that can say which parts of the last
// scored window drove the score.
type Explainer interface {
	// Explain appends the evidence of window w to out and returns it.
	Explain(w Window, out []Evidence) []Evidence
}

// Evidence is one item that made a window anomalous for a stream detector:
// a feature far from the VM's own baseline, or an unseen or improbable
// n-gram.
type Evidence struct {
	Feature  int     // feature index, or -1 for an n-gram
	Observed float64 // raw value (feature) or count in the window (n-gram)
	Baseline float64 // the VM's own level (feature, raw units) or benign windows holding the n-gram per million (n-gram)
	Score    float64 // the item's contribution in the detector's units
	Gram     Gram    // the n-gram, when Feature is -1
}

// GramReader is implemented by detectors that read the n-gram sketch; the
// scorer skips converting the sketch when no detector of the model does.
type GramReader interface {
	ReadsGrams() bool
}

// ReadsGrams reports whether d reads Window.Grams.
func ReadsGrams(d Detector) bool {
	g, ok := d.(GramReader)
	return ok && g.ReadsGrams()
}

package rnnlm

import (
	"fmt"
	"log/slog"
)

// Name is the model's name in artifacts and on the command line.
const Name = "rnn-lm"

// Aggregations of per-call negative log-likelihoods into a trace score.
const (
	AggMean   = "mean"   // mean NLL per call
	AggSum    = "sum"    // NLL of the whole trace
	AggWindow = "window" // largest mean NLL over Window consecutive calls
)

// Defaults. Hidden, LR and Unroll by scripts/tune-adfa (held-out
// cross-entropy on normal ADFA-LD training traces; docs/adfa.md); Epochs by
// the training-time budget of escapement eval adfa-ld, since the held-out
// curve was still falling; Batch 8 because more updates per epoch lowered
// the training loss most at the same calls per second; Agg the mean, the
// cross-entropy the selection minimises.
const (
	DefaultEmbed   = 16
	DefaultHidden  = 64
	DefaultUnroll  = 20
	DefaultBatch   = 8
	DefaultEpochs  = 8
	DefaultLR      = 0.01
	DefaultClip    = 5
	DefaultAgg     = AggMean
	DefaultWindow  = 10
	DefaultSeed    = 1
	maxSize        = 4096
	maxVocabulary  = 1 << 16
	maxUnrollBatch = 1 << 16
)

// LM is an LSTM language model over system calls (Kim et al. 2016): an
// embedding of the previous call, one LSTM layer and a softmax over the
// calls seen in training plus one unknown symbol. A trace scores the
// negative log-likelihood (nats) of its calls under the model, aggregated
// by Agg. Set the exported fields before Fit; zero values select the
// defaults.
type LM struct {
	Embed  int     // embedding width
	Hidden int     // LSTM cells
	Unroll int     // steps of truncated back-propagation through time
	Batch  int     // parallel streams per mini-batch
	Epochs int     // passes over the training calls
	LR     float64 // Adam learning rate of the first epoch
	// Decay multiplies the learning rate after each epoch (epoch e trains
	// at LR·Decay^(e−1)); 0 selects 1, no decay. A falling rate lets Adam
	// settle into a minimum its first epochs only circle.
	Decay  float64
	Clip   float64 // largest L2 norm of the gradient
	Agg    string  // AggMean, AggSum or AggWindow
	Window int     // window length for AggWindow
	Seed   uint64  // initial weights and trace order

	// AfterEpoch, when set, is called after each training epoch with a
	// fitted copy of the model holding that epoch's weights (for
	// validation curves; it is not marshalled).
	AfterEpoch func(epoch int, snapshot *LM)

	log *slog.Logger
	voc *vocab
	net *net
}

// New returns an unfitted model with the defaults that reports training
// progress (epoch, loss, calls per second) to logger (nil: silent).
func New(logger *slog.Logger) *LM {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &LM{log: logger}
}

// Name returns "rnn-lm".
func (m *LM) Name() string { return Name }

func (m *LM) defaults() error {
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	def(&m.Embed, DefaultEmbed)
	def(&m.Hidden, DefaultHidden)
	def(&m.Unroll, DefaultUnroll)
	def(&m.Batch, DefaultBatch)
	def(&m.Epochs, DefaultEpochs)
	def(&m.Window, DefaultWindow)
	if m.LR == 0 {
		m.LR = DefaultLR
	}
	if m.Clip == 0 {
		m.Clip = DefaultClip
	}
	if m.Decay == 0 {
		m.Decay = 1
	}
	if m.Agg == "" {
		m.Agg = DefaultAgg
	}
	if m.Seed == 0 {
		m.Seed = DefaultSeed
	}
	for _, s := range []struct {
		name string
		v    int
	}{{"embedding", m.Embed}, {"hidden", m.Hidden}} {
		// gorgonia drops the dimension of a one-wide slice, so the graph
		// needs at least two cells and two streams.
		if s.v < 2 || s.v > maxSize {
			return fmt.Errorf("rnnlm: %s size %d: use 2..%d", s.name, s.v, maxSize)
		}
	}
	if m.Unroll < 1 || m.Batch < 2 || m.Unroll*m.Batch > maxUnrollBatch {
		return fmt.Errorf("rnnlm: unroll %d × batch %d: use unroll ≥ 1 and batch ≥ 2 with a product up to %d", m.Unroll, m.Batch, maxUnrollBatch)
	}
	if m.Epochs < 0 {
		return fmt.Errorf("rnnlm: %d epochs: use 0 or more", m.Epochs)
	}
	if !(m.Decay > 0 && m.Decay <= 1) {
		return fmt.Errorf("rnnlm: learning-rate decay %v: use a factor in (0, 1] (1: none)", m.Decay)
	}
	if !(m.LR > 0 && m.LR < 1) || !(m.Clip > 0) {
		return fmt.Errorf("rnnlm: learning rate %v, clip %v: use a rate in (0, 1) and a positive clip", m.LR, m.Clip)
	}
	if m.Agg != AggMean && m.Agg != AggSum && m.Agg != AggWindow {
		return fmt.Errorf("rnnlm: aggregation %q: use %q, %q or %q", m.Agg, AggMean, AggSum, AggWindow)
	}
	if m.Window < 1 {
		return fmt.Errorf("rnnlm: window %d: use at least 1", m.Window)
	}
	return nil
}

// Score returns the trace's aggregated NLL (0 for an empty trace). It is
// safe for concurrent use after Fit or UnmarshalBinary.
func (m *LM) Score(trace []int) float64 {
	if m.net == nil {
		panic("rnnlm: language model used before Fit or UnmarshalBinary")
	}
	buf := m.net.get(len(trace))
	nll := m.net.nll(m.voc, trace, (*buf)[:0])
	s := Aggregate(nll, m.Agg, m.Window)
	*buf = nll
	m.net.put(buf)
	return s
}

// NLL writes the negative log-likelihood (nats) of each call of trace into
// out (grown as needed) and returns it.
func (m *LM) NLL(trace []int, out []float64) []float64 {
	if m.net == nil {
		panic("rnnlm: language model used before Fit or UnmarshalBinary")
	}
	return m.net.nll(m.voc, trace, out[:0])
}

// Aggregate folds per-call NLLs into a trace score: their mean, their sum,
// or the largest mean over window consecutive calls (the mean of all when
// the trace is shorter).
func Aggregate(nll []float64, agg string, window int) float64 {
	if len(nll) == 0 {
		return 0
	}
	var s float64
	if agg == AggSum || agg == AggMean || len(nll) <= window {
		for _, v := range nll {
			s += v
		}
		if agg == AggSum {
			return s
		}
		return s / float64(len(nll))
	}
	for _, v := range nll[:window] {
		s += v
	}
	best := s
	for i := window; i < len(nll); i++ {
		s += nll[i] - nll[i-window]
		best = max(best, s)
	}
	return best / float64(window)
}

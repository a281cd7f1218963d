// Package rnnlm is a recurrent language model over system-call traces, the
// approach of Kim et al. 2016 ("LSTM-based system-call language modeling
// and robust ensemble method for designing host-based intrusion detection
// systems"): learn from normal traces how likely each call is given the
// calls before it, and score a trace by how unlikely its calls are.
//
// The network is an embedding of the previous call, one LSTM layer and a
// softmax over the calls seen in training plus one unknown symbol that
// stands for every call never seen (so a novel call is improbable but
// finite). Fit trains it with gorgonia (gorgonia.org/gorgonia): the graph
// is unrolled once over Unroll steps of Batch parallel streams and reused
// for every mini-batch (truncated back-propagation through time, Adam,
// gradient-norm clipping). The training traces are laid end to end
// into the streams, each led by a start symbol at which the LSTM state is
// reset; the state is carried across mini-batches otherwise.
//
// Scoring does not use gorgonia: the weights are exported to plain slices
// and a trace is run step by step (one H×4H and one H×V matrix-vector
// product per call, no allocation per step), starting from a zero state
// with the start symbol as input. The per-call negative log-likelihoods
// (nats) are folded by Agg into the trace score: their mean, their sum, or
// the largest mean over Window consecutive calls. A test checks this
// inference against gorgonia's forward pass, and another checks gorgonia's
// gradient against finite differences.
//
// Contract (shared with models/seq, checked by models/detectortest): Fit
// mutates the receiver and is deterministic for a given Seed (weights,
// trace order and gorgonia's serial arithmetic); MarshalBinary of two fits
// with the same inputs gives the same bytes, and UnmarshalBinary restores a
// model that scores identically. Score is higher for more anomalous traces
// and safe for concurrent use; scoring before Fit panics; an empty training
// set returns models' ErrEmpty. The defaults were chosen by
// scripts/tune-adfa on ADFA-LD's normal training traces (docs/adfa.md).
package rnnlm

// Package seq holds sequence models over system-call traces, learned from
// normal traces only: STIDE n-gram novelty (Forrest et al. 1996) and an
// interpolated Kneser-Ney n-gram language model.
//
// A trace is a []int of system-call numbers (ADFA-LD's i386 numbers, or a
// VMM thread's calls). Fit learns from normal traces and mutates the
// receiver; it is deterministic (no randomness is involved) and the
// marshalled bytes of a model are the same for the same training traces.
// Score is higher for more anomalous traces and is safe for concurrent use
// after Fit or UnmarshalBinary. Scoring before Fit panics; an empty training
// set returns models' ErrEmpty.
//
// These models take variable-length traces, not the fixed-length feature
// vectors of models.Detector, so they are not in the feature-vector
// ensemble: they score raw traces (escapement eval adfa-ld) and, later,
// per-thread call sequences.
//
// STIDE scores the fraction of a trace's length-N windows never seen in
// training. The language model scores the trace's cross-entropy: the mean
// negative log-likelihood per call, in nats (Agg "mean"), or the largest
// mean over Window consecutive calls (Agg "window"). Its defaults (N=7,
// D=0.9, mean) were chosen by scripts/tune-adfa, by 5-fold held-out
// cross-entropy on ADFA-LD's normal training traces. Unseen calls share one
// unknown symbol; histories start with pad symbols, so the first calls of a
// trace are predicted from the trace start.
package seq

// Package detectortest is the conformance suite every models.Detector
// passes: Run checks fit determinism under a seed, the marshal round trip
// (equal bytes, equal scores), the schema contract (a vector of the wrong
// length panics, Score before Fit panics, NaN or Inf in the training set and
// an empty training set return models.ErrNonFinite and models.ErrEmpty),
// corrupt model data, and concurrent scoring. RunSequence is the same
// contract for the sequence models of models/seq, which score
// variable-length system-call traces instead of feature vectors.
//
// A new detector adds one line to the table in conformance_test.go.
package detectortest

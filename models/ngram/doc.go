// Package ngram is the sequence detector over the n-gram sketches of
// escapement.features.v1: each window carries up to K (default 64) hashed
// 3-grams of exit kinds per vCPU thread and of VMM system calls per VMM
// thread, with their counts (features.Row.NGrams).
//
// Fit learns, over benign windows, in how many windows each n-gram occurs
// (its document frequency df). A window's n-gram g then has the smoothed
// surprisal
//
//	s(g) = −ln((df(g) + Alpha) / (N + Alpha))
//
// with N the number of training windows and Alpha = 0.5 (add-half smoothing,
// so an n-gram never seen scores ln(2N+1), about 14 for a million windows,
// and one seen in every window about 0). The window's score is
//
//	max_g s(g) + ln(1 + U)
//
// where U is the number of its n-grams never seen in training: the rarest
// transition of the window, raised when several unseen ones come together.
// The explanation lists the window's unseen and improbable n-grams (those
// seen in fewer than one benign window in 10 000).
//
// The sketch keeps a window's most frequent n-grams, so a rare transition
// shows when the window has fewer distinct n-grams than the sketch holds
// (quiet VMs, the VMM's own thread); the per-VM novelty of every n-gram is
// counted by the featurizer regardless (syscall_ngram_novelty,
// exit_ngram_novelty).
//
// The detector keeps no per-VM state: its State only scores.
package ngram

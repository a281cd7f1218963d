// Package drift measures how far the feature distribution of recent traffic
// has moved from the data a model was trained on, with the population
// stability index (PSI).
//
// A Reference holds, per feature, about ten bins whose edges are quantiles of
// the training values and the share of training rows in each bin. It is
// stored in the model artifact (drift.json), so the scorer can compare live
// traffic with it and training can compare a new model's data with the
// previous model's. Artifacts written before references existed simply have
// none.
//
//	PSI = Σ_bins (q_i − p_i) · ln(q_i / p_i)
//
// with p the reference shares and q the observed ones, each floored at
// Epsilon so an empty bin does not make it infinite. The usual reading: below
// 0.1 no significant shift, 0.1 to 0.25 a moderate shift worth watching,
// above 0.25 a major shift (retrain or investigate). Heavy point masses (a
// feature that is 0 in most windows) give fewer, wider bins: the edges are
// de-duplicated, and a bin holds values v with edge[i-1] < v ≤ edge[i].
package drift

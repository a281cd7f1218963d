// Package zmax is the per-feature extreme detector of the ensemble: the
// largest upward deviation of any single feature, each measured against its
// own spread in the training data.
//
// An isolation forest splits on one random feature per node, so a vector that
// is ordinary on 44 features and extreme on one is isolated little faster
// than the inliers (Liu, Ting & Zhou note the masking of such points in high
// dimension). An escape that hammers a single primitive (port I/O to a legacy
// device, one MSR) looks exactly like that, so the ensemble pairs the forest
// with this detector.
//
// Fit learns, per feature j, the median m_j and the spread
// s_j = max(q_j − m_j, Floor), where q_j is the Quantile (default 0.999) of
// the training column; Score(x) = max_j (x_j − m_j)/s_j. Inputs are expected
// already standardised (models.Standardizer), so Floor is in robust-z units.
// Fit is deterministic and ignores rng.
package zmax

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
// Fit learns, per feature j, the benign envelope e_j: the Quantile (default
// 1, the largest value) of the training column. Score(x) = max_j (x_j − e_j)
// · Units_j / Floor: how far the most extreme feature rises above anything benign
// training showed, in robust-z units (inputs are standardised by
// models.Standardizer, whose log scale makes a rise of one unit a fixed
// factor on the raw rate). Measuring the rise above the envelope rather than
// the distance from the median is what separates a flood of a primitive that
// benign guests also use (boot probing touches the floppy and PCI ports) from
// the benign bursts: the benign tail sits at or below 0, a flood far above.
// The envelope's stored name in the binary format is "median" for format
// stability. Fit is deterministic and ignores rng.
package zmax

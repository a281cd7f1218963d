// Package iforest implements the Isolation Forest of Liu, Ting and Zhou
// ("Isolation Forest", ICDM 2008).
//
// Anomalies are few and different, so random axis-parallel splits isolate
// them in fewer steps than normal points. Fit grows Trees isolation trees,
// each on a subsample of Subsample rows drawn without replacement, to a
// height limit of ceil(log2 ψ). At each internal node a feature is chosen
// uniformly at random among those that are not constant in the node, and a
// split value uniformly between the node's minimum and maximum on it. The path
// length h(x) of a point is the number of edges from the root to the external
// node it reaches, plus c(n) for the n training points that the external node
// still holds (the average path length of an unsuccessful search in a binary
// search tree of n points, the paper's adjustment for unbuilt subtrees). The
// anomaly score is s(x) = 2^(−E[h(x)] / c(ψ)): close to 1 for anomalies,
// at most about 0.5 for normal points.
//
// Each tree is stored as a perfect binary tree of height ceil(log2 ψ) in flat
// arrays (children of node i at 2i+1 and 2i+2; split values as float32). An
// external node reached above the height limit is padded with splits at +Inf
// that always lead left, and every bottom slot stores the finished
// contribution depth + c(n) of its external node. Scoring is then a fixed
// number of branch-free steps per tree, eight trees interleaved, with no
// allocation.
//
// Fit is deterministic for a given seeded *rand.Rand (math/rand/v2, whose PCG
// and ChaCha8 sources are stable across Go releases).
package iforest

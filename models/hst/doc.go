// Package hst is Half-Space Trees (Tan, Ting and Liu, "Fast anomaly
// detection for streaming data", IJCAI 2011) as a models.Detector.
//
// Each of T trees (default 25) is a full binary tree of depth H (default
// 12) over a random work space: for every feature a point s is drawn
// uniformly in the training range [lo, hi] and the work space is
// s ± 2·max(s − lo, hi − s), so it covers the data with room to spare. A node
// splits a feature drawn at random at the middle of the node's current range
// on it (half-spaces, no data needed to build). Fit then counts how many
// training rows reach each node (the mass r). A vector's tree score is
// r·2^d at the first node on its path that is at depth H or holds fewer than
// a size limit (max(1, rows/1000)) rows; normal vectors
// land in massive deep nodes. Score returns −log2 of the mean tree score
// per training row, so higher is more anomalous, as models.Detector asks.
//
// Trees are stored as flat arrays (node i's children at 2i+1, 2i+2): one
// feature index, one split value and one mass per node. Scoring is H steps
// per tree with no allocation. Fit is deterministic under the seeded rng.
//
// The paper updates the masses online from a sliding reference window;
// Update does that step (fold a window of rows in as the new reference
// masses), so the model can follow a drifting fleet, but the scorer uses
// the masses it was trained with. HST is not in the default ensemble: it
// is an axis-parallel partition like the isolation forest and shares its
// weakness on single-feature extremes (models.md).
package hst

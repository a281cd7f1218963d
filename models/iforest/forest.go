package iforest

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/escapement/escapement/models/internal/check"
)

// Name is the detector name stored in artifacts.
const Name = "iforest"

// Defaults from the paper.
const (
	DefaultTrees     = 100
	DefaultSubsample = 256
	// MaxSubsample bounds ψ so that a tree (2^ceil(log2 ψ) slots) stays small.
	MaxSubsample = 1 << 16
)

// eulerGamma is the Euler–Mascheroni constant used in the paper's
// approximation of the harmonic number H(i) ≈ ln(i) + γ.
const eulerGamma = 0.5772156649015329

// split is an internal slot of a perfect tree: go right when
// x[feature] >= value. Padding slots have value +Inf.
type split struct {
	value   float32
	feature uint32
}

// Forest is an isolation forest. Set Trees and Subsample before Fit (zero
// means the default).
type Forest struct {
	Trees     int
	Subsample int

	dim    int
	psi    int       // subsample size actually used: min(Subsample, rows)
	cpsi   float64   // c(psi)
	height int       // ceil(log2 psi)
	splits []split   // Trees × (2^height − 1)
	leaves []float32 // Trees × 2^height
}

// New returns an unfitted forest with the given number of trees and subsample
// size; zero values select the defaults.
func New(trees, subsample int) *Forest {
	return &Forest{Trees: trees, Subsample: subsample}
}

// Name returns "iforest".
func (f *Forest) Name() string { return Name }

// Dim returns the number of features the forest was fitted on (0 if unfitted).
func (f *Forest) Dim() int { return f.dim }

// C is the average path length of an unsuccessful search in a binary search
// tree of n points (Liu, Ting & Zhou 2008, eq. 1):
// c(n) = 2H(n−1) − 2(n−1)/n with H(i) ≈ ln(i) + γ; c(2) = 1 and c(n) = 0 for
// n < 2.
func C(n int) float64 {
	switch {
	case n < 2:
		return 0
	case n == 2:
		return 1
	}
	m := float64(n - 1)
	return 2*(math.Log(m)+eulerGamma) - 2*m/float64(n)
}

// Fit grows the forest on X. It panics on a ragged X or a nil rng and returns
// an error for an empty X or non-finite values.
func (f *Forest) Fit(X [][]float64, rng *rand.Rand) error {
	d, err := check.Matrix(X)
	if err != nil {
		return err
	}
	if rng == nil {
		panic("iforest: Fit needs a seeded *rand.Rand")
	}
	if d > math.MaxInt32 {
		panic("iforest: too many features")
	}
	trees, psi := f.Trees, f.Subsample
	if trees <= 0 {
		trees = DefaultTrees
	}
	if psi <= 0 {
		psi = DefaultSubsample
	}
	psi = min(psi, len(X), MaxSubsample)
	height := 0
	if psi > 1 {
		height = int(math.Ceil(math.Log2(float64(psi))))
	}
	ni, nl := 1<<height-1, 1<<height

	b := builder{X: X, d: d, rng: rng, height: height}
	b.perm = make([]int, len(X))
	b.feats = make([]int, d)
	b.splits = make([]split, trees*ni)
	b.leaves = make([]float32, trees*nl)
	for t := range trees {
		sample := b.subsample(psi)
		b.tsplits = b.splits[t*ni : (t+1)*ni]
		b.tleaves = b.leaves[t*nl : (t+1)*nl]
		b.grow(0, sample, 0)
	}
	f.Trees, f.Subsample = trees, psi
	f.dim, f.psi, f.cpsi, f.height = d, psi, C(psi), height
	f.splits, f.leaves = b.splits, b.leaves
	return nil
}

type builder struct {
	X       [][]float64
	d       int
	rng     *rand.Rand
	height  int
	perm    []int
	feats   []int
	splits  []split
	leaves  []float32
	tsplits []split
	tleaves []float32
}

// subsample draws n row indices without replacement (partial Fisher–Yates).
func (b *builder) subsample(n int) []int {
	for i := range b.perm {
		b.perm[i] = i
	}
	for i := range n {
		j := i + b.rng.IntN(len(b.perm)-i)
		b.perm[i], b.perm[j] = b.perm[j], b.perm[i]
	}
	out := make([]int, n)
	copy(out, b.perm[:n])
	return out
}

// grow fills slot i (at depth) of the current tree with the tree of rows idx.
func (b *builder) grow(i int, idx []int, depth int) {
	if depth >= b.height || len(idx) <= 1 {
		b.external(i, depth, float32(float64(depth)+C(len(idx))))
		return
	}
	// Choose a feature uniformly among those not constant in this node:
	// visit features in random order and take the first with a spread.
	for k := range b.feats {
		b.feats[k] = k
	}
	q, p := -1, float32(0)
	for k := range b.d {
		j := k + b.rng.IntN(b.d-k)
		b.feats[k], b.feats[j] = b.feats[j], b.feats[k]
		c := b.feats[k]
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, r := range idx {
			v := b.X[r][c]
			lo, hi = min(lo, v), max(hi, v)
		}
		if !(hi > lo) {
			continue
		}
		// Split uniformly in [lo, hi), rounded to float32 and kept in
		// (lo, hi] so both sides are non-empty.
		s := float32(lo + b.rng.Float64()*(hi-lo))
		for float64(s) <= lo {
			s = math.Nextafter32(s, float32(math.Inf(1)))
		}
		if float64(s) > hi { // spread below float32 resolution
			continue
		}
		q, p = c, s
		break
	}
	if q < 0 { // all rows identical: cannot be isolated further
		b.external(i, depth, float32(float64(depth)+C(len(idx))))
		return
	}
	// Partition idx in place: x[q] < p to the left.
	l := 0
	for k, r := range idx {
		if b.X[r][q] < float64(p) {
			idx[l], idx[k] = idx[k], idx[l]
			l++
		}
	}
	b.tsplits[i] = split{value: p, feature: uint32(q)}
	b.grow(2*i+1, idx[:l], depth+1)
	b.grow(2*i+2, idx[l:], depth+1)
}

// external pads the subtree under slot i with always-left splits and stores
// the path length v in its bottom slots.
func (b *builder) external(i, depth int, v float32) {
	if depth == b.height {
		b.tleaves[i-len(b.tsplits)] = v
		return
	}
	b.tsplits[i] = split{value: float32(math.Inf(1))}
	b.external(2*i+1, depth+1, v)
	b.external(2*i+2, depth+1, v)
}

// PathLength returns E[h(x)], the mean path length of x over the trees.
func (f *Forest) PathLength(x []float64) float64 {
	if f.dim == 0 {
		panic("iforest: PathLength before Fit or UnmarshalBinary")
	}
	if len(x) != f.dim {
		panic(fmt.Sprintf("iforest: vector has %d features, forest was fitted on %d", len(x), f.dim))
	}
	ni, nl, h := 1<<f.height-1, 1<<f.height, f.height
	splits, leaves := f.splits, f.leaves
	var sum float64
	// Up to lanes trees at a time: independent chains of loads the CPU
	// overlaps (the forest does not fit in L1, so a walk waits on memory;
	// 16 chains were measured faster than 8). Leaves are summed in tree
	// order whatever the grouping, so the result does not depend on it.
	for t := 0; t < f.Trees; t += lanes {
		m := min(lanes, f.Trees-t)
		var at [lanes]int
		for range h {
			for k := range m {
				n := splits[(t+k)*ni+at[k]]
				at[k] = 2*at[k] + 1 + b2i(x[n.feature] >= float64(n.value))
			}
		}
		for k := range m {
			sum += float64(leaves[(t+k)*nl+at[k]-ni])
		}
	}
	return sum / float64(f.Trees)
}

// lanes is how many trees PathLength walks at once.
const lanes = 16

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Score returns s(x) = 2^(−E[h(x)]/c(ψ)) in (0, 1]; higher is more anomalous.
func (f *Forest) Score(x []float64) float64 {
	h := f.PathLength(x)
	if f.cpsi == 0 {
		return 0.5
	}
	return math.Exp2(-h / f.cpsi)
}

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
	walk   []split   // splits interleaved for PathLength (see interleave)
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
	f.interleave()
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
	leaves := f.leaves
	var sum float64
	// lanes trees at a time (see walk): independent chains of loads the
	// CPU overlaps. Leaves are summed in tree order whatever the grouping,
	// so the result does not depend on it.
	for t := 0; t < f.Trees; t += lanes {
		var at [lanes]int
		at[0], at[1], at[2], at[3], at[4], at[5], at[6], at[7] = walk(f.walk[t*ni:(t+lanes)*ni], x, h)
		for k := range min(lanes, f.Trees-t) {
			// at[k] = lanes·i + k for the tree's bottom slot i.
			sum += float64(leaves[(t+k)*nl+at[k]/lanes-ni])
		}
	}
	return sum / float64(f.Trees)
}

// lanes is how many trees PathLength walks at once: one group of the
// interleaved layout, whose slots stay in registers.
const lanes = 8

// walk is written out for eight lanes: this fails to compile otherwise.
const _ = uint(lanes-8) + uint(8-lanes)

// walk descends the h levels of one group of lanes interleaved trees (see
// interleave) and returns the slot each tree ends in. Slot p = lanes·i + k
// holds node i of tree k, whose children are nodes 2i+1 and 2i+2, so the
// next slot is 2p − k + lanes·(1 + c) with c = 1 to go right. Written out
// per tree, the slots are eight registers and every offset a constant: no
// lane array in memory, no multiply, an instruction count per node about
// half that of a loop over the lanes.
func walk(s []split, x []float64, h int) (p0, p1, p2, p3, p4, p5, p6, p7 int) {
	p0, p1, p2, p3, p4, p5, p6, p7 = 0, 1, 2, 3, 4, 5, 6, 7
	for range h {
		n0 := s[p0]
		p0 = 2*p0 + 8 + 8*b2i(x[n0.feature] >= float64(n0.value))
		n1 := s[p1]
		p1 = 2*p1 + 7 + 8*b2i(x[n1.feature] >= float64(n1.value))
		n2 := s[p2]
		p2 = 2*p2 + 6 + 8*b2i(x[n2.feature] >= float64(n2.value))
		n3 := s[p3]
		p3 = 2*p3 + 5 + 8*b2i(x[n3.feature] >= float64(n3.value))
		n4 := s[p4]
		p4 = 2*p4 + 4 + 8*b2i(x[n4.feature] >= float64(n4.value))
		n5 := s[p5]
		p5 = 2*p5 + 3 + 8*b2i(x[n5.feature] >= float64(n5.value))
		n6 := s[p6]
		p6 = 2*p6 + 2 + 8*b2i(x[n6.feature] >= float64(n6.value))
		n7 := s[p7]
		p7 = 2*p7 + 1 + 8*b2i(x[n7.feature] >= float64(n7.value))
	}
	// The bottom slots: node i of the last level is at lanes·i + k.
	return p0, p1, p2, p3, p4, p5, p6, p7
}

// interleave builds f.walk from f.splits: the trees in groups of lanes,
// node i of tree k of a group at lanes·i + k (the stored layout, one tree
// after another, stays in f.splits for MarshalBinary). The last group is
// padded with trees of always-left splits, walked and never summed.
func (f *Forest) interleave() {
	ni := 1<<f.height - 1
	groups := (f.Trees + lanes - 1) / lanes
	w := make([]split, groups*lanes*ni)
	pad := split{value: float32(math.Inf(1))}
	for t := range groups * lanes {
		base := t / lanes * lanes * ni
		for i := range ni {
			s := pad
			if t < f.Trees {
				s = f.splits[t*ni+i]
			}
			w[base+lanes*i+t%lanes] = s
		}
	}
	f.walk = w
}

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

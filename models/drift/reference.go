package drift

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
)

// Defaults and conventions.
const (
	DefaultBins = 10
	// Epsilon floors a bin's share in PSI.
	Epsilon = 1e-4
	// Moderate and Major are the conventional PSI thresholds.
	Moderate = 0.1
	Major    = 0.25
)

// Reference is the binned training distribution of every feature.
type Reference struct {
	Features []string `json:"features"`
	// Edges[j] are the inner bin edges of feature j, increasing: bin 0 is
	// v ≤ Edges[j][0], bin i is Edges[j][i-1] < v ≤ Edges[j][i], the last
	// bin v > Edges[j][len-1].
	Edges [][]float64 `json:"edges"`
	// Shares[j][i] is the share of training rows in bin i of feature j.
	Shares [][]float64 `json:"shares"`
	Rows   int         `json:"rows"`
}

// Fit builds a Reference of X (rows × len(names)) with at most bins bins per
// feature (DefaultBins when ≤ 1), edges at quantiles of each column. It
// panics when a row's length differs from len(names).
func Fit(names []string, X [][]float64, bins int) (*Reference, error) {
	if len(X) == 0 {
		return nil, errors.New("drift: no rows to build a reference from")
	}
	if bins <= 1 {
		bins = DefaultBins
	}
	r := &Reference{Features: slices.Clone(names), Rows: len(X)}
	col := make([]float64, len(X))
	for j := range names {
		for i, x := range X {
			if len(x) != len(names) {
				panic(fmt.Sprintf("drift: row %d has %d values for %d features", i, len(x), len(names)))
			}
			col[i] = x[j]
		}
		slices.Sort(col)
		var edges []float64
		for b := 1; b < bins; b++ {
			e := col[min(len(col)-1, b*len(col)/bins)]
			if len(edges) == 0 || e > edges[len(edges)-1] {
				edges = append(edges, e)
			}
		}
		// The top edge must leave something above it, or the last bin is
		// always empty.
		if len(edges) > 0 && edges[len(edges)-1] >= col[len(col)-1] {
			edges = edges[:len(edges)-1]
		}
		counts := make([]float64, len(edges)+1)
		for _, v := range col {
			counts[Bin(edges, v)]++
		}
		for i := range counts {
			counts[i] /= float64(len(col))
		}
		r.Edges = append(r.Edges, edges)
		r.Shares = append(r.Shares, counts)
	}
	return r, nil
}

// Bin returns the bin of v for the inner edges (see Reference.Edges).
// NaN falls in the last bin.
func Bin(edges []float64, v float64) int {
	if math.IsNaN(v) {
		return len(edges)
	}
	return sort.SearchFloat64s(edges, v)
}

// Validate checks the shapes of a loaded reference.
func (r *Reference) Validate() error {
	if len(r.Edges) != len(r.Features) || len(r.Shares) != len(r.Features) {
		return fmt.Errorf("drift reference: %d features, %d edge lists, %d share lists", len(r.Features), len(r.Edges), len(r.Shares))
	}
	for j := range r.Features {
		if len(r.Shares[j]) != len(r.Edges[j])+1 {
			return fmt.Errorf("drift reference: feature %s has %d edges and %d shares, want edges+1", r.Features[j], len(r.Edges[j]), len(r.Shares[j]))
		}
		if !slices.IsSorted(r.Edges[j]) {
			return fmt.Errorf("drift reference: edges of feature %s are not increasing", r.Features[j])
		}
	}
	return nil
}

// Counter counts values of every feature into the reference's bins.
type Counter struct {
	ref    *Reference
	Counts [][]float64
	N      int
}

// NewCounter returns an empty Counter on ref's bins.
func (r *Reference) NewCounter() *Counter {
	c := &Counter{ref: r, Counts: make([][]float64, len(r.Features))}
	for j := range c.Counts {
		c.Counts[j] = make([]float64, len(r.Shares[j]))
	}
	return c
}

// Add counts one row (values in Reference.Features order).
func (c *Counter) Add(x []float64) {
	for j, e := range c.ref.Edges {
		c.Counts[j][Bin(e, x[j])]++
	}
	c.N++
}

// PSI returns the PSI of every feature of the counted rows against the
// reference (nil when nothing was counted).
func (c *Counter) PSI() []float64 {
	if c.N == 0 {
		return nil
	}
	out := make([]float64, len(c.Counts))
	for j, counts := range c.Counts {
		out[j] = PSI(c.ref.Shares[j], counts)
	}
	return out
}

// PSI is the population stability index of observed bin counts against
// reference shares of the same bins. It panics when the lengths differ.
func PSI(ref, counts []float64) float64 {
	if len(ref) != len(counts) {
		panic(fmt.Sprintf("drift: %d reference bins, %d counts", len(ref), len(counts)))
	}
	var n float64
	for _, c := range counts {
		n += c
	}
	if n == 0 {
		return 0
	}
	var psi float64
	for i, p := range ref {
		q := max(counts[i]/n, Epsilon)
		p = max(p, Epsilon)
		psi += (q - p) * math.Log(q/p)
	}
	return psi
}

// Level names a PSI by the conventional thresholds: "stable", "moderate" or
// "major".
func Level(psi float64) string {
	switch {
	case psi >= Major:
		return "major"
	case psi >= Moderate:
		return "moderate"
	}
	return "stable"
}

package hst

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/escapement/escapement/models/internal/check"
)

// Name is the detector name stored in artifacts.
const Name = "hst"

// Defaults.
const (
	DefaultTrees = 25
	DefaultDepth = 12
)

// Detector is a Half-Space Trees ensemble. Set Trees and Depth before Fit
// (0 selects the defaults).
type Detector struct {
	Trees, Depth int

	dim       int
	sizeLimit float64
	rows      float64
	feat      []int32   // per tree per node
	split     []float64 // per tree per node
	mass      []float64 // per tree per node
}

// New returns an unfitted detector with the defaults.
func New() *Detector { return &Detector{} }

// Name returns "hst".
func (d *Detector) Name() string { return Name }

// Dim returns the number of features (0 if unfitted).
func (d *Detector) Dim() int { return d.dim }

func (d *Detector) nodes() int { return 1<<(d.Depth+1) - 1 }

// Fit builds the trees over random work spaces of X's range and counts the
// masses of X's rows.
func (d *Detector) Fit(X [][]float64, rng *rand.Rand) error {
	dim, err := check.Matrix(X)
	if err != nil {
		return err
	}
	if d.Trees <= 0 {
		d.Trees = DefaultTrees
	}
	if d.Depth <= 0 || d.Depth > 20 {
		d.Depth = DefaultDepth
	}
	lo, hi := make([]float64, dim), make([]float64, dim)
	copy(lo, X[0])
	copy(hi, X[0])
	for _, x := range X {
		for j, v := range x {
			lo[j], hi[j] = min(lo[j], v), max(hi[j], v)
		}
	}
	n := d.nodes()
	d.dim = dim
	d.feat, d.split, d.mass = make([]int32, d.Trees*n), make([]float64, d.Trees*n), make([]float64, d.Trees*n)
	wlo, whi := make([]float64, dim), make([]float64, dim)
	for t := range d.Trees {
		for j := range dim {
			s := lo[j] + rng.Float64()*(hi[j]-lo[j])
			r := 2 * max(s-lo[j], hi[j]-s, 1e-9)
			wlo[j], whi[j] = s-r, s+r
		}
		d.build(t*n, 0, wlo, whi, rng)
	}
	d.Update(X)
	return nil
}

// build fills node i of the tree at base and its subtree.
func (d *Detector) build(base, i int, lo, hi []float64, rng *rand.Rand) {
	if 2*i+1 >= d.nodes() {
		d.feat[base+i] = -1
		return
	}
	q := rng.IntN(len(lo))
	mid := (lo[q] + hi[q]) / 2
	d.feat[base+i], d.split[base+i] = int32(q), mid
	old := hi[q]
	hi[q] = mid
	d.build(base, 2*i+1, lo, hi, rng)
	hi[q] = old
	old = lo[q]
	lo[q] = mid
	d.build(base, 2*i+2, lo, hi, rng)
	lo[q] = old
}

// Update replaces the masses by those of the reference window X (the
// paper's end-of-window step). X must have the fitted dimension.
func (d *Detector) Update(X [][]float64) {
	if d.dim == 0 {
		panic("hst: Update before Fit")
	}
	clear(d.mass)
	n := d.nodes()
	for _, x := range X {
		if len(x) != d.dim {
			panic(fmt.Sprintf("hst: row of %d features, detector has %d", len(x), d.dim))
		}
		for t := range d.Trees {
			base, i := t*n, 0
			for {
				d.mass[base+i]++
				f := d.feat[base+i]
				if f < 0 {
					break
				}
				if x[f] < d.split[base+i] {
					i = 2*i + 1
				} else {
					i = 2*i + 2
				}
			}
		}
	}
	d.rows = float64(len(X))
	d.sizeLimit = max(1, d.rows/1000)
}

// Score returns −log2 of the mean, over trees, of r·2^depth / rows at the
// node where x's path ends (depth limit or mass below the size limit).
func (d *Detector) Score(x []float64) float64 {
	if d.dim == 0 {
		panic("hst: Score before Fit")
	}
	if len(x) != d.dim {
		panic(fmt.Sprintf("hst: vector of %d features, detector has %d", len(x), d.dim))
	}
	n := d.nodes()
	var sum float64
	for t := range d.Trees {
		base, i, depth := t*n, 0, 0
		for {
			f := d.feat[base+i]
			if f < 0 || d.mass[base+i] < d.sizeLimit {
				break
			}
			if x[f] < d.split[base+i] {
				i = 2*i + 1
			} else {
				i = 2*i + 2
			}
			depth++
		}
		sum += d.mass[base+i] * math.Ldexp(1, depth)
	}
	mean := sum / float64(d.Trees) / d.rows
	return -math.Log2(max(mean, 1e-300))
}

const (
	magic      = "HSTR"
	format     = 1
	headerSize = 4 + 2 + 4 + 4 + 4 + 8 // magic, format, dim, trees, depth, rows
)

// MarshalBinary encodes the fitted detector ("HSTR", format 1, little
// endian): dim, trees, depth, reference rows, then per node feature (int32),
// split and mass (float64).
func (d *Detector) MarshalBinary() ([]byte, error) {
	if d.dim == 0 {
		return nil, errors.New("hst: cannot marshal an unfitted detector: call Fit first")
	}
	le := binary.LittleEndian
	buf := make([]byte, 0, headerSize+20*len(d.feat))
	buf = append(buf, magic...)
	buf = le.AppendUint16(buf, format)
	buf = le.AppendUint32(buf, uint32(d.dim))
	buf = le.AppendUint32(buf, uint32(d.Trees))
	buf = le.AppendUint32(buf, uint32(d.Depth))
	buf = le.AppendUint64(buf, math.Float64bits(d.rows))
	for i := range d.feat {
		buf = le.AppendUint32(buf, uint32(d.feat[i]))
		buf = le.AppendUint64(buf, math.Float64bits(d.split[i]))
		buf = le.AppendUint64(buf, math.Float64bits(d.mass[i]))
	}
	return buf, nil
}

// UnmarshalBinary decodes a detector written by MarshalBinary.
func (d *Detector) UnmarshalBinary(data []byte) error {
	bad := errors.New("hst: corrupt model data: re-export the artifact from training")
	if len(data) < headerSize || string(data[:4]) != magic {
		return bad
	}
	le := binary.LittleEndian
	if v := le.Uint16(data[4:]); v != format {
		return fmt.Errorf("hst: model format %d, this build reads %d: retrain or upgrade", v, format)
	}
	nd := Detector{dim: int(le.Uint32(data[6:])), Trees: int(le.Uint32(data[10:])), Depth: int(le.Uint32(data[14:]))}
	nd.rows = math.Float64frombits(le.Uint64(data[18:]))
	if nd.dim == 0 || nd.Trees == 0 || nd.Depth <= 0 || nd.Depth > 20 || !(nd.rows >= 1) {
		return bad
	}
	total := nd.Trees * nd.nodes()
	if len(data)-headerSize != 20*total {
		return bad
	}
	nd.feat, nd.split, nd.mass = make([]int32, total), make([]float64, total), make([]float64, total)
	for i := range total {
		b := data[headerSize+20*i:]
		nd.feat[i] = int32(le.Uint32(b))
		nd.split[i] = math.Float64frombits(le.Uint64(b[4:]))
		nd.mass[i] = math.Float64frombits(le.Uint64(b[12:]))
		if nd.feat[i] < -1 || int(nd.feat[i]) >= nd.dim || math.IsNaN(nd.split[i]) || !(nd.mass[i] >= 0) {
			return bad
		}
	}
	nd.sizeLimit = max(1, nd.rows/1000)
	*d = nd
	return nil
}

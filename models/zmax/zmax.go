package zmax

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/escapement/escapement/models/internal/check"
)

// Name is the detector name stored in artifacts.
const Name = "zmax"

// Defaults.
const (
	DefaultQuantile = 1.0
	DefaultFloor    = 1.0
)

// Detector is the per-feature extreme detector. Set Quantile and Floor before
// Fit (zero means the default).
type Detector struct {
	Quantile float64
	Floor    float64
	// Units, when set before Fit (one per feature), converts each
	// feature's rise above its envelope into common units: training passes
	// the Standardizer's scales, so a rise is measured in log1p units of
	// the raw rate (a fixed factor on the rate) whatever the feature's
	// spread. Nil measures in the input's own units.
	Units []float64

	median []float64
	spread []float64
}

// New returns an unfitted detector with the defaults.
func New() *Detector { return &Detector{} }

// Name returns "zmax".
func (d *Detector) Name() string { return Name }

// Dim returns the number of features fitted (0 if unfitted).
func (d *Detector) Dim() int { return len(d.median) }

// Fit learns the per-feature benign envelope of X (see the package doc).
func (d *Detector) Fit(X [][]float64, _ *rand.Rand) error {
	dim, err := check.Matrix(X)
	if err != nil {
		return err
	}
	q, floor := d.Quantile, d.Floor
	if q <= 0 || q > 1 {
		q = DefaultQuantile
	}
	if floor <= 0 {
		floor = DefaultFloor
	}
	col := make([]float64, len(X))
	d.median, d.spread = make([]float64, dim), make([]float64, dim)
	for j := range dim {
		for i, row := range X {
			col[i] = row[j]
		}
		slices.Sort(col)
		d.median[j] = quantile(col, q)
		d.spread[j] = floor
		if d.Units != nil {
			d.spread[j] = floor / d.Units[j]
		}
	}
	d.Quantile, d.Floor = q, floor
	return nil
}

// quantile of sorted s by linear interpolation between order statistics.
func quantile(s []float64, p float64) float64 {
	h := p * float64(len(s)-1)
	i := int(h)
	if i+1 >= len(s) {
		return s[len(s)-1]
	}
	return s[i] + (h-float64(i))*(s[i+1]-s[i])
}

// DefaultMinTailScale is the smallest tail scale zmax's calibration may
// assume, in units of Floor: half a log1p unit, a factor of about 1.65 on
// the raw rate. Benign VMs the training never saw rise that far above the
// envelope (a busier disk, a VMM start-up caught differently); floods rise
// by several units.
const DefaultMinTailScale = 0.5

// MinTailScale implements models.TailScaler: DefaultMinTailScale in score
// units.
func (d *Detector) MinTailScale() float64 {
	f := d.Floor
	if f <= 0 {
		f = DefaultFloor
	}
	return DefaultMinTailScale / f
}

// Score returns max_j (x_j − m_j)/s_j.
func (d *Detector) Score(x []float64) float64 {
	if len(d.median) == 0 {
		panic("zmax: Score before Fit or UnmarshalBinary")
	}
	if len(x) != len(d.median) {
		panic(fmt.Sprintf("zmax: vector has %d features, detector was fitted on %d", len(x), len(d.median)))
	}
	// Four running maxima: one chain of max waits for the previous one at
	// every feature, four overlap with the divisions. max is associative
	// and commutative (NaN wins, +0 over −0), so the result is the same.
	med, spr := d.median[:len(x)], d.spread[:len(x)]
	b0, b1, b2, b3 := math.Inf(-1), math.Inf(-1), math.Inf(-1), math.Inf(-1)
	j := 0
	for ; j+4 <= len(x); j += 4 {
		b0 = max(b0, (x[j]-med[j])/spr[j])
		b1 = max(b1, (x[j+1]-med[j+1])/spr[j+1])
		b2 = max(b2, (x[j+2]-med[j+2])/spr[j+2])
		b3 = max(b3, (x[j+3]-med[j+3])/spr[j+3])
	}
	for ; j < len(x); j++ {
		b0 = max(b0, (x[j]-med[j])/spr[j])
	}
	return max(max(b0, b1), max(b2, b3))
}

// Binary layout (little endian): "ZMAX" | u16 format | u32 dim |
// f64 quantile | f64 floor | dim × (f64 median, f64 spread).
const (
	magic      = "ZMAX"
	format     = 1
	headerSize = 4 + 2 + 4 + 16
)

// MarshalBinary encodes the fitted detector.
func (d *Detector) MarshalBinary() ([]byte, error) {
	if len(d.median) == 0 {
		return nil, errors.New("zmax: cannot marshal an unfitted detector: call Fit first")
	}
	le := binary.LittleEndian
	buf := make([]byte, 0, headerSize+16*len(d.median))
	buf = append(buf, magic...)
	buf = le.AppendUint16(buf, format)
	buf = le.AppendUint32(buf, uint32(len(d.median)))
	buf = le.AppendUint64(buf, math.Float64bits(d.Quantile))
	buf = le.AppendUint64(buf, math.Float64bits(d.Floor))
	for j := range d.median {
		buf = le.AppendUint64(buf, math.Float64bits(d.median[j]))
		buf = le.AppendUint64(buf, math.Float64bits(d.spread[j]))
	}
	return buf, nil
}

// UnmarshalBinary decodes a detector written by MarshalBinary.
func (d *Detector) UnmarshalBinary(data []byte) error {
	bad := errors.New("zmax: corrupt model data: re-export the artifact from training")
	if len(data) < headerSize || string(data[:4]) != magic {
		return bad
	}
	le := binary.LittleEndian
	if v := le.Uint16(data[4:]); v != format {
		return fmt.Errorf("zmax: model format %d, this build reads %d: retrain or upgrade", v, format)
	}
	dim := int(le.Uint32(data[6:]))
	if dim == 0 || len(data)-headerSize != 16*dim {
		return bad
	}
	q := math.Float64frombits(le.Uint64(data[10:]))
	floor := math.Float64frombits(le.Uint64(data[18:]))
	med, spr := make([]float64, dim), make([]float64, dim)
	for j := range dim {
		b := data[headerSize+16*j:]
		med[j] = math.Float64frombits(le.Uint64(b))
		spr[j] = math.Float64frombits(le.Uint64(b[8:]))
		if !check.Finite([]float64{med[j], spr[j]}) || !(spr[j] > 0) {
			return bad
		}
	}
	d.Quantile, d.Floor, d.median, d.spread = q, floor, med, spr
	return nil
}

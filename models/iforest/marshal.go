package iforest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Binary layout (little endian), format 1:
//
//	magic "IFOR" | u16 format | u32 trees | u32 psi | u32 dim | u32 height
//	trees·(2^height−1) × (f32 split value, u32 feature) | trees·2^height × f32 path length
const (
	magic      = "IFOR"
	format     = 1
	headerSize = 4 + 2 + 4*4
	maxHeight  = 16
	maxTrees   = 1 << 20
)

var errCorrupt = errors.New("iforest: corrupt model data: re-export the artifact from training")

// MarshalBinary encodes the fitted forest.
func (f *Forest) MarshalBinary() ([]byte, error) {
	if f.dim == 0 {
		return nil, errors.New("iforest: cannot marshal an unfitted forest: call Fit first")
	}
	le := binary.LittleEndian
	buf := make([]byte, 0, headerSize+8*len(f.splits)+4*len(f.leaves))
	buf = append(buf, magic...)
	buf = le.AppendUint16(buf, format)
	buf = le.AppendUint32(buf, uint32(f.Trees))
	buf = le.AppendUint32(buf, uint32(f.psi))
	buf = le.AppendUint32(buf, uint32(f.dim))
	buf = le.AppendUint32(buf, uint32(f.height))
	for _, s := range f.splits {
		buf = le.AppendUint32(buf, math.Float32bits(s.value))
		buf = le.AppendUint32(buf, s.feature)
	}
	for _, v := range f.leaves {
		buf = le.AppendUint32(buf, math.Float32bits(v))
	}
	return buf, nil
}

// UnmarshalBinary decodes a forest written by MarshalBinary. It validates
// sizes, features (below dim) and values (finite path lengths; finite or +Inf
// splits) so that a corrupt file cannot make Score misbehave.
func (f *Forest) UnmarshalBinary(data []byte) error {
	if len(data) < headerSize || string(data[:4]) != magic {
		return fmt.Errorf("%w (bad header)", errCorrupt)
	}
	le := binary.LittleEndian
	if v := le.Uint16(data[4:]); v != format {
		return fmt.Errorf("iforest: model format %d, this build reads %d: retrain or upgrade", v, format)
	}
	trees, psi := int(le.Uint32(data[6:])), int(le.Uint32(data[10:]))
	dim, height := int(le.Uint32(data[14:])), int(le.Uint32(data[18:]))
	if trees <= 0 || trees > maxTrees || dim <= 0 || dim > math.MaxInt32 || psi <= 0 || psi > MaxSubsample || height > maxHeight {
		return fmt.Errorf("%w (header values)", errCorrupt)
	}
	ni, nl := 1<<height-1, 1<<height
	rest := data[headerSize:]
	if len(rest) != trees*(8*ni+4*nl) {
		return fmt.Errorf("%w (size)", errCorrupt)
	}
	splits := make([]split, trees*ni)
	for i := range splits {
		s := split{
			value:   math.Float32frombits(le.Uint32(rest[8*i:])),
			feature: le.Uint32(rest[8*i+4:]),
		}
		if s.feature >= uint32(dim) || s.value != s.value || math.IsInf(float64(s.value), -1) {
			return fmt.Errorf("%w (split %d)", errCorrupt, i)
		}
		splits[i] = s
	}
	rest = rest[8*len(splits):]
	leaves := make([]float32, trees*nl)
	for i := range leaves {
		v := math.Float32frombits(le.Uint32(rest[4*i:]))
		if v != v || math.IsInf(float64(v), 0) || v < 0 {
			return fmt.Errorf("%w (leaf %d)", errCorrupt, i)
		}
		leaves[i] = v
	}
	f.Trees, f.Subsample = trees, psi
	f.dim, f.psi, f.cpsi, f.height = dim, psi, C(psi), height
	f.splits, f.leaves = splits, leaves
	f.interleave()
	return nil
}

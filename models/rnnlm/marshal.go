package rnnlm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
)

// Binary layout (little endian): 4-byte magic "RNLM" | u16 format |
// u32 embed | u32 hidden | u32 aggregation | u32 window |
// u32 vocabulary size | vocabulary × u32 call | the parameters
// (weights.tensors order) as f64. Training-only settings (unroll, batch,
// epochs, learning rate, clip, seed) are not stored.
const (
	magic  = "RNLM"
	format = 1
)

var errCorrupt = errors.New("rnnlm: corrupt model data: re-export the artifact from training")

var aggs = []string{AggMean, AggSum, AggWindow}

// MarshalBinary encodes the fitted model.
func (m *LM) MarshalBinary() ([]byte, error) {
	if m.net == nil {
		return nil, fmt.Errorf("rnnlm: cannot marshal an unfitted %s model: call Fit first", Name)
	}
	w := m.net.w
	le := binary.LittleEndian
	b := append([]byte(nil), magic...)
	b = le.AppendUint16(b, format)
	for _, v := range []int{w.e, w.h, slices.Index(aggs, m.Agg), m.Window, len(m.voc.calls)} {
		b = le.AppendUint32(b, uint32(v))
	}
	for _, c := range m.voc.calls {
		b = le.AppendUint32(b, uint32(c))
	}
	for _, p := range w.tensors() {
		for _, x := range *p.data {
			b = le.AppendUint64(b, math.Float64bits(x))
		}
	}
	return b, nil
}

// UnmarshalBinary decodes a model written by MarshalBinary.
func (m *LM) UnmarshalBinary(data []byte) error {
	le := binary.LittleEndian
	const head = 4 + 2 + 5*4
	if len(data) < head || string(data[:4]) != magic {
		return errCorrupt
	}
	if v := le.Uint16(data[4:]); v != format {
		return fmt.Errorf("rnnlm: model format %d, this build reads %d: retrain or upgrade", v, format)
	}
	u := func(i int) int { return int(le.Uint32(data[6+4*i:])) }
	e, h, agg, window, nv := u(0), u(1), u(2), u(3), u(4)
	if e < 1 || e > maxSize || h < 1 || h > maxSize || agg >= len(aggs) || window < 1 || nv > maxVocabulary {
		return errCorrupt
	}
	rest := data[head:]
	if len(rest) < 4*nv {
		return errCorrupt
	}
	calls := make([]int, nv)
	for i := range calls {
		calls[i] = int(le.Uint32(rest[4*i:]))
		if i > 0 && calls[i] <= calls[i-1] {
			return errCorrupt
		}
	}
	rest = rest[4*nv:]
	voc := newVocab(calls)
	w := &weights{vin: voc.in(), vout: voc.out(), e: e, h: h}
	for _, p := range w.tensors() {
		n := p.rows * p.cols
		if len(rest) < 8*n {
			return errCorrupt
		}
		s := make([]float64, n)
		for i := range s {
			s[i] = math.Float64frombits(le.Uint64(rest[8*i:]))
			if math.IsNaN(s[i]) || math.IsInf(s[i], 0) {
				return errCorrupt
			}
		}
		*p.data = s
		rest = rest[8*n:]
	}
	if len(rest) != 0 {
		return errCorrupt
	}
	log := m.log
	if log == nil {
		log = New(nil).log
	}
	*m = LM{Embed: e, Hidden: h, Agg: aggs[agg], Window: window, log: log, voc: voc, net: newNet(w)}
	return m.defaults()
}

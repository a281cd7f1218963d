package autoencoder

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/escapement/escapement/models/internal/check"
)

// Binary layout (little endian): "AENC" | u16 format | u32 layers+1 |
// (layers+1) × u32 size | u32 steps | u32 batch | f64 learn rate |
// per layer: in×out f64 weights (row-major), out f64 biases.
const (
	magic  = "AENC"
	format = 1
)

var errCorrupt = errors.New("autoencoder: corrupt model data: re-export the artifact from training")

// MarshalBinary encodes the fitted network.
func (d *Detector) MarshalBinary() ([]byte, error) {
	if d.net == nil {
		return nil, errors.New("autoencoder: cannot marshal an unfitted detector: call Fit first")
	}
	le := binary.LittleEndian
	sizes := d.net.sizes()
	buf := append([]byte(nil), magic...)
	buf = le.AppendUint16(buf, format)
	buf = le.AppendUint32(buf, uint32(len(sizes)))
	for _, s := range sizes {
		buf = le.AppendUint32(buf, uint32(s))
	}
	buf = le.AppendUint32(buf, uint32(d.Steps))
	buf = le.AppendUint32(buf, uint32(d.Batch))
	buf = le.AppendUint64(buf, math.Float64bits(d.LearnRate))
	for _, l := range d.net.layers {
		for _, v := range l.w {
			buf = le.AppendUint64(buf, math.Float64bits(v))
		}
		for _, v := range l.b {
			buf = le.AppendUint64(buf, math.Float64bits(v))
		}
	}
	return buf, nil
}

// UnmarshalBinary decodes a network written by MarshalBinary.
func (d *Detector) UnmarshalBinary(data []byte) error {
	le := binary.LittleEndian
	if len(data) < 10 || string(data[:4]) != magic {
		return errCorrupt
	}
	if v := le.Uint16(data[4:]); v != format {
		return fmt.Errorf("autoencoder: model format %d, this build reads %d: retrain or upgrade", v, format)
	}
	n := int(le.Uint32(data[6:]))
	p := data[10:]
	if n < 3 || n > 64 || len(p) < 4*n+16 {
		return errCorrupt
	}
	sizes := make([]int, n)
	for i := range sizes {
		sizes[i] = int(le.Uint32(p[4*i:]))
	}
	if checkSizes(sizes) != nil {
		return errCorrupt
	}
	p = p[4*n:]
	steps, batch := int(le.Uint32(p)), int(le.Uint32(p[4:]))
	lr := math.Float64frombits(le.Uint64(p[8:]))
	p = p[16:]
	want := 0
	for i := 1; i < n; i++ {
		want += 8 * (sizes[i-1]*sizes[i] + sizes[i])
	}
	if len(p) != want {
		return errCorrupt
	}
	next := func(k int) []float64 {
		out := make([]float64, k)
		for i := range out {
			out[i] = math.Float64frombits(le.Uint64(p[8*i:]))
		}
		p = p[8*k:]
		return out
	}
	layers := make([]layer, n-1)
	for i := range layers {
		l := layer{in: sizes[i], out: sizes[i+1]}
		l.w, l.b = next(l.in*l.out), next(l.out)
		if !check.Finite(l.w) || !check.Finite(l.b) {
			return errCorrupt
		}
		layers[i] = l
	}
	d.Hidden = slices.Clone(sizes[1 : n-1])
	d.Steps, d.Batch, d.LearnRate = steps, batch, lr
	d.net = newNet(layers)
	return nil
}

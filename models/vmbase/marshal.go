package vmbase

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

const (
	magic  = "VMBS"
	format = 1
	// header: magic, format u16, dim u32, warmup u32, decay, eta, delta, beta, slack f64
	headerSize = 4 + 2 + 4 + 4 + 5*8
)

// MarshalBinary encodes the fitted detector ("VMBS", format 1, little
// endian): the parameters, then per feature median and scale (float64) and
// group (byte).
func (d *Detector) MarshalBinary() ([]byte, error) {
	if !d.fitted {
		return nil, errors.New("vmbase: cannot marshal an unfitted detector: call Fit first")
	}
	le := binary.LittleEndian
	buf := make([]byte, 0, headerSize+17*d.dim)
	buf = append(buf, magic...)
	buf = le.AppendUint16(buf, format)
	buf = le.AppendUint32(buf, uint32(d.dim))
	buf = le.AppendUint32(buf, uint32(d.Warmup))
	for _, v := range []float64{d.Decay, d.Eta, d.Delta, d.Beta, d.Slack} {
		buf = le.AppendUint64(buf, math.Float64bits(v))
	}
	for j := range d.dim {
		buf = le.AppendUint64(buf, math.Float64bits(d.Median[j]))
		buf = le.AppendUint64(buf, math.Float64bits(d.Scale[j]))
	}
	return append(buf, d.Group...), nil
}

// UnmarshalBinary decodes a detector written by MarshalBinary.
func (d *Detector) UnmarshalBinary(data []byte) error {
	bad := errors.New("vmbase: corrupt model data: re-export the artifact from training")
	if len(data) < headerSize || string(data[:4]) != magic {
		return bad
	}
	le := binary.LittleEndian
	if v := le.Uint16(data[4:]); v != format {
		return fmt.Errorf("vmbase: model format %d, this build reads %d: retrain or upgrade", v, format)
	}
	dim := int(le.Uint32(data[6:]))
	if dim == 0 || len(data)-headerSize != 17*dim {
		return bad
	}
	nd := Detector{Warmup: int(le.Uint32(data[10:]))}
	p := []*float64{&nd.Decay, &nd.Eta, &nd.Delta, &nd.Beta, &nd.Slack}
	for i, f := range p {
		*f = math.Float64frombits(le.Uint64(data[14+8*i:]))
		if math.IsNaN(*f) || math.IsInf(*f, 0) || *f <= 0 {
			return bad
		}
	}
	if nd.Warmup <= 0 {
		return bad
	}
	nd.Median, nd.Scale = make([]float64, dim), make([]float64, dim)
	for j := range dim {
		b := data[headerSize+16*j:]
		nd.Median[j] = math.Float64frombits(le.Uint64(b))
		nd.Scale[j] = math.Float64frombits(le.Uint64(b[8:]))
	}
	nd.Group = append([]uint8(nil), data[headerSize+16*dim:]...)
	if err := nd.init(dim); err != nil {
		return bad
	}
	*d = nd
	return nil
}

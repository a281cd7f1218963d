package ngram

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

const (
	magic      = "NGRM"
	format     = 1
	headerSize = 4 + 2 + 4 + 8 + 8 + 4 // magic, format, dim, alpha, n, grams
)

// MarshalBinary encodes the fitted detector ("NGRM", format 1, little
// endian): feature dimension, alpha, training windows, then (hash u64, df u32) per n-gram in
// hash order.
func (d *Detector) MarshalBinary() ([]byte, error) {
	if d.keys == nil {
		return nil, errors.New("ngram: cannot marshal an unfitted detector: call Fit first")
	}
	le := binary.LittleEndian
	buf := make([]byte, 0, headerSize+12*len(d.grams))
	buf = append(buf, magic...)
	buf = le.AppendUint16(buf, format)
	buf = le.AppendUint32(buf, uint32(d.dim))
	buf = le.AppendUint64(buf, math.Float64bits(d.Alpha))
	buf = le.AppendUint64(buf, d.n)
	buf = le.AppendUint32(buf, uint32(len(d.grams)))
	for i, h := range d.grams {
		buf = le.AppendUint64(buf, h)
		buf = le.AppendUint32(buf, d.df[i])
	}
	return buf, nil
}

// UnmarshalBinary decodes a detector written by MarshalBinary.
func (d *Detector) UnmarshalBinary(data []byte) error {
	bad := errors.New("ngram: corrupt model data: re-export the artifact from training")
	if len(data) < headerSize || string(data[:4]) != magic {
		return bad
	}
	le := binary.LittleEndian
	if v := le.Uint16(data[4:]); v != format {
		return fmt.Errorf("ngram: model format %d, this build reads %d: retrain or upgrade", v, format)
	}
	dim := int(le.Uint32(data[6:]))
	alpha := math.Float64frombits(le.Uint64(data[10:]))
	n := le.Uint64(data[18:])
	k := int(le.Uint32(data[26:]))
	if !(alpha > 0) || math.IsInf(alpha, 0) || n == 0 || len(data)-headerSize != 12*k {
		return bad
	}
	grams, df := make([]uint64, k), make([]uint32, k)
	for i := range k {
		b := data[headerSize+12*i:]
		grams[i], df[i] = le.Uint64(b), le.Uint32(b[8:])
		if grams[i] == 0 || df[i] == 0 || uint64(df[i]) > n || (i > 0 && grams[i] <= grams[i-1]) {
			return bad
		}
	}
	nd := Detector{Alpha: alpha, dim: dim}
	nd.build(n, grams, df)
	*d = nd
	return nil
}

package seq

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Binary layout (little endian): 4-byte magic | u16 format | u32 n |
// u32 vocabulary size | vocabulary × u32 call | model body (u64 counts
// and values). Every model writes its keys in sorted order, so the same
// model always gives the same bytes.
const (
	stideMagic = "STID"
	lmMagic    = "SQLM"
	format     = 1
)

var errCorrupt = errors.New("seq: corrupt model data: re-export the artifact from training")

type writer struct{ buf []byte }

func newWriter(magic string, n int, v *vocab) *writer {
	w := &writer{}
	w.buf = append(w.buf, magic...)
	w.buf = binary.LittleEndian.AppendUint16(w.buf, format)
	w.buf = binary.LittleEndian.AppendUint32(w.buf, uint32(n))
	w.buf = binary.LittleEndian.AppendUint32(w.buf, uint32(len(v.calls)))
	for _, c := range v.calls {
		w.buf = binary.LittleEndian.AppendUint32(w.buf, uint32(c))
	}
	return w
}

func (w *writer) u64(x uint64)  { w.buf = binary.LittleEndian.AppendUint64(w.buf, x) }
func (w *writer) f64(x float64) { w.u64(math.Float64bits(x)) }

type reader struct {
	b   []byte
	err error
}

func newReader(data []byte, magic string) (*reader, int, *vocab, error) {
	if len(data) < 14 || string(data[:4]) != magic {
		return nil, 0, nil, errCorrupt
	}
	le := binary.LittleEndian
	if v := le.Uint16(data[4:]); v != format {
		return nil, 0, nil, fmt.Errorf("seq: model format %d, this build reads %d: retrain or upgrade", v, format)
	}
	n := int(le.Uint32(data[6:]))
	nv := int(le.Uint32(data[10:]))
	r := &reader{b: data[14:]}
	if nv > MaxVocabulary || len(r.b) < 4*nv {
		return nil, 0, nil, errCorrupt
	}
	calls := make([]int, nv)
	for i := range calls {
		calls[i] = int(le.Uint32(r.b[4*i:]))
		if i > 0 && calls[i] <= calls[i-1] {
			return nil, 0, nil, errCorrupt
		}
	}
	r.b = r.b[4*nv:]
	voc := newVocab(calls)
	if n < 1 || n > voc.maxOrder() {
		return nil, 0, nil, errCorrupt
	}
	return r, n, voc, nil
}

// MaxVocabulary bounds the distinct system calls a model may hold.
const MaxVocabulary = 1 << 16

func (r *reader) u64() uint64 {
	if len(r.b) < 8 {
		r.err = errCorrupt
		return 0
	}
	x := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return x
}

func (r *reader) f64() float64 { return math.Float64frombits(r.u64()) }

// count reads a length and checks that at least length×size bytes follow.
func (r *reader) count(size int) int {
	n := r.u64()
	if r.err != nil || n > uint64(len(r.b)/size) {
		r.err = errCorrupt
		return 0
	}
	return int(n)
}

func (r *reader) done() error {
	if r.err == nil && len(r.b) != 0 {
		r.err = errCorrupt
	}
	return r.err
}

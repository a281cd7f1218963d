package rnnlm

import (
	"math"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
)

// net is the exported network used for inference in plain Go. The input
// embedding, input weights and gate bias are folded into one row per input
// symbol (xproj = Emb·Wx + b), so a step costs one H×4H and one H×V
// matrix-vector product.
type net struct {
	w     *weights
	xproj []float64 // vin × 4h
	pool  sync.Pool // *[]float64 NLL buffers
	state sync.Pool // *scratch
}

type scratch struct{ h, c, gates, logits []float64 }

func newNet(w *weights) *net {
	n := &net{w: w, xproj: make([]float64, w.vin*4*w.h)}
	g4 := 4 * w.h
	for v := range w.vin {
		row := n.xproj[v*g4 : (v+1)*g4]
		copy(row, w.b)
		for k := range w.e {
			e := w.emb[v*w.e+k]
			for j, x := range w.wx[k*g4 : (k+1)*g4] {
				row[j] += e * x
			}
		}
	}
	n.pool.New = func() any { b := make([]float64, 0, 1024); return &b }
	n.state.New = func() any {
		return &scratch{h: make([]float64, w.h), c: make([]float64, w.h), gates: make([]float64, g4), logits: make([]float64, w.vout)}
	}
	return n
}

func (n *net) get(size int) *[]float64 {
	b := n.pool.Get().(*[]float64)
	if cap(*b) < size {
		*b = make([]float64, 0, size)
	}
	return b
}

func (n *net) put(b *[]float64) { n.pool.Put(b) }

// nll appends the NLL of each call of trace to out. The state starts at
// zero with the start symbol as input; each call is predicted from the
// state after the calls before it.
func (n *net) nll(voc *vocab, trace []int, out []float64) []float64 {
	w := n.w
	s := n.state.Get().(*scratch)
	clear(s.h)
	clear(s.c)
	g4 := 4 * w.h
	wh := blas64.General{Rows: w.h, Cols: g4, Stride: g4, Data: w.wh}
	wo := blas64.General{Rows: w.h, Cols: w.vout, Stride: w.vout, Data: w.wo}
	hv := blas64.Vector{N: w.h, Inc: 1, Data: s.h}
	gv := blas64.Vector{N: g4, Inc: 1, Data: s.gates}
	lv := blas64.Vector{N: w.vout, Inc: 1, Data: s.logits}
	in := symStart
	for _, call := range trace {
		n.step(in, s, wh, hv, gv)
		copy(s.logits, w.bo)
		blas64.Gemv(blas.Trans, 1, wo, hv, 1, lv)
		id := voc.id(call)
		out = append(out, logSumExp(s.logits)-s.logits[id-1])
		in = id
	}
	n.state.Put(s)
	return out
}

// step advances the LSTM state in s by one input symbol.
func (n *net) step(in int, s *scratch, wh blas64.General, hv, gv blas64.Vector) {
	h := n.w.h
	copy(s.gates, n.xproj[in*4*h:(in+1)*4*h])
	blas64.Gemv(blas.Trans, 1, wh, hv, 1, gv)
	gi, gf, gc, gout := s.gates[:h], s.gates[h:2*h], s.gates[2*h:3*h], s.gates[3*h:]
	for j := range h {
		c := sigmoid(gf[j])*s.c[j] + sigmoid(gi[j])*math.Tanh(gc[j])
		s.c[j] = c
		s.h[j] = sigmoid(gout[j]) * math.Tanh(c)
	}
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func logSumExp(x []float64) float64 {
	m := x[0]
	for _, v := range x[1:] {
		m = max(m, v)
	}
	var s float64
	for _, v := range x {
		s += math.Exp(v - m)
	}
	return m + math.Log(s)
}

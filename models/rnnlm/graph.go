package rnnlm

import (
	"fmt"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// graph is the LSTM unrolled over T steps of B parallel streams, built once
// and run for every mini-batch. Rows are step-major: row t·B+s is stream s
// at step t.
type graph struct {
	g      *gorgonia.ExprGraph
	b, t   int
	x      *gorgonia.Node // T·B × vin one-hot inputs
	keep   *gorgonia.Node // T·B × H: 0 where a trace starts (state reset), else 1
	y      *gorgonia.Node // T·B × vout one-hot targets (zero row: no target)
	h0, c0 *gorgonia.Node // B × H state carried in from the previous batch
	params gorgonia.Nodes // in weights.tensors() order
	nll    *gorgonia.Node // T·B per-row negative log-likelihood
	cost   *gorgonia.Node // sum of nll / (T·B)
	// Values copied out by the tape machine at the end of a run.
	hT, cT, nllV, costV gorgonia.Value
}

func matrix(g *gorgonia.ExprGraph, name string, rows, cols int, data []float64) *gorgonia.Node {
	opts := []gorgonia.NodeConsOpt{gorgonia.WithShape(rows, cols), gorgonia.WithName(name)}
	if data != nil {
		opts = append(opts, gorgonia.WithValue(tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(append([]float64(nil), data...)))))
	}
	return gorgonia.NewMatrix(g, tensor.Float64, opts...)
}

// build expresses the unrolled network with the current values of w.
func build(w *weights, b, t int) (*graph, error) {
	g := gorgonia.NewGraph()
	gr := &graph{g: g, b: b, t: t}
	n, h := b*t, w.h
	gr.x = matrix(g, "x", n, w.vin, nil)
	gr.keep = matrix(g, "keep", n, h, nil)
	gr.y = matrix(g, "y", n, w.vout, nil)
	gr.h0 = matrix(g, "h0", b, h, nil)
	gr.c0 = matrix(g, "c0", b, h, nil)
	for _, p := range w.tensors() {
		gr.params = append(gr.params, matrix(g, p.name, p.rows, p.cols, *p.data))
	}
	emb, wx, wh, bias, wo, bo := gr.params[0], gr.params[1], gr.params[2], gr.params[3], gr.params[4], gr.params[5]

	var err error
	must := func(n *gorgonia.Node, e error) *gorgonia.Node {
		if err == nil && e != nil {
			err = e
		}
		return n
	}
	// Input projections of all steps at once: onehot·Emb·Wx + b.
	xp := must(gorgonia.BroadcastAdd(must(gorgonia.Mul(must(gorgonia.Mul(gr.x, emb)), wx)), bias, nil, []byte{0}))
	if err != nil {
		return nil, fmt.Errorf("rnnlm: build input projection: %w", err)
	}
	hPrev, cPrev := gr.h0, gr.c0
	hs := make(gorgonia.Nodes, 0, t)
	for s := range t {
		rows := gorgonia.S(s*b, (s+1)*b)
		keep := must(gorgonia.Slice(gr.keep, rows))
		hIn := must(gorgonia.HadamardProd(hPrev, keep))
		cIn := must(gorgonia.HadamardProd(cPrev, keep))
		gates := must(gorgonia.Add(must(gorgonia.Slice(xp, rows)), must(gorgonia.Mul(hIn, wh))))
		gate := func(k int) *gorgonia.Node { return must(gorgonia.Slice(gates, nil, gorgonia.S(k*h, (k+1)*h))) }
		i := must(gorgonia.Sigmoid(gate(0)))
		f := must(gorgonia.Sigmoid(gate(1)))
		c := must(gorgonia.Tanh(gate(2)))
		o := must(gorgonia.Sigmoid(gate(3)))
		cPrev = must(gorgonia.Add(must(gorgonia.HadamardProd(f, cIn)), must(gorgonia.HadamardProd(i, c))))
		hPrev = must(gorgonia.HadamardProd(o, must(gorgonia.Tanh(cPrev))))
		hs = append(hs, hPrev)
		if err != nil {
			return nil, fmt.Errorf("rnnlm: build step %d: %w", s, err)
		}
	}
	all := hs[0]
	if t > 1 {
		all = must(gorgonia.Concat(0, hs...))
	}
	logits := must(gorgonia.BroadcastAdd(must(gorgonia.Mul(all, wo)), bo, nil, []byte{0}))
	logp := must(gorgonia.LogSoftMax(logits))
	gr.nll = must(gorgonia.Neg(must(gorgonia.Sum(must(gorgonia.HadamardProd(logp, gr.y)), 1))))
	gr.cost = must(gorgonia.Div(must(gorgonia.Sum(gr.nll)), gorgonia.NewConstant(float64(n))))
	if err != nil {
		return nil, fmt.Errorf("rnnlm: build output layer: %w", err)
	}
	gorgonia.Read(hPrev, &gr.hT)
	gorgonia.Read(cPrev, &gr.cT)
	gorgonia.Read(gr.nll, &gr.nllV)
	gorgonia.Read(gr.cost, &gr.costV)
	return gr, nil
}

// batch holds the host-side inputs of one run of a graph.
type batch struct {
	x, keep, y, h0, c0 []float64
	tx, tkeep, ty      tensor.Tensor
	th0, tc0           tensor.Tensor
}

func newBatch(w *weights, b, t int) *batch {
	n := b * t
	bt := &batch{
		x: make([]float64, n*w.vin), keep: make([]float64, n*w.h), y: make([]float64, n*w.vout),
		h0: make([]float64, b*w.h), c0: make([]float64, b*w.h),
	}
	bt.tx = tensor.New(tensor.WithShape(n, w.vin), tensor.WithBacking(bt.x))
	bt.tkeep = tensor.New(tensor.WithShape(n, w.h), tensor.WithBacking(bt.keep))
	bt.ty = tensor.New(tensor.WithShape(n, w.vout), tensor.WithBacking(bt.y))
	bt.th0 = tensor.New(tensor.WithShape(b, w.h), tensor.WithBacking(bt.h0))
	bt.tc0 = tensor.New(tensor.WithShape(b, w.h), tensor.WithBacking(bt.c0))
	return bt
}

// set fills row r (step-major) with input id in, target id out (−1: none),
// and whether the state is reset before this step.
func (bt *batch) set(w *weights, r, in, out int, reset bool) {
	x := bt.x[r*w.vin : (r+1)*w.vin]
	clear(x)
	x[in] = 1
	y := bt.y[r*w.vout : (r+1)*w.vout]
	clear(y)
	if out >= 0 {
		y[out-1] = 1
	}
	k := 1.0
	if reset {
		k = 0
	}
	keep := bt.keep[r*w.h : (r+1)*w.h]
	for j := range keep {
		keep[j] = k
	}
}

func (gr *graph) let(bt *batch) error {
	for _, p := range []struct {
		n *gorgonia.Node
		v tensor.Tensor
	}{{gr.x, bt.tx}, {gr.keep, bt.tkeep}, {gr.y, bt.ty}, {gr.h0, bt.th0}, {gr.c0, bt.tc0}} {
		if err := gorgonia.Let(p.n, p.v); err != nil {
			return fmt.Errorf("rnnlm: set %s: %w", p.n.Name(), err)
		}
	}
	return nil
}

// carry copies the final state of the last run into the next batch's h0, c0.
func (gr *graph) carry(bt *batch) {
	copy(bt.h0, gr.hT.Data().([]float64))
	copy(bt.c0, gr.cT.Data().([]float64))
}

// store copies the graph's parameter values into w.
func (gr *graph) store(w *weights) {
	for i, p := range w.tensors() {
		copy(*p.data, gr.params[i].Value().Data().([]float64))
	}
}

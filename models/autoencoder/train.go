package autoencoder

import (
	"fmt"
	"math/rand/v2"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// graph is the gorgonia expression of the network on a batch of rows.
type graph struct {
	g      *gorgonia.ExprGraph
	x      *gorgonia.Node
	params gorgonia.Nodes // W1, b1, W2, b2, …
	rowErr *gorgonia.Node // per-row mean squared error (forward graphs only)
	cost   *gorgonia.Node
}

// build expresses the network with the weights of layers on a batch×d input:
// the mean squared error over the batch, and with perRow also each row's.
func build(layers []layer, batch int, perRow bool) (*graph, error) {
	g := gorgonia.NewGraph()
	d := layers[0].in
	x := gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithShape(batch, d), gorgonia.WithName("x"))
	gr := &graph{g: g, x: x}
	h := x
	for i, l := range layers {
		w := gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithShape(l.in, l.out), gorgonia.WithName(fmt.Sprintf("w%d", i)),
			gorgonia.WithValue(tensor.New(tensor.WithShape(l.in, l.out), tensor.WithBacking(append([]float64(nil), l.w...)))))
		b := gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithShape(1, l.out), gorgonia.WithName(fmt.Sprintf("b%d", i)),
			gorgonia.WithValue(tensor.New(tensor.WithShape(1, l.out), tensor.WithBacking(append([]float64(nil), l.b...)))))
		gr.params = append(gr.params, w, b)
		xw, err := gorgonia.Mul(h, w)
		if err != nil {
			return nil, err
		}
		if h, err = gorgonia.BroadcastAdd(xw, b, nil, []byte{0}); err != nil {
			return nil, err
		}
		if i != len(layers)-1 {
			if h, err = gorgonia.Tanh(h); err != nil {
				return nil, err
			}
		}
	}
	diff, err := gorgonia.Sub(h, x)
	if err != nil {
		return nil, err
	}
	sq, err := gorgonia.Square(diff)
	if err != nil {
		return nil, err
	}
	if perRow {
		gr.rowErr, err = gorgonia.Mean(sq, 1)
		return gr, err
	}
	if gr.cost, err = gorgonia.Mean(sq); err != nil {
		return nil, err
	}
	return gr, nil
}

// train runs steps of Adam on mini-batches drawn with rng and writes the
// learnt weights back into layers.
func train(layers []layer, X [][]float64, batch, steps int, lr float64, rng *rand.Rand) error {
	gr, err := build(layers, batch, false)
	if err != nil {
		return err
	}
	if _, err := gorgonia.Grad(gr.cost, gr.params...); err != nil {
		return err
	}
	vm := gorgonia.NewTapeMachine(gr.g, gorgonia.BindDualValues(gr.params...))
	defer vm.Close()
	solver := gorgonia.NewAdamSolver(gorgonia.WithLearnRate(lr))
	d := layers[0].in
	backing := make([]float64, batch*d)
	xt := tensor.New(tensor.WithShape(batch, d), tensor.WithBacking(backing))
	for range steps {
		for r := range batch {
			copy(backing[r*d:(r+1)*d], X[rng.IntN(len(X))])
		}
		if err := gorgonia.Let(gr.x, xt); err != nil {
			return err
		}
		if err := vm.RunAll(); err != nil {
			return err
		}
		if err := solver.Step(gorgonia.NodesToValueGrads(gr.params)); err != nil {
			return err
		}
		vm.Reset()
	}
	for i := range layers {
		copy(layers[i].w, gr.params[2*i].Value().Data().([]float64))
		copy(layers[i].b, gr.params[2*i+1].Value().Data().([]float64))
	}
	return nil
}

// forward runs gorgonia's forward pass of the network on rows and returns
// each row's mean squared reconstruction error. It is the reference the
// plain-Go inference is tested against.
func forward(layers []layer, rows [][]float64) ([]float64, error) {
	gr, err := build(layers, len(rows), true)
	if err != nil {
		return nil, err
	}
	d := layers[0].in
	backing := make([]float64, 0, len(rows)*d)
	for _, r := range rows {
		backing = append(backing, r...)
	}
	if err := gorgonia.Let(gr.x, tensor.New(tensor.WithShape(len(rows), d), tensor.WithBacking(backing))); err != nil {
		return nil, err
	}
	vm := gorgonia.NewTapeMachine(gr.g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		return nil, err
	}
	return append([]float64(nil), gr.rowErr.Value().Data().([]float64)...), nil
}

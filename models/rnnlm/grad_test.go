package rnnlm

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	"gorgonia.org/gorgonia"
)

// TestGradientMatchesFiniteDifferences checks gorgonia's symbolic gradient
// of the unrolled graph (slices, concat, state reset) against central
// differences of the cost on every parameter tensor.
func TestGradientMatchesFiniteDifferences(t *testing.T) {
	const b, steps = 2, 4
	w := newWeights(6, 5, 3, 4, 7)
	r := rand.New(rand.NewPCG(1, 2))
	bt := newBatch(w, b, steps)
	for i := range b * steps {
		bt.set(w, i, r.IntN(w.vin), 1+r.IntN(w.vout), i == 1 || i == 5)
	}
	for i := range bt.h0 {
		bt.h0[i], bt.c0[i] = r.Float64()-0.5, r.Float64()-0.5
	}
	cost := func(w *weights, grads bool) (float64, []gorgonia.Value) {
		gr, err := build(w, b, steps)
		require.NoError(t, err)
		var opts []gorgonia.VMOpt
		if grads {
			_, err := gorgonia.Grad(gr.cost, gr.params...)
			require.NoError(t, err)
			opts = append(opts, gorgonia.BindDualValues(gr.params...))
		}
		require.NoError(t, gr.let(bt))
		vm := gorgonia.NewTapeMachine(gr.g, opts...)
		defer vm.Close()
		require.NoError(t, vm.RunAll())
		var gs []gorgonia.Value
		if grads {
			for _, p := range gr.params {
				g, err := p.Grad()
				require.NoError(t, err)
				gs = append(gs, g)
			}
		}
		return gr.costV.Data().(float64), gs
	}
	_, grads := cost(w, true)
	const eps = 1e-6
	for pi, p := range w.tensors() {
		g := grads[pi].Data().([]float64)
		for _, i := range []int{0, len(*p.data) / 2, len(*p.data) - 1} {
			x := (*p.data)[i]
			(*p.data)[i] = x + eps
			up, _ := cost(w, false)
			(*p.data)[i] = x - eps
			down, _ := cost(w, false)
			(*p.data)[i] = x
			require.InDelta(t, (up-down)/(2*eps), g[i], 1e-6, "%s[%d]", p.name, i)
		}
	}
}

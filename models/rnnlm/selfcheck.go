package rnnlm

import (
	"fmt"
	"math"

	"gorgonia.org/gorgonia"
)

// selfCheckTol bounds the difference, in nats per call, between the
// training graph and the plain-Go inference on the same weights.
const selfCheckTol = 1e-6

// selfCheckCalls is the length of the probe trace of the self-check.
const selfCheckCalls = 24

// graphNLL runs the training graph forward over one trace and returns the
// NLL of each call: two streams (gorgonia drops a dimension of one-row
// slices), the trace and an empty stream of start symbols.
func graphNLL(w *weights, voc *vocab, trace []int) ([]float64, error) {
	gr, err := build(w, 2, len(trace))
	if err != nil {
		return nil, err
	}
	bt := newBatch(w, 2, len(trace))
	in := symStart
	for k, c := range trace {
		bt.set(w, 2*k, in, voc.id(c), k == 0)
		bt.set(w, 2*k+1, symStart, -1, true)
		in = voc.id(c)
	}
	if err := gr.let(bt); err != nil {
		return nil, err
	}
	vm := gorgonia.NewTapeMachine(gr.g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		return nil, fmt.Errorf("rnnlm: forward: %w", err)
	}
	all := gr.nllV.Data().([]float64)
	out := make([]float64, len(trace))
	for k := range out {
		out[k] = all[2*k]
	}
	return out, nil
}

// selfCheck compares the gorgonia graph that training differentiates with
// the plain-Go inference that scoring uses, on the given weights and a probe
// trace. They must compute the same LSTM: gorgonia (v0.9.18) computes a
// different function for some layer sizes (128 and 256 cells were seen),
// and training such a graph yields weights that score nonsense.
func selfCheck(w *weights, voc *vocab, probe []int) error {
	want, err := graphNLL(w, voc, probe)
	if err != nil {
		return err
	}
	got := newNet(w).nll(voc, probe, nil)
	for i := range want {
		if d := math.Abs(want[i] - got[i]); !(d <= selfCheckTol) {
			return fmt.Errorf("rnnlm: the training graph and the inference disagree by %.3g nats at call %d with %d cells and a %d-wide embedding "+
				"(a gorgonia fault seen at 128 and 256 cells): choose another hidden size, such as %d", d, i, w.h, w.e, w.h-1)
		}
	}
	return nil
}

// probeTrace returns the first n calls of the traces laid end to end (fewer
// when they hold fewer), without copying the rest of the training set.
func probeTrace(traces [][]int, n int) []int {
	probe := make([]int, 0, n)
	for _, t := range traces {
		if len(probe) == n {
			break
		}
		probe = append(probe, t[:min(len(t), n-len(probe))]...)
	}
	return probe
}

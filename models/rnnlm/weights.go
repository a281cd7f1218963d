package rnnlm

import (
	"math"
	"math/rand/v2"
)

// weights are the parameters of the network, row-major in the layout
// gorgonia's Mul(x, W) uses (rows = inputs). The gates of the LSTM are
// stacked in the columns of Wx, Wh and B in the order input, forget, cell,
// output, each H wide.
type weights struct {
	vin, vout, e, h int
	emb             []float64 // vin × e
	wx              []float64 // e × 4h
	wh              []float64 // h × 4h
	b               []float64 // 1 × 4h
	wo              []float64 // h × vout
	bo              []float64 // 1 × vout
}

// newWeights draws seeded initial weights: uniform ±1/√fan-in, forget-gate
// bias 1 (Jozefowicz et al. 2015), zero output bias.
func newWeights(vin, vout, e, h int, seed uint64) *weights {
	r := rand.New(rand.NewPCG(seed, 0x726e6e6c6d))
	w := &weights{vin: vin, vout: vout, e: e, h: h}
	uni := func(n int, scale float64) []float64 {
		s := make([]float64, n)
		for i := range s {
			s[i] = (2*r.Float64() - 1) * scale
		}
		return s
	}
	w.emb = uni(vin*e, 1)
	w.wx = uni(e*4*h, 1/math.Sqrt(float64(e)))
	w.wh = uni(h*4*h, 1/math.Sqrt(float64(h)))
	w.b = make([]float64, 4*h)
	for j := h; j < 2*h; j++ {
		w.b[j] = 1
	}
	w.wo = uni(h*vout, 1/math.Sqrt(float64(h)))
	w.bo = make([]float64, vout)
	return w
}

// tensors lists the parameter slices with their shapes, in the order the
// graph and the binary format use.
func (w *weights) tensors() []param {
	return []param{
		{"emb", w.vin, w.e, &w.emb},
		{"wx", w.e, 4 * w.h, &w.wx},
		{"wh", w.h, 4 * w.h, &w.wh},
		{"b", 1, 4 * w.h, &w.b},
		{"wo", w.h, w.vout, &w.wo},
		{"bo", 1, w.vout, &w.bo},
	}
}

type param struct {
	name       string
	rows, cols int
	data       *[]float64
}

package rnnlm

import (
	"fmt"
	"math"

	"gorgonia.org/gorgonia"
)

// adam is the Adam optimiser (Kingma & Ba 2015) applied in place to the
// values of the graph's parameter nodes, with the gradient first scaled
// down to a global L2 norm of at most clip (Pascanu et al. 2013), the usual
// guard against exploding gradients in recurrent networks.
type adam struct {
	lr, clip, b1, b2, eps float64
	t                     int
	m, v                  [][]float64
}

func newAdam(params gorgonia.Nodes, lr, clip float64) *adam {
	a := &adam{lr: lr, clip: clip, b1: 0.9, b2: 0.999, eps: 1e-8}
	for _, p := range params {
		n := p.Shape().TotalSize()
		a.m = append(a.m, make([]float64, n))
		a.v = append(a.v, make([]float64, n))
	}
	return a
}

// step updates the parameters from their gradients of the last run.
func (a *adam) step(params gorgonia.Nodes) error {
	grads := make([][]float64, len(params))
	var norm float64
	for i, p := range params {
		g, err := p.Grad()
		if err != nil {
			return fmt.Errorf("rnnlm: gradient of %s: %w", p.Name(), err)
		}
		grads[i] = g.Data().([]float64)
		for _, x := range grads[i] {
			norm += x * x
		}
	}
	scale := 1.0
	if norm = math.Sqrt(norm); norm > a.clip {
		scale = a.clip / norm
	}
	a.t++
	c1 := 1 - math.Pow(a.b1, float64(a.t))
	c2 := 1 - math.Pow(a.b2, float64(a.t))
	for i, p := range params {
		w := p.Value().Data().([]float64)
		m, v := a.m[i], a.v[i]
		for j, g := range grads[i] {
			g *= scale
			m[j] = a.b1*m[j] + (1-a.b1)*g
			v[j] = a.b2*v[j] + (1-a.b2)*g*g
			w[j] -= a.lr * (m[j] / c1) / (math.Sqrt(v[j]/c2) + a.eps)
		}
		// The tape machine adds into the gradients: clear them for the
		// next run.
		clear(grads[i])
	}
	return nil
}

package autoencoder

import (
	"fmt"
	"math"
	"sync"
)

// layer is one dense layer: out = act(in·W + b), W stored row-major as
// in × out (the layout gorgonia's Mul(x, W) uses).
type layer struct {
	in, out int
	w, b    []float64
}

// net is the exported network used for inference.
type net struct {
	layers []layer
	width  int // widest layer, for scratch buffers
	pool   sync.Pool
}

func newNet(layers []layer) *net {
	n := &net{layers: layers}
	for _, l := range layers {
		n.width = max(n.width, l.in, l.out)
	}
	n.pool.New = func() any {
		b := make([]float64, 2*n.width)
		return &b
	}
	return n
}

// reconstructionError runs the forward pass and returns the mean squared
// error between x and its reconstruction.
func (n *net) reconstructionError(x []float64) float64 {
	bp := n.pool.Get().(*[]float64)
	buf := *bp
	a, z := buf[:n.width], buf[n.width:]
	in := x
	last := len(n.layers) - 1
	for li, l := range n.layers {
		out := z[:l.out]
		copy(out, l.b)
		for i, v := range in {
			row := l.w[i*l.out : (i+1)*l.out]
			for j, w := range row {
				out[j] += v * w
			}
		}
		if li != last {
			for j, v := range out {
				out[j] = math.Tanh(v)
			}
		}
		in = out
		a, z = z, a
	}
	var s float64
	for j, v := range in {
		d := v - x[j]
		s += d * d
	}
	n.pool.Put(bp)
	return s / float64(len(x))
}

// sizes returns d, H1, …, Hk, d.
func (n *net) sizes() []int {
	s := []int{n.layers[0].in}
	for _, l := range n.layers {
		s = append(s, l.out)
	}
	return s
}

func checkSizes(s []int) error {
	if len(s) < 3 || s[0] != s[len(s)-1] {
		return fmt.Errorf("autoencoder: layer sizes %v: need input, at least one hidden layer, and an output as wide as the input", s)
	}
	for _, v := range s {
		if v < 1 || v > maxWidth {
			return fmt.Errorf("autoencoder: layer size %d: use 1..%d", v, maxWidth)
		}
	}
	return nil
}

const maxWidth = 1 << 12

package main

import (
	"math"
	"slices"

	"github.com/escapement/escapement/models/seq"
)

func families() []family {
	return []family{
		{"ngram-lm N=3 (mean NLL)", ngramMean(3)},
		{"ngram-lm N=5 (mean NLL)", ngramMean(5)},
		{"ngram-lm N=7 (mean NLL; the default of eval adfa-ld)", ngramMean(7)},
		{"ngram-lm N=7, median per-call NLL", ngramMedian},
		{"ngram-lm N=7 NLL / unigram NLL", ngramRatio},
		{"covering (pieces per call)", fitCover},
		{"1-NN cosine on 3-gram counts", fitNN},
		{"cluster LM (k = 20)", fitClusterLM},
		{"stide N=6", fitStide},
	}
}

func fitLM(train [][]int, n int) (*seq.LM, error) {
	m := seq.NewLM()
	m.N = n
	return m, m.Fit(train)
}

func ngramMean(n int) func([][]int) (func([]int) float64, error) {
	return func(train [][]int) (func([]int) float64, error) {
		m, err := fitLM(train, n)
		if err != nil {
			return nil, err
		}
		return m.Score, nil
	}
}

func ngramMedian(train [][]int) (func([]int) float64, error) {
	m, err := fitLM(train, 7)
	if err != nil {
		return nil, err
	}
	return func(t []int) float64 {
		x := m.NLL(t, nil)
		if len(x) == 0 {
			return 0
		}
		slices.Sort(x)
		return x[len(x)/2]
	}, nil
}

func ngramRatio(train [][]int) (func([]int) float64, error) {
	m7, err := fitLM(train, 7)
	if err != nil {
		return nil, err
	}
	m1, err := fitLM(train, 1)
	if err != nil {
		return nil, err
	}
	return func(t []int) float64 {
		if len(t) == 0 {
			return 0
		}
		return m7.Score(t) / m1.Score(t)
	}, nil
}

func fitStide(train [][]int) (func([]int) float64, error) {
	s := seq.NewStide(6)
	return s.Score, s.Fit(train)
}

func fitCover(train [][]int) (func([]int) float64, error) {
	a := newAutomaton(train)
	return func(t []int) float64 {
		if len(t) == 0 {
			return 0
		}
		return float64(len(a.cover(t))) / float64(len(t))
	}, nil
}

// sparse is an L2-normalised sparse count vector.
type sparse map[uint64]float64

func gramCounts(t []int, n int) sparse {
	v := sparse{}
	for i := 0; i+n <= len(t); i++ {
		var k uint64
		for _, c := range t[i : i+n] {
			k = k<<11 | uint64(c)
		}
		v[k]++
	}
	return v
}

func (v sparse) add(w sparse) {
	for k, x := range w {
		v[k] += x
	}
}

func (v sparse) normalise(logScale bool) sparse {
	var s float64
	for k, x := range v {
		if logScale {
			x = 1 + math.Log(x)
			v[k] = x
		}
		s += x * x
	}
	s = math.Sqrt(s)
	for k := range v {
		v[k] /= s
	}
	return v
}

func (v sparse) dot(w sparse) float64 {
	if len(v) > len(w) {
		v, w = w, v
	}
	var s float64
	for k, x := range v {
		s += x * w[k]
	}
	return s
}

func fitNN(train [][]int) (func([]int) float64, error) {
	vs := make([]sparse, len(train))
	for i, t := range train {
		vs[i] = gramCounts(t, 3).normalise(false)
	}
	return func(t []int) float64 {
		v := gramCounts(t, 3).normalise(false)
		best := 0.0
		for _, u := range vs {
			best = max(best, v.dot(u))
		}
		return 1 - best
	}, nil
}

package main

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSplice(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	tr := make([]int, 100)
	src := make([]int, 30)
	for i := range src {
		src[i] = 7
	}
	got := splice(tr, src, r)
	require.Len(t, got, 100)
	sevens := 0
	for _, c := range got {
		if c == 7 {
			sevens++
		}
	}
	require.Equal(t, 10, sevens, "a tenth of the trace comes from src")
	require.Equal(t, []int{7, 7}, splice([]int{1, 2}, []int{7, 7, 7}, r), "short traces are replaced whole")
	require.Zero(t, tr[0], "the input is not modified")
}

func TestSubstitute(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	tr := make([]int, 10000)
	got := substitute(tr, []int{5}, r)
	n := 0
	for _, c := range got {
		if c == 5 {
			n++
		}
	}
	require.InDelta(t, 1000, n, 100, "about a tenth of the calls")
}

func TestRuleAUC(t *testing.T) {
	held := [][]float64{{1, 1, 1, 1}, {1, 1, 1}}
	anomalous := [][]float64{{1, 9, 1, 1}, {1, 1, 8}}
	for i, v := range ruleAUC(held, anomalous) {
		require.Equal(t, 1.0, v, rules[i].String())
	}
	require.InDelta(t, 0.5, ruleAUC(held, held)[0], 1e-12)
}

func TestIntsFloats(t *testing.T) {
	v, err := ints("32, 64")
	require.NoError(t, err)
	require.Equal(t, []int{32, 64}, v)
	_, err = ints("32,x")
	require.Error(t, err)
	f, err := floats("0.01")
	require.NoError(t, err)
	require.Equal(t, []float64{0.01}, f)
}

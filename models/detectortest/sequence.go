package detectortest

import (
	"encoding"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/escapement/escapement/models"
	"github.com/stretchr/testify/require"
)

// SequenceModel is the contract of the trace models in models/seq.
type SequenceModel interface {
	Name() string
	Fit(traces [][]int) error
	Score(trace []int) float64
	encoding.BinaryMarshaler
	encoding.BinaryUnmarshaler
}

// Traces returns n seeded traces of a mostly cyclic process over calls
// 1..8 with occasional random calls.
func Traces(seed uint64, n, length int) [][]int {
	r := rand.New(rand.NewPCG(seed, 5))
	out := make([][]int, n)
	for i := range out {
		c := 1
		for range length {
			if r.Float64() < 0.9 {
				c = c%8 + 1
			} else {
				c = r.IntN(8) + 1
			}
			out[i] = append(out[i], c)
		}
	}
	return out
}

// RunSequence runs the conformance suite on sequence models made by newM.
func RunSequence(t *testing.T, newM func() SequenceModel) {
	train := Traces(1, 40, 200)
	probe := append(Traces(2, 5, 100), []int{8, 7, 6, 5, 4, 3, 2, 1, 300, 301}, []int{})
	fit := func() SequenceModel {
		m := newM()
		require.NoError(t, m.Fit(train))
		return m
	}
	t.Run("determinism and round trip", func(t *testing.T) {
		a, b := fit(), fit()
		ab, err := a.MarshalBinary()
		require.NoError(t, err)
		bb, err := b.MarshalBinary()
		require.NoError(t, err)
		require.Equal(t, ab, bb)
		c := newM()
		require.NoError(t, c.UnmarshalBinary(ab))
		cb, err := c.MarshalBinary()
		require.NoError(t, err)
		require.Equal(t, ab, cb)
		for _, tr := range probe {
			s := a.Score(tr)
			require.False(t, math.IsNaN(s) || math.IsInf(s, 0))
			require.Equal(t, s, c.Score(tr))
		}
		require.Greater(t, a.Score(probe[5]), a.Score(probe[0]), "a reversed trace with unseen calls scores higher")
	})
	t.Run("schema", func(t *testing.T) {
		require.Panics(t, func() { newM().Score([]int{1, 2}) }, "Score before Fit")
		require.ErrorIs(t, newM().Fit(nil), models.ErrEmpty)
		require.Error(t, newM().Fit([][]int{{1, -1}}))
		_, err := newM().MarshalBinary()
		require.Error(t, err)
		b, err := fit().MarshalBinary()
		require.NoError(t, err)
		for _, bad := range [][]byte{nil, b[:len(b)/2], append(append([]byte{}, b...), 0)} {
			require.Error(t, newM().UnmarshalBinary(bad))
		}
	})
}

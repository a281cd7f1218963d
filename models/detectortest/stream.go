package detectortest

import (
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/models"
	"github.com/escapement/escapement/models/stream"
)

// StreamData returns vms seeded sequences of n windows of dim standardised
// features, each window with a sketch of n-grams drawn from a small benign
// vocabulary.
func StreamData(seed uint64, vms, n, dim int) [][]stream.Window {
	r := rand.New(rand.NewPCG(seed, 77))
	out := make([][]stream.Window, vms)
	for v := range out {
		X := Data(seed*1000+uint64(v), n, dim)
		out[v] = make([]stream.Window, n)
		for i := range out[v] {
			gs := make([]stream.Gram, 0, 6)
			for range 6 {
				gs = append(gs, stream.Gram{Hash: uint64(2 + 2*r.IntN(12)), Count: uint32(1 + r.IntN(9))})
			}
			out[v][i] = stream.Window{Z: X[i], Grams: gs}
		}
	}
	return out
}

// RunStream runs the conformance suite on stream detectors made by newDet
// (each call must return a fresh, unfitted detector with the same
// settings; its warm-up, if any, must be shorter than 100 windows).
func RunStream(t *testing.T, newDet func() stream.Detector) {
	const dim = 5
	seqs := StreamData(1, 4, 300, dim)
	probe := StreamData(2, 1, 220, dim)[0]
	outlier := stream.Window{Z: []float64{6, 6, 6, 6, 6}, Grams: []stream.Gram{{Hash: 1<<40 + 2, Count: 5}, {Hash: 1<<41 + 3, Count: 5}}}

	fit := func(seed uint64) stream.Detector {
		d := newDet()
		require.NoError(t, d.Fit(seqs, rand.New(rand.NewPCG(seed, 1))))
		return d
	}
	// replay scores the probe sequence through a fresh state, learning
	// every window, and returns the scores.
	replay := func(d stream.Detector) []float64 {
		st := d.NewState()
		out := make([]float64, len(probe))
		for i, w := range probe {
			out[i] = st.Score(w)
			st.Learn(w)
		}
		return out
	}

	t.Run("name", func(t *testing.T) {
		d := newDet()
		require.NotEmpty(t, d.Name())
		same, err := models.NewStreamDetector(d.Name())
		require.NoError(t, err, "register the detector in models.NewStreamDetector")
		require.Equal(t, d.Name(), same.Name())
	})

	t.Run("determinism", func(t *testing.T) {
		a, b := fit(7), fit(7)
		ab, err := a.MarshalBinary()
		require.NoError(t, err)
		bb, err := b.MarshalBinary()
		require.NoError(t, err)
		require.Equal(t, ab, bb, "the same seed must give the same model bytes")
		require.Equal(t, replay(a), replay(b))
	})

	t.Run("round trip", func(t *testing.T) {
		a := fit(3)
		b, err := a.MarshalBinary()
		require.NoError(t, err)
		c, err := models.NewStreamDetector(a.Name())
		require.NoError(t, err)
		require.NoError(t, c.UnmarshalBinary(b))
		cb, err := c.MarshalBinary()
		require.NoError(t, err)
		require.Equal(t, b, cb)
		sa, sc := replay(a), replay(c)
		for i := range sa {
			require.False(t, math.IsNaN(sa[i]) || math.IsInf(sa[i], 0), "score of a finite window must be finite")
		}
		require.Equal(t, sa, sc)
	})

	t.Run("outlier scores higher", func(t *testing.T) {
		a := fit(5)
		st := a.NewState()
		var mean float64
		for i, w := range probe {
			if s := st.Score(w); i >= 120 {
				mean += s / float64(len(probe)-120)
			}
			st.Learn(w)
		}
		require.Greater(t, st.Score(outlier), mean)
	})

	t.Run("score does not learn", func(t *testing.T) {
		a := fit(4)
		st := a.NewState()
		for _, w := range probe[:150] {
			st.Learn(w)
		}
		first := st.Score(outlier)
		for range 5 {
			require.Equal(t, first, st.Score(outlier), "Score must not change the state")
		}
	})

	t.Run("schema", func(t *testing.T) {
		require.Panics(t, func() { newDet().NewState() }, "NewState before Fit")
		st := fit(1).NewState()
		require.Panics(t, func() {
			for range 200 {
				w := stream.Window{Z: make([]float64, dim+1)}
				st.Score(w)
				st.Learn(w)
			}
		}, "window too long")
		bad := StreamData(1, 2, 10, dim)
		bad[1][4].Z[2] = math.NaN()
		require.ErrorIs(t, newDet().Fit(bad, rand.New(rand.NewPCG(1, 1))), models.ErrNonFinite)
		bad[1][4].Z[2] = math.Inf(-1)
		require.ErrorIs(t, newDet().Fit(bad, rand.New(rand.NewPCG(1, 1))), models.ErrNonFinite)
		require.ErrorIs(t, newDet().Fit(nil, rand.New(rand.NewPCG(1, 1))), models.ErrEmpty)
		_, err := newDet().MarshalBinary()
		require.Error(t, err, "marshal before Fit")
	})

	t.Run("corrupt data", func(t *testing.T) {
		b, err := fit(1).MarshalBinary()
		require.NoError(t, err)
		for _, bad := range [][]byte{nil, []byte("junk"), b[:len(b)/2], b[:len(b)-1], append(append([]byte{}, b...), 1)} {
			require.Error(t, newDet().UnmarshalBinary(bad))
		}
	})

	t.Run("concurrent states", func(t *testing.T) {
		a := fit(2)
		want := replay(a)
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				st := a.NewState()
				for i, w := range probe {
					if st.Score(w) != want[i] {
						t.Errorf("state in another goroutine scored window %d differently", i)
					}
					st.Learn(w)
				}
			})
		}
		wg.Wait()
	})
}

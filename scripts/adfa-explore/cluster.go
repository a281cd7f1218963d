package main

import (
	"math"
	"math/rand/v2"

	"github.com/escapement/escapement/models/seq"
)

const (
	clusters      = 20
	clusterOrder  = 5
	clusterWeight = 0.8 // share of the cluster model in the per-call mixture
)

// profile is a trace's log-scaled bigram and call counts, normalised.
func profile(t []int) sparse {
	v := gramCounts(t, 2)
	v.add(gramCounts(t, 1))
	return v.normalise(true)
}

// kmeans clusters unit vectors by cosine (spherical k-means, seeded).
func kmeans(xs []sparse, k int, seed uint64) []int {
	r := rand.New(rand.NewPCG(seed, 0x6b6d))
	cent := make([]sparse, k)
	for i := range cent {
		cent[i] = xs[r.IntN(len(xs))]
	}
	asg := make([]int, len(xs))
	for range 20 {
		for i, x := range xs {
			best, bi := math.Inf(-1), 0
			for j, c := range cent {
				if d := x.dot(c); d > best {
					best, bi = d, j
				}
			}
			asg[i] = bi
		}
		for j := range cent {
			c, n := sparse{}, 0
			for i, x := range xs {
				if asg[i] == j {
					c.add(x)
					n++
				}
			}
			if n == 0 {
				c = xs[r.IntN(len(xs))]
			}
			cent[j] = c.normalise(false)
		}
	}
	return asg
}

func fitClusterLM(train [][]int) (func([]int) float64, error) {
	global, err := fitLM(train, 7)
	if err != nil {
		return nil, err
	}
	ps := make([]sparse, len(train))
	for i, t := range train {
		ps[i] = profile(t)
	}
	asg := kmeans(ps, clusters, 1)
	var lms []*seq.LM
	for j := range clusters {
		var sub [][]int
		for i, a := range asg {
			if a == j {
				sub = append(sub, train[i])
			}
		}
		if len(sub) == 0 {
			continue
		}
		m, err := fitLM(sub, clusterOrder)
		if err != nil {
			return nil, err
		}
		lms = append(lms, m)
	}
	return func(t []int) float64 {
		if len(t) == 0 {
			return 0
		}
		g := global.NLL(t, nil)
		best := math.Inf(1)
		for _, m := range lms {
			var s float64
			for i, nk := range m.NLL(t, nil) {
				s -= math.Log(clusterWeight*math.Exp(-nk) + (1-clusterWeight)*math.Exp(-g[i]))
			}
			best = min(best, s/float64(len(t)))
		}
		return best
	}, nil
}

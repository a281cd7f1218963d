package main

import (
	"fmt"

	"github.com/escapement/escapement/models/seq"
)

// tuneNgram searches the n-gram order and discount by held-out
// cross-entropy, then the scoring rule of the winner.
func tuneNgram(folds []fold) error {
	best, bestN, bestD := 0.0, 0, 0.0
	fmt.Printf("%-3s %-5s %s\n", "N", "D", "held-out cross-entropy (nats/call)")
	for _, n := range []int{2, 3, 4, 5, 6, 7} {
		for _, d := range []float64{0.5, 0.75, 0.9} {
			var ce float64
			for _, f := range folds {
				m, err := fitNgram(f.train, n, d)
				if err != nil {
					return err
				}
				ce += meanNLL(nllsOf(m.NLL, f.held)) / float64(len(folds))
			}
			fmt.Printf("%-3d %-5.2f %.4f\n", n, d, ce)
			if bestN == 0 || ce < best {
				best, bestN, bestD = ce, n, d
			}
		}
	}
	fmt.Printf("chosen: N=%d D=%.2f (cross-entropy %.4f)\n", bestN, bestD, best)
	auc := make([]float64, len(rules))
	for _, f := range folds {
		m, err := fitNgram(f.train, bestN, bestD)
		if err != nil {
			return err
		}
		for k, v := range ruleAUC(nllsOf(m.NLL, f.held), nllsOf(m.NLL, f.spliced), nllsOf(m.NLL, f.substituted)) {
			auc[k] += v / float64(len(folds))
		}
	}
	printRules(fmt.Sprintf("N=%d D=%.2f", bestN, bestD), auc)
	return nil
}

func fitNgram(train [][]int, n int, d float64) (*seq.LM, error) {
	m := &seq.LM{N: n, Discount: d, Agg: seq.AggMean}
	return m, m.Fit(train)
}

// nllsOf returns the per-call NLLs of each trace under nll.
func nllsOf(nll func([]int, []float64) []float64, traces [][]int) [][]float64 {
	out := make([][]float64, len(traces))
	for i, t := range traces {
		out[i] = nll(t, nil)
	}
	return out
}

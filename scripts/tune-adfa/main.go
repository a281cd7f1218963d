// Command tune-adfa chooses the hyperparameters of the sequence language
// model (models/seq.LM) by k-fold cross-validation on the normal training
// traces of an ADFA-LD directory. It never reads the validation or attack
// traces: those are for `escapement eval adfa-ld` alone.
//
// For each order N and Kneser-Ney discount D it fits on k−1 folds and
// measures the cross-entropy (mean negative log-likelihood per call, nats)
// of the held-out fold; the pair with the lowest mean over folds wins. The
// trace score is the trace's own cross-entropy under the model (aggregation
// "mean"), the quantity this selection minimises on normal data; a windowed
// maximum cannot be chosen without anomalies, so it is not searched here.
//
// Usage (from the repository root):
//
//	go run ./scripts/tune-adfa -data ../shared/datasets/adfa-ld
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"

	"github.com/escapement/escapement/datasets/adfa"
	"github.com/escapement/escapement/models/seq"
)

func main() {
	data := flag.String("data", "../shared/datasets/adfa-ld", "ADFA-LD `directory` (only Training_Data_Master is used)")
	folds := flag.Int("folds", 5, "cross-validation folds")
	seed := flag.Uint64("seed", 1, "seed of the fold assignment")
	flag.Parse()
	if err := run(*data, *folds, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "tune-adfa:", err)
		os.Exit(1)
	}
}

func run(dir string, k int, seed uint64) error {
	set, err := adfa.Read(dir)
	if err != nil {
		return err
	}
	traces := make([][]int, len(set.Training))
	for i, t := range set.Training {
		traces[i] = t.Calls
	}
	if k < 2 || k > len(traces) {
		return fmt.Errorf("-folds %d: use 2..%d", k, len(traces))
	}
	fold := rand.New(rand.NewPCG(seed, 0)).Perm(len(traces))
	best, bestN, bestD := 0.0, 0, 0.0
	fmt.Printf("%d normal training traces, %d folds\n%-3s %-5s %s\n", len(traces), k, "N", "D", "held-out cross-entropy (nats/call)")
	for _, n := range []int{2, 3, 4, 5, 6, 7} {
		for _, d := range []float64{0.5, 0.75, 0.9} {
			ce, err := crossEntropy(traces, fold, k, n, d)
			if err != nil {
				return err
			}
			fmt.Printf("%-3d %-5.2f %.4f\n", n, d, ce)
			if bestN == 0 || ce < best {
				best, bestN, bestD = ce, n, d
			}
		}
	}
	fmt.Printf("chosen: N=%d D=%.2f aggregation=%s (cross-entropy %.4f)\n", bestN, bestD, seq.AggMean, best)
	return nil
}

// crossEntropy is the mean over folds of the held-out NLL per call.
func crossEntropy(traces [][]int, perm []int, k, n int, d float64) (float64, error) {
	var total float64
	for f := range k {
		var train, held [][]int
		for i, j := range perm {
			if i%k == f {
				held = append(held, traces[j])
			} else {
				train = append(train, traces[j])
			}
		}
		m := &seq.LM{N: n, Discount: d, Agg: seq.AggMean}
		if err := m.Fit(train); err != nil {
			return 0, err
		}
		var sum float64
		var calls int
		var buf []float64
		for _, t := range held {
			buf = m.NLL(t, buf)
			for _, v := range buf {
				sum += v
			}
			calls += len(buf)
		}
		total += sum / float64(calls)
	}
	return total / float64(k), nil
}

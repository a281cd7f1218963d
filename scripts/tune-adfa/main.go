// Command tune-adfa chooses the hyperparameters of the ADFA-LD sequence
// language models by k-fold cross-validation on the normal training traces
// of an ADFA-LD directory. It never reads the validation or attack traces:
// those are for `escapement eval adfa-ld` alone.
//
// For the n-gram model (models/seq.LM) it searches order N and Kneser-Ney
// discount D; for the LSTM model (models/rnnlm) hidden size, learning rate,
// unroll and the number of epochs (a validation curve: every epoch of one
// training run is measured). The configuration with the lowest held-out
// cross-entropy (mean negative log-likelihood per call, nats, averaged over
// folds) wins.
//
// The trace scoring rule is the trace's mean NLL per call: the held-out
// cross-entropy this selection minimises. As a diagnostic the script also
// rates every rule (mean NLL, NLL sum, largest windowed mean) on normal
// traces alone: each held-out trace is paired with two synthetic anomalies
// made from normal data, a local one (a segment replaced by a segment of
// another held-out trace, see splice) and a diffuse one (a tenth of the
// calls replaced by random normal calls, see substitute), and each rule's
// ROC-AUC of held-out traces against them is printed. That criterion
// favours windowed maxima, which scored far worse than the mean on the
// ADFA-LD attacks (docs/adfa.md), so it is printed, not adopted.
//
// Usage (from the repository root):
//
//	go run ./scripts/tune-adfa -data ../shared/datasets/adfa-ld -model ngram
//	go run ./scripts/tune-adfa -data ../shared/datasets/adfa-ld -model rnn -hidden 32,64 -epochs 10
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"

	"github.com/escapement/escapement/datasets/adfa"
)

func main() {
	var c config
	flag.StringVar(&c.data, "data", "../shared/datasets/adfa-ld", "ADFA-LD `directory` (only Training_Data_Master is used)")
	flag.StringVar(&c.model, "model", "ngram", "model to tune: ngram or rnn")
	flag.IntVar(&c.folds, "folds", 5, "cross-validation folds")
	flag.Uint64Var(&c.seed, "seed", 1, "seed of the fold assignment, the synthetic anomalies and the LSTM weights")
	hidden := flag.String("hidden", "32,64", "rnn: comma-separated LSTM sizes")
	lr := flag.String("lr", "0.01", "rnn: comma-separated Adam learning rates")
	unroll := flag.String("unroll", "20", "rnn: comma-separated unroll lengths")
	flag.IntVar(&c.epochs, "epochs", 10, "rnn: epochs of each run (every epoch is measured)")
	flag.IntVar(&c.batch, "batch", 32, "rnn: parallel streams per mini-batch")
	flag.Parse()
	var err error
	if c.hidden, err = ints(*hidden); err == nil {
		if c.unroll, err = ints(*unroll); err == nil {
			c.lr, err = floats(*lr)
		}
	}
	if err == nil {
		err = run(c)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tune-adfa:", err)
		os.Exit(1)
	}
}

type config struct {
	data, model   string
	folds         int
	seed          uint64
	hidden        []int
	unroll        []int
	lr            []float64
	epochs, batch int
}

func run(c config) error {
	set, err := adfa.Read(c.data)
	if err != nil {
		return err
	}
	traces := make([][]int, len(set.Training))
	for i, t := range set.Training {
		traces[i] = t.Calls
	}
	if c.folds < 2 || c.folds > len(traces) {
		return fmt.Errorf("-folds %d: use 2..%d", c.folds, len(traces))
	}
	perm := rand.New(rand.NewPCG(c.seed, 0)).Perm(len(traces))
	folds := makeFolds(traces, perm, c.folds, c.seed)
	fmt.Printf("%d normal training traces, %d folds\n", len(traces), c.folds)
	switch c.model {
	case "ngram":
		return tuneNgram(folds)
	case "rnn":
		return tuneRNN(folds, c)
	}
	return fmt.Errorf("-model %q: use ngram or rnn", c.model)
}

// fold is one train/held-out split with two synthetic anomalies of each
// held-out trace.
type fold struct {
	train, held, spliced, substituted [][]int
}

func makeFolds(traces [][]int, perm []int, k int, seed uint64) []fold {
	out := make([]fold, k)
	for f := range out {
		for i, j := range perm {
			if i%k == f {
				out[f].held = append(out[f].held, traces[j])
			} else {
				out[f].train = append(out[f].train, traces[j])
			}
		}
		r := rand.New(rand.NewPCG(seed, uint64(f)+1))
		out[f].spliced = spliceAll(out[f].held, r)
		out[f].substituted = substituteAll(out[f].held, r)
	}
	return out
}

func ints(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("%q: want comma-separated integers", s)
		}
		out = append(out, v)
	}
	return out, nil
}

func floats(s string) ([]float64, error) {
	var out []float64
	for f := range strings.SplitSeq(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			return nil, fmt.Errorf("%q: want comma-separated numbers", s)
		}
		out = append(out, v)
	}
	return out, nil
}

// Command adfa-explore scores ADFA-LD with trace-scoring families other than
// the language models of `escapement eval adfa-ld`, and breaks the default
// model's ROC-AUC down by groups of attack traces. It is a diagnostic of
// where the sequence models stand against the design's ROC-AUC target, not
// a tuner: nothing it prints chooses a hyperparameter (scripts/tune-adfa
// does that on normal training traces alone), and every family here is
// fitted on Training_Data_Master only.
//
// Families:
//
//   - ngram-lm N=3/5/7: the Kneser-Ney model of models/seq (D = 0.9), mean
//     NLL per call; also its median per-call NLL, and the 7-gram NLL over
//     the unigram NLL (a likelihood ratio against a context-free model).
//   - covering: the share of a trace's calls that start a new piece when
//     the trace is cut greedily into the longest pieces found anywhere in
//     the training traces (sequence covering, Marteau, IEEE TIFS 14(4),
//     2019); the greedy cut is the shortest for a dictionary closed under
//     substrings, found here with a suffix automaton.
//   - 1-NN: one minus the largest cosine between the trace's 3-gram counts
//     and those of a training trace.
//   - cluster LM: training traces clustered by k-means (k = 20, seeded) on
//     their log-scaled bigram and call counts; a 5-gram model per cluster,
//     mixed 0.8/0.2 with the global 7-gram per call; a trace scores its
//     best cluster's mean NLL (a program-conditioned model).
//   - stide, N = 6.
//
// Then the share of normal and attack traces that hold an n-gram the
// training folder lacks.
//
// Last, a diagnostic of protocol: the n-gram model trained with a share of
// the validation traces added (see protocol).
//
// The breakdown groups attack traces by the process number in their file
// name: numbers found in at least five attack recordings are processes that
// run through every recording (daemons), the rest are grouped by family.
//
// Usage (from the repository root):
//
//	go run ./scripts/adfa-explore -data ../shared/datasets/adfa-ld
package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/escapement/escapement/datasets/adfa"
	"github.com/escapement/escapement/training"
)

// family is one trace-scoring method: fit on training traces, then score.
type family struct {
	name string
	fit  func(train [][]int) (func(trace []int) float64, error)
}

func main() {
	data := flag.String("data", "../shared/datasets/adfa-ld", "ADFA-LD `directory`")
	flag.Parse()
	if err := run(*data); err != nil {
		fmt.Fprintln(os.Stderr, "adfa-explore:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	set, err := adfa.Read(dir)
	if err != nil {
		return err
	}
	if len(set.Validation) == 0 || len(set.Attack) == 0 {
		return fmt.Errorf("%s has %d validation and %d attack traces: both are needed", dir, len(set.Validation), len(set.Attack))
	}
	train := calls(set.Training)
	normal, attack := calls(set.Validation), calls(set.Attack)
	fmt.Printf("ADFA-LD %s: %d training, %d validation (normal), %d attack traces\n\n", dir, len(train), len(normal), len(attack))
	fmt.Println("| family | ROC-AUC | PR-AUC | fit + score |")
	fmt.Println("|---|---|---|---|")
	for _, f := range families() {
		start := time.Now()
		score, err := f.fit(train)
		if err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
		n, a := scoreEach(score, normal), scoreEach(score, attack)
		roc, pr := aucs(n, a)
		fmt.Printf("| %s | %.4f | %.4f | %.1f s |\n", f.name, roc, pr, time.Since(start).Seconds())
		fmt.Fprintf(os.Stderr, "adfa-explore: %s done\n", f.name)
	}
	if err := breakdown(set, train, normal); err != nil {
		return err
	}
	novelty(train, normal, attack)
	return protocol(train, normal, attack)
}

func calls(ts []adfa.Trace) [][]int {
	out := make([][]int, len(ts))
	for i, t := range ts {
		out[i] = t.Calls
	}
	return out
}

func scoreEach(score func([]int) float64, traces [][]int) []float64 {
	out := make([]float64, len(traces))
	for i, t := range traces {
		out[i] = score(t)
	}
	return out
}

// aucs returns ROC-AUC and PR-AUC of normal (label 0) against attack scores.
func aucs(normal, attack []float64) (float64, float64) {
	s := append(slices.Clone(normal), attack...)
	lab := make([]bool, len(s))
	for i := len(normal); i < len(s); i++ {
		lab[i] = true
	}
	return training.ROCAUC(s, lab), training.PRAUC(s, lab)
}

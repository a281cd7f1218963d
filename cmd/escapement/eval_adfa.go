package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/escapement/escapement/datasets/adfa"
	"github.com/escapement/escapement/models/rnnlm"
	"github.com/escapement/escapement/models/seq"
	"github.com/escapement/escapement/obs"
	"github.com/escapement/escapement/training"
)

// adfaEnsembleName is the detector that averages the rank-normalised scores of
// the LSTM and the n-gram language models.
const adfaEnsembleName = "rnn+ngram"

// adfaReport is what `escapement eval adfa-ld DIR --json` prints.
type adfaReport struct {
	ROCAUC          float64    `json:"roc_auc"`
	PRAUC           float64    `json:"pr_auc"`
	DetectionAt1FPR float64    `json:"detection_rate_at_1pct_fpr"`
	Traces          adfaCounts `json:"traces"`
	detector        string     // not printed in JSON: the flag chose it
	detectionAt01   float64    // detection at 0.1 % FPR, text output only
	fitTime         time.Duration
	byFamily        []familyRate // text output only
	members         []memberRate // text output only, for ensembles
}

// memberRate is one ensemble member's result on its own.
type memberRate struct {
	name                    string
	roc, pr, at1, at01, sec float64
}

type adfaCounts struct {
	Normal int `json:"normal"`
	Attack int `json:"attack"`
}

type familyRate struct {
	family         string
	traces         int
	detectedAt1Pct int
	rocs           float64
}

// traceScorer is a sequence model fitted on normal traces. Score must be
// safe for concurrent use after Fit.
type traceScorer interface {
	Fit(traces [][]int) error
	Score(trace []int) float64
}

// valueFlags are the flags of eval adfa-ld that take a value, so that the
// directory may also come last.
var valueFlags = []string{"detector", "epochs", "hidden", "embed", "lr", "lr-decay", "batch", "log-level", "log-format"}

func cmdEvalADFA(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cfgFile := newFlagSet("eval adfa-ld DIR", "Evaluate the sequence models on an ADFA-LD directory (Training_Data_Master/,\nValidation_Data_Master/, Attack_Data_Master/<Family>_<n>/): fit on the training traces only,\nthen score validation traces (normal) against attack traces: ROC-AUC, PR-AUC and the detection\nrate at 1 % false positives.", stderr)
	asJSON := fs.Bool("json", false, "print {roc_auc, pr_auc, detection_rate_at_1pct_fpr, traces} as JSON")
	detector := fs.String("detector", seq.LMName, "sequence model: "+seq.LMName+" (Kneser-Ney language model), "+rnnlm.Name+" (LSTM language model), "+
		adfaEnsembleName+" (mean rank of the two language models) or "+seq.StideName)
	epochs := fs.Int("epochs", rnnlm.DefaultEpochs, "training epochs of "+rnnlm.Name)
	hidden := fs.Int("hidden", rnnlm.DefaultHidden, "LSTM cells of "+rnnlm.Name)
	embed := fs.Int("embed", rnnlm.DefaultEmbed, "embedding width of "+rnnlm.Name)
	lr := fs.Float64("lr", rnnlm.DefaultLR, "Adam learning rate of "+rnnlm.Name+" (its first epoch)")
	decay := fs.Float64("lr-decay", 1, "factor applied to the learning rate of "+rnnlm.Name+" after each epoch (1: none)")
	batch := fs.Int("batch", rnnlm.DefaultBatch, "parallel streams per mini-batch of "+rnnlm.Name)
	var of obsFlags
	fs.StringVar(&of.logLevel, "log-level", "info", "log `level` of the training progress on stderr: debug, info, warn or error")
	fs.StringVar(&of.logFormat, "log-format", "text", "log `format`: text or json")
	// The directory may come before or after the flags.
	var dir string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		dir, args = args[0], args[1:]
	} else if n := len(args); n > 0 && !strings.HasPrefix(args[n-1], "-") && (n < 2 || !slices.Contains(valueFlags, strings.TrimLeft(args[n-2], "-"))) {
		dir, args = args[n-1], args[:n-1]
	}
	if err := parseFlags(fs, cfgFile, args); err != nil {
		return err
	}
	if dir == "" {
		fs.Usage()
		return errors.New("eval adfa-ld needs the ADFA-LD directory: escapement eval adfa-ld DIR [--json]")
	}
	log, err := obs.NewLogger(stderr, of.logFormat, of.logLevel)
	if err != nil {
		return err
	}
	newRNN := func() traceScorer {
		m := rnnlm.New(log)
		m.Epochs, m.Hidden, m.Embed, m.LR, m.Decay, m.Batch = *epochs, *hidden, *embed, *lr, *decay, *batch
		return m
	}
	var members []traceScorer
	switch *detector {
	case adfaEnsembleName:
		members = []traceScorer{newRNN(), seq.NewLM()}
	case rnnlm.Name:
		members = []traceScorer{newRNN()}
	case seq.LMName:
		members = []traceScorer{seq.NewLM()}
	case seq.StideName:
		members = []traceScorer{seq.NewStide(0)}
	default:
		return fmt.Errorf("--detector %q: use %s, %s, %s or %s", *detector, adfaEnsembleName, rnnlm.Name, seq.LMName, seq.StideName)
	}
	set, err := adfa.Read(dir)
	if err != nil {
		return err
	}
	if len(set.Validation) == 0 || len(set.Attack) == 0 {
		return fmt.Errorf("eval adfa-ld: %s has %d validation and %d attack traces: both are needed", dir, len(set.Validation), len(set.Attack))
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	rep, err := evalADFA(ctx, set, members, log)
	if err != nil {
		return err
	}
	rep.detector = *detector
	if *asJSON {
		enc := json.NewEncoder(stdout)
		return enc.Encode(rep)
	}
	fmt.Fprintf(stdout, "ADFA-LD %s, detector %s: %d normal, %d attack traces, fitted and scored in %s\nROC-AUC %.4f  PR-AUC %.4f  detection at 1%% FPR %.4f  at 0.1%% FPR %.4f\n",
		dir, rep.detector, rep.Traces.Normal, rep.Traces.Attack, rep.fitTime.Round(time.Second), rep.ROCAUC, rep.PRAUC, rep.DetectionAt1FPR, rep.detectionAt01)
	for _, m := range rep.members {
		fmt.Fprintf(stdout, "  member %-12s ROC-AUC %.4f  PR-AUC %.4f  detection at 1%% FPR %.4f  at 0.1%% FPR %.4f  fit+score %.0fs\n",
			m.name, m.roc, m.pr, m.at1, m.at01, m.sec)
	}
	for _, f := range rep.byFamily {
		fmt.Fprintf(stdout, "  %-20s %4d traces  ROC-AUC %.4f  detected at 1%% FPR %d\n", f.family, f.traces, f.rocs, f.detectedAt1Pct)
	}
	return nil
}

// evalADFA fits each member on the training traces and scores validation
// against attack traces. Several members are combined by the mean of their
// rank-normalised scores over all scored traces (no labels are used).
func evalADFA(ctx context.Context, set *adfa.Set, members []traceScorer, log *slog.Logger) (*adfaReport, error) {
	train := make([][]int, len(set.Training))
	for i, t := range set.Training {
		train[i] = t.Calls
	}
	probe := make([][]int, 0, len(set.Validation)+len(set.Attack))
	for _, t := range set.Validation {
		probe = append(probe, t.Calls)
	}
	for _, t := range set.Attack {
		probe = append(probe, t.Calls)
	}
	start := time.Now()
	var all [][]float64
	var rates []memberRate
	for _, m := range members {
		t := time.Now()
		fit := m.Fit
		if c, ok := m.(interface {
			FitContext(context.Context, [][]int) error
		}); ok {
			fit = func(tr [][]int) error { return c.FitContext(ctx, tr) }
		}
		if err := fit(train); err != nil {
			return nil, fmt.Errorf("eval adfa-ld: fit on %s: %w", adfa.TrainingDir, err)
		}
		s := scoreAll(m, probe)
		all = append(all, s)
		name := fmt.Sprintf("%T", m)
		if n, ok := m.(interface{ Name() string }); ok {
			name = n.Name()
		}
		r := rate(s[:len(set.Validation)], s[len(set.Validation):])
		r.name, r.sec = name, time.Since(t).Seconds()
		rates = append(rates, r)
		log.Info("eval adfa-ld model done", "model", name, "traces", len(probe), "seconds", r.sec, "roc_auc", r.roc)
	}
	fitTime := time.Since(start)
	combined := all[0]
	if len(all) > 1 {
		combined = meanRank(all)
	}
	normal, attack := combined[:len(set.Validation)], combined[len(set.Validation):]
	scores := append(slices.Clone(normal), attack...)
	labels := make([]bool, len(scores))
	for i := len(normal); i < len(labels); i++ {
		labels[i] = true
	}
	thr := thresholdAtFPR(normal, 0.01)
	rep := &adfaReport{
		ROCAUC:          training.ROCAUC(scores, labels),
		PRAUC:           training.PRAUC(scores, labels),
		DetectionAt1FPR: exceeding(attack, thr),
		Traces:          adfaCounts{Normal: len(normal), Attack: len(attack)},
		detectionAt01:   exceeding(attack, thresholdAtFPR(normal, 0.001)),
		fitTime:         fitTime,
	}
	if len(members) > 1 {
		rep.members = rates
	}
	fams := map[string][]float64{}
	var names []string
	for i, t := range set.Attack {
		if _, ok := fams[t.Family]; !ok {
			names = append(names, t.Family)
		}
		fams[t.Family] = append(fams[t.Family], attack[i])
	}
	slices.Sort(names)
	for _, f := range names {
		s := fams[f]
		lab := make([]bool, len(normal)+len(s))
		for i := len(normal); i < len(lab); i++ {
			lab[i] = true
		}
		rep.byFamily = append(rep.byFamily, familyRate{
			family: f, traces: len(s), rocs: training.ROCAUC(append(slices.Clone(normal), s...), lab),
			detectedAt1Pct: int(exceeding(s, thr)*float64(len(s)) + 0.5),
		})
	}
	return rep, nil
}

// thresholdAtFPR returns the smallest normal score t such that at most a
// share fpr of the normal scores exceed t.
func thresholdAtFPR(normal []float64, fpr float64) float64 {
	s := slices.Clone(normal)
	slices.Sort(s)
	slices.Reverse(s)
	k := int(fpr * float64(len(s))) // normals allowed above the threshold
	return s[min(k, len(s)-1)]
}

// exceeding is the share of scores strictly above t.
func exceeding(scores []float64, t float64) float64 {
	n := 0
	for _, v := range scores {
		if v > t {
			n++
		}
	}
	return float64(n) / float64(len(scores))
}

// scoreAll scores traces on every CPU.
func scoreAll(m traceScorer, traces [][]int) []float64 {
	out := make([]float64, len(traces))
	workers := min(runtime.GOMAXPROCS(0), len(traces))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(traces); i += workers {
				out[i] = m.Score(traces[i])
			}
		})
	}
	wg.Wait()
	return out
}

// meanRank averages, per trace, each score set's rank among the traces
// (ties share their mean rank), scaled to (0, 1].
func meanRank(sets [][]float64) []float64 {
	n := len(sets[0])
	out := make([]float64, n)
	idx := make([]int, n)
	for _, s := range sets {
		for i := range idx {
			idx[i] = i
		}
		slices.SortStableFunc(idx, func(a, b int) int { return cmpFloat(s[a], s[b]) })
		for i := 0; i < n; {
			j := i
			for j < n && s[idx[j]] == s[idx[i]] {
				j++
			}
			r := float64(i+j+1) / 2 // mean of ranks i+1..j
			for _, k := range idx[i:j] {
				out[k] += r / float64(n*len(sets))
			}
			i = j
		}
	}
	return out
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// rate is the ROC-AUC, PR-AUC and detection at 1 % and 0.1 % FPR of attack
// scores against normal ones.
func rate(normal, attack []float64) memberRate {
	scores := append(slices.Clone(normal), attack...)
	labels := make([]bool, len(scores))
	for i := len(normal); i < len(labels); i++ {
		labels[i] = true
	}
	return memberRate{
		roc: training.ROCAUC(scores, labels), pr: training.PRAUC(scores, labels),
		at1: exceeding(attack, thresholdAtFPR(normal, 0.01)), at01: exceeding(attack, thresholdAtFPR(normal, 0.001)),
	}
}

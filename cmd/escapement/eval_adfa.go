package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/escapement/escapement/datasets/adfa"
	"github.com/escapement/escapement/models/seq"
	"github.com/escapement/escapement/training"
)

// adfaReport is what `escapement eval adfa-ld DIR --json` prints.
type adfaReport struct {
	ROCAUC          float64      `json:"roc_auc"`
	PRAUC           float64      `json:"pr_auc"`
	DetectionAt1FPR float64      `json:"detection_rate_at_1pct_fpr"`
	Traces          adfaCounts   `json:"traces"`
	detector        string       // not printed in JSON: the flag chose it
	byFamily        []familyRate // text output only
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

// traceScorer is a sequence model fitted on normal traces.
type traceScorer interface {
	Fit(traces [][]int) error
	Score(trace []int) float64
}

func cmdEvalADFA(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cfgFile := newFlagSet("eval adfa-ld DIR", "Evaluate the sequence models on an ADFA-LD directory (Training_Data_Master/,\nValidation_Data_Master/, Attack_Data_Master/<Family>_<n>/): fit on the training traces only,\nthen score validation traces (normal) against attack traces: ROC-AUC, PR-AUC and the detection\nrate at 1 % false positives.", stderr)
	asJSON := fs.Bool("json", false, "print {roc_auc, pr_auc, detection_rate_at_1pct_fpr, traces} as JSON")
	detector := fs.String("detector", seq.LMName, "sequence model: "+seq.LMName+" (Kneser-Ney language model) or "+seq.StideName)
	// The directory may come before or after the flags.
	var dir string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		dir, args = args[0], args[1:]
	} else if n := len(args); n > 0 && !strings.HasPrefix(args[n-1], "-") && (n < 2 || args[n-2] != "--detector" && args[n-2] != "-detector") {
		dir, args = args[n-1], args[:n-1]
	}
	if err := parseFlags(fs, cfgFile, args); err != nil {
		return err
	}
	if dir == "" {
		fs.Usage()
		return errors.New("eval adfa-ld needs the ADFA-LD directory: escapement eval adfa-ld DIR [--json]")
	}
	var m traceScorer
	switch *detector {
	case seq.LMName:
		m = seq.NewLM()
	case seq.StideName:
		m = seq.NewStide(0)
	default:
		return fmt.Errorf("--detector %q: use %s or %s", *detector, seq.LMName, seq.StideName)
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
	rep, err := evalADFA(set, m)
	if err != nil {
		return err
	}
	rep.detector = *detector
	if *asJSON {
		enc := json.NewEncoder(stdout)
		return enc.Encode(rep)
	}
	fmt.Fprintf(stdout, "ADFA-LD %s, detector %s: %d normal, %d attack traces\nROC-AUC %.4f  PR-AUC %.4f  detection at 1%% FPR %.4f\n",
		dir, rep.detector, rep.Traces.Normal, rep.Traces.Attack, rep.ROCAUC, rep.PRAUC, rep.DetectionAt1FPR)
	for _, f := range rep.byFamily {
		fmt.Fprintf(stdout, "  %-20s %4d traces  ROC-AUC %.4f  detected at 1%% FPR %d\n", f.family, f.traces, f.rocs, f.detectedAt1Pct)
	}
	return nil
}

// evalADFA fits m on the training traces and scores validation against
// attack traces.
func evalADFA(set *adfa.Set, m traceScorer) (*adfaReport, error) {
	train := make([][]int, len(set.Training))
	for i, t := range set.Training {
		train[i] = t.Calls
	}
	if err := m.Fit(train); err != nil {
		return nil, fmt.Errorf("eval adfa-ld: fit on %s: %w", adfa.TrainingDir, err)
	}
	normal := make([]float64, len(set.Validation))
	for i, t := range set.Validation {
		normal[i] = m.Score(t.Calls)
	}
	attack := make([]float64, len(set.Attack))
	for i, t := range set.Attack {
		attack[i] = m.Score(t.Calls)
	}
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

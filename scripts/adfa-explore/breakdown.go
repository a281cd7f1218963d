package main

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/escapement/escapement/datasets/adfa"
)

// recurring is how many attack recordings a process number must appear in
// for its traces to count as one recurring process.
const recurring = 5

// processOf returns the process number at the end of an attack trace's file
// name (UAD-Hydra-SSH-9-1613.txt: 1613).
func processOf(p string) string {
	base := strings.TrimSuffix(path.Base(p), ".txt")
	return base[strings.LastIndexAny(base, "-=")+1:]
}

// breakdown prints the default model's ROC-AUC per group of attack traces
// against all validation traces.
func breakdown(set *adfa.Set, train, normal [][]int) error {
	m, err := fitLM(train, 7)
	if err != nil {
		return err
	}
	ns := scoreEach(m.Score, normal)
	count := map[string]int{}
	for _, t := range set.Attack {
		count[processOf(t.Path)]++
	}
	groups := map[string][]float64{}
	first := map[string][]int{}
	for _, t := range set.Attack {
		g := "other " + t.Family
		if p := processOf(t.Path); count[p] >= recurring {
			g = "process " + p
		}
		groups[g] = append(groups[g], m.Score(t.Calls))
		if _, ok := first[g]; !ok {
			first[g] = t.Calls[:min(len(t.Calls), 10)]
		}
	}
	names := make([]string, 0, len(groups))
	for g := range groups {
		names = append(names, g)
	}
	slices.Sort(names)
	fmt.Printf("\nngram-lm N=7 by group of attack traces (against all %d validation traces):\n\n", len(normal))
	fmt.Println("| group | traces | ROC-AUC | first calls of one trace |")
	fmt.Println("|---|---|---|---|")
	for _, g := range names {
		roc, _ := aucs(ns, groups[g])
		fmt.Printf("| %s | %d | %.4f | %v |\n", g, len(groups[g]), roc, first[g])
	}
	return nil
}

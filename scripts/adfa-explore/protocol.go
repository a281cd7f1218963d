package main

import (
	"fmt"
)

// protocol measures how much the n-gram model gains when normal traces of
// the validation folder's distribution are in its training data: the
// validation traces are split by position (of every ten, the first k join
// training for k = 0, 2, 4; the last five are the test normals for every k),
// so the test set stays the same. Published ADFA-LD figures differ in which
// normal traces they train on; this shows the size of that effect. k = 5 puts
// every validation trace that is not a test normal into training. The last
// row is a leak on purpose: the test normals themselves join training, so
// they are scored as memorised; it bounds what knowing the normal traces
// exactly would give this model. None of it is the protocol of
// `escapement eval adfa-ld`, which trains on Training_Data_Master alone.
func protocol(train, normal, attack [][]int) error {
	fmt.Printf("\nngram-lm N=7 trained with a share of the validation traces (test: the same %d validation traces, all attacks):\n\n", countTest(len(normal)))
	fmt.Println("| training traces | ROC-AUC | PR-AUC |")
	fmt.Println("|---|---|---|")
	for _, k := range []int{0, 2, 4, 5, 10} {
		tr := append([][]int(nil), train...)
		var test [][]int
		for i, t := range normal {
			if i%10 < k {
				tr = append(tr, t)
			}
			if i%10 >= 5 {
				test = append(test, t)
			}
		}
		m, err := fitLM(tr, 7)
		if err != nil {
			return err
		}
		roc, pr := aucs(scoreEach(m.Score, test), scoreEach(m.Score, attack))
		what := fmt.Sprintf("%d training + %d %% of validation (%d)", len(train), 10*k, len(tr))
		if k > 5 {
			what += ", the test normals among them (a leak: an upper bound)"
		}
		fmt.Printf("| %s | %.4f | %.4f |\n", what, roc, pr)
	}
	return nil
}

func countTest(n int) int {
	c := 0
	for i := range n {
		if i%10 >= 5 {
			c++
		}
	}
	return c
}

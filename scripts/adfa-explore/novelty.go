package main

import (
	"fmt"
)

// novelty prints, for n = 1, 2, 3 and 6, the share of validation (normal)
// and attack traces holding at least one n-gram that no training trace holds.
// A detector of novelty can only separate the two by how much is new, not by
// whether anything is: where most normal traces already hold something new,
// the normal traces the training folder does not cover set the false
// positives.
func novelty(train, normal, attack [][]int) {
	fmt.Printf("\nTraces holding an n-gram that no training trace holds:\n\n")
	fmt.Println("| n | validation (normal) | attack |")
	fmt.Println("|---|---|---|")
	for _, n := range []int{1, 2, 3, 6} {
		seen := map[string]bool{}
		for _, t := range train {
			for i := 0; i+n <= len(t); i++ {
				seen[gramKey(t[i:i+n])] = true
			}
		}
		share := func(ts [][]int) float64 {
			c := 0
			for _, t := range ts {
				for i := 0; i+n <= len(t); i++ {
					if !seen[gramKey(t[i:i+n])] {
						c++
						break
					}
				}
			}
			return float64(c) / float64(max(len(ts), 1))
		}
		fmt.Printf("| %d | %.3f | %.3f |\n", n, share(normal), share(attack))
	}
}

func gramKey(g []int) string {
	return fmt.Sprint(g)
}

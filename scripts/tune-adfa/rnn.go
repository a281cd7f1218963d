package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/escapement/escapement/models/rnnlm"
)

// tuneRNN trains each (hidden, learning rate, unroll) configuration on every
// fold for c.epochs epochs and measures the held-out cross-entropy and the
// scoring rules after every epoch.
func tuneRNN(folds []fold, c config) error {
	type key struct {
		h, unroll, epoch int
		lr               float64
	}
	ce := map[key]float64{}
	auc := map[key][]float64{}
	var order []key
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	fmt.Printf("%-6s %-7s %-6s %-5s %s\n", "hidden", "lr", "unroll", "epoch", "held-out cross-entropy (nats/call)")
	for _, h := range c.hidden {
		for _, lr := range c.lr {
			for _, u := range c.unroll {
				for fi, f := range folds {
					m := rnnlm.New(log.With("hidden", h, "lr", lr, "unroll", u, "fold", fi+1))
					m.Hidden, m.LR, m.Unroll, m.Epochs, m.Batch, m.Seed = h, lr, u, c.epochs, c.batch, c.seed
					m.AfterEpoch = func(epoch int, s *rnnlm.LM) {
						k := key{h, u, epoch, lr}
						if fi == 0 {
							order = append(order, k)
							auc[k] = make([]float64, len(rules))
						}
						held := nllsOf(s.NLL, f.held)
						fce := meanNLL(held)
						ce[k] += fce / float64(len(folds))
						log.Info("tune-adfa fold", "hidden", h, "lr", lr, "unroll", u, "fold", fi+1, "epoch", epoch, "held_out_cross_entropy", fce)
						for r, v := range ruleAUC(held, nllsOf(s.NLL, f.spliced), nllsOf(s.NLL, f.substituted)) {
							auc[k][r] += v / float64(len(folds))
						}
					}
					if err := m.Fit(f.train); err != nil {
						return err
					}
				}
				for _, k := range order[len(order)-c.epochs:] {
					fmt.Printf("%-6d %-7g %-6d %-5d %.4f\n", k.h, k.lr, k.unroll, k.epoch, ce[k])
				}
			}
		}
	}
	best := order[0]
	for _, k := range order {
		if ce[k] < ce[best] {
			best = k
		}
	}
	fmt.Printf("chosen: hidden=%d lr=%g unroll=%d epochs=%d (cross-entropy %.4f)\n", best.h, best.lr, best.unroll, best.epoch, ce[best])
	printRules(fmt.Sprintf("hidden=%d epochs=%d", best.h, best.epoch), auc[best])
	return nil
}

package rnnlm

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"gorgonia.org/gorgonia"

	"github.com/escapement/escapement/models/internal/check"
)

// Fit trains the model on normal traces: Epochs passes of truncated
// back-propagation through time over Batch parallel streams of
// concatenated traces, Unroll steps per mini-batch, with Adam
// and gradient-norm clipping. The LSTM
// state is carried from one mini-batch to the next and reset where a trace
// starts. It is deterministic for a given Seed.
func (m *LM) Fit(traces [][]int) error {
	return m.FitContext(context.Background(), traces)
}

// FitContext is Fit that stops between mini-batches when ctx is done and
// returns its error, leaving the model unfitted.
func (m *LM) FitContext(ctx context.Context, traces [][]int) error {
	if err := checkTraces(traces); err != nil {
		return err
	}
	if err := m.defaults(); err != nil {
		return err
	}
	if m.log == nil {
		m.log = New(nil).log
	}
	voc := newVocab(allCalls(traces))
	if len(voc.calls) > maxVocabulary {
		return fmt.Errorf("rnnlm: %d distinct calls: at most %d are supported", len(voc.calls), maxVocabulary)
	}
	w := newWeights(voc.in(), voc.out(), m.Embed, m.Hidden, m.Seed)
	if err := selfCheck(w, voc, probeTrace(traces, selfCheckCalls)); err != nil {
		return err
	}
	if m.Epochs > 0 {
		if err := m.train(ctx, w, voc, traces); err != nil {
			return err
		}
	}
	m.voc, m.net = voc, newNet(w)
	return nil
}

func (m *LM) train(ctx context.Context, w *weights, voc *vocab, traces [][]int) error {
	gr, err := build(w, m.Batch, m.Unroll)
	if err != nil {
		return err
	}
	if _, err := gorgonia.Grad(gr.cost, gr.params...); err != nil {
		return fmt.Errorf("rnnlm: gradients: %w", err)
	}
	vm := gorgonia.NewTapeMachine(gr.g, gorgonia.BindDualValues(gr.params...))
	defer vm.Close()
	opt := newAdam(gr.params, m.LR, m.Clip)
	bt := newBatch(w, m.Batch, m.Unroll)
	rng := rand.New(rand.NewPCG(m.Seed, 0x747261696e))
	encoded := make([][]int, len(traces))
	for i, t := range traces {
		e := make([]int, len(t))
		for j, c := range t {
			e[j] = voc.id(c)
		}
		encoded[i] = e
	}
	for epoch := range m.Epochs {
		opt.lr = m.LR * math.Pow(m.Decay, float64(epoch))
		start := time.Now()
		streams := pack(encoded, m.Batch, rng.Perm(len(encoded)))
		steps := 0
		for _, s := range streams {
			steps = max(steps, len(s))
		}
		clear(bt.h0)
		clear(bt.c0)
		var loss float64
		var targets int
		for off := 0; off < steps; off += m.Unroll {
			if err := ctx.Err(); err != nil {
				return err
			}
			for t := range m.Unroll {
				for b, s := range streams {
					in, out := symStart, -1
					if k := off + t; k < len(s) {
						in = s[k]
						if k+1 < len(s) && s[k+1] != symStart {
							out = s[k+1]
							targets++
						}
					}
					bt.set(w, t*m.Batch+b, in, out, in == symStart)
				}
			}
			if err := gr.let(bt); err != nil {
				return err
			}
			if err := vm.RunAll(); err != nil {
				return fmt.Errorf("rnnlm: epoch %d: %w", epoch+1, err)
			}
			if err := opt.step(gr.params); err != nil {
				return err
			}
			loss += gr.costV.Data().(float64) * float64(m.Batch*m.Unroll)
			if nb := off / m.Unroll; nb%100 == 99 {
				m.log.Debug("rnnlm batch", "epoch", epoch+1, "batch", nb+1, "loss_nats_per_call", loss/float64(max(targets, 1)))
			}
			gr.carry(bt)
			vm.Reset()
		}
		sec := time.Since(start).Seconds()
		m.log.Info("rnnlm epoch", "epoch", epoch+1, "of", m.Epochs, "lr", opt.lr, "loss_nats_per_call", loss/float64(max(targets, 1)),
			"calls_per_s", int(float64(targets)/sec), "seconds", sec)
		if m.AfterEpoch != nil {
			snap := *m
			snap.AfterEpoch = nil
			cw := *w
			for _, p := range cw.tensors() {
				*p.data = slices.Clone(*p.data)
			}
			gr.store(&cw)
			snap.voc, snap.net = voc, newNet(&cw)
			m.AfterEpoch(epoch+1, &snap)
		}
	}
	gr.store(w)
	return nil
}

// pack lays the traces, in the order perm, end to end into n streams, each
// trace led by the start symbol, always appending to the shortest stream.
func pack(traces [][]int, n int, perm []int) [][]int {
	streams := make([][]int, n)
	for _, i := range perm {
		k := 0
		for j := range streams {
			if len(streams[j]) < len(streams[k]) {
				k = j
			}
		}
		streams[k] = append(append(streams[k], symStart), traces[i]...)
	}
	return streams
}

// checkTraces reports ErrEmpty for a training set without a single call and
// an error for a negative call number.
func checkTraces(traces [][]int) error {
	calls := 0
	for i, t := range traces {
		for j, c := range t {
			if c < 0 {
				return fmt.Errorf("rnnlm: trace %d call %d is %d: system-call numbers are non-negative", i, j, c)
			}
		}
		calls += len(t)
	}
	if calls == 0 {
		return check.ErrEmpty
	}
	return nil
}

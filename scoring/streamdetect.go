package scoring

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/escapement/escapement/anomaly"
	"github.com/escapement/escapement/features"
	"github.com/escapement/escapement/models/stream"
)

// The stream detectors' side of the scorer: per-VM states live in vmState,
// are scored with the window detectors, learn only from windows that are not
// anomalous while the VM has no open incident (so a baseline is frozen while
// its VM is above threshold), and are dropped with the VM.

// combine scores the row with every detector into s.raw, s.p.
func (s *Scorer) combine(row features.Row, st *vmState, z []float64) float64 {
	if len(st.states) == 0 {
		return s.a.Combine(z, s.raw, s.p)
	}
	s.grams = s.grams[:0]
	if s.readsGrams() {
		for _, g := range row.NGrams {
			s.grams = append(s.grams, stream.Gram{Hash: g.Hash, Count: g.Count})
		}
	}
	return s.a.CombineStream(stream.Window{Z: z, Grams: s.grams}, st.states, s.raw, s.p)
}

// learn folds the window just scored into the VM's baselines. While the
// window is anomalous or the VM has an open incident the baselines are
// frozen: the windows are held back as their element-wise maximum and folded
// in, as one window, once the incident has resolved. A slow attack cannot
// teach itself normal before it is reported, and a benign new habit (a job
// that starts, a service that now runs) raises one incident, not one per
// burst.
func (s *Scorer) learn(st *vmState, e float64) {
	if len(st.states) == 0 {
		return
	}
	if e > s.threshold || st.inc != nil {
		if st.held == nil {
			st.held = slices.Clone(s.z)
		} else {
			for j, v := range s.z {
				st.held[j] = max(st.held[j], v)
			}
		}
		return
	}
	if st.held != nil {
		for _, x := range st.states {
			x.Learn(stream.Window{Z: st.held})
		}
		st.held = nil
	}
	w := stream.Window{Z: s.z, Grams: s.grams}
	for _, x := range st.states {
		x.Learn(w)
	}
}

// maxStreamEvidence bounds the evidence each list of a record carries.
const maxStreamEvidence = 5

// explainStream returns the stream detectors' evidence for the window just
// scored: features above the VM's own baseline and unseen or improbable
// n-grams.
func (s *Scorer) explainStream(st *vmState, z []float64) ([]anomaly.Feature, []anomaly.NGram) {
	var feats []anomaly.Feature
	var grams []anomaly.NGram
	w := stream.Window{Z: z, Grams: s.grams}
	var ev []stream.Evidence
	for _, x := range st.states {
		ex, ok := x.(stream.Explainer)
		if !ok {
			continue
		}
		ev = ex.Explain(w, ev[:0])
		slices.SortStableFunc(ev, func(a, b stream.Evidence) int { return cmp.Compare(b.Score, a.Score) })
		for _, e := range ev {
			if e.Feature >= 0 && len(feats) < maxStreamEvidence {
				feats = append(feats, anomaly.Feature{
					Name: s.a.Manifest.FeatureNames[e.Feature], Observed: round(e.Observed, 4),
					Baseline: round(e.Baseline, 4), Z: round(e.Score, 2),
				})
			}
			if e.Feature < 0 && len(grams) < maxStreamEvidence {
				grams = append(grams, anomaly.NGram{
					Stream: streamName(e.Gram.Stream()), Hash: fmt.Sprintf("%016x", e.Gram.Hash), Items: s.gramNames(e.Gram.Hash),
					Count: int(e.Gram.Count), BenignPerMillion: round(e.Baseline, 2), Surprisal: round(e.Score, 2),
				})
			}
		}
	}
	return feats, grams
}

// maxGramItems bounds the scorer's cache of decoded n-grams.
const maxGramItems = 4096

// gramNames returns the names of an n-gram's items (exit kinds or system
// calls, in order), or nil when the hash does not decode. Decoding a system
// call 3-gram costs about a millisecond, so results are cached; the cache
// starts over when full.
func (s *Scorer) gramNames(hash uint64) []string {
	if names, ok := s.gramItems[hash]; ok {
		return names
	}
	var names []string
	if stream, items, ok := features.DecodeNGram(hash); ok {
		names = make([]string, len(items))
		for i, it := range items {
			names[i] = features.ItemName(stream, it)
		}
	}
	if s.gramItems == nil || len(s.gramItems) >= maxGramItems {
		s.gramItems = make(map[uint64][]string)
	}
	s.gramItems[hash] = names
	return names
}

func streamName(s uint8) string {
	if s == features.StreamSyscall {
		return "syscall"
	}
	return "exit"
}

// resetStreamStates gives every VM fresh states of the current model's
// stream detectors (after a model switch: the old states belong to the old
// model); the VMs warm up again.
func (s *Scorer) resetStreamStates() {
	for _, st := range s.vms {
		st.states, st.held = s.a.NewStates(), nil
	}
}

// readsGrams reports whether a stream detector of the model reads the n-gram
// sketch (the conversion is skipped otherwise).
func (s *Scorer) readsGrams() bool {
	for _, d := range s.a.Stream {
		if stream.ReadsGrams(d) {
			return true
		}
	}
	return false
}

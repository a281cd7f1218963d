package seq

import (
	"fmt"
	"maps"
	"math"
	"slices"
)

// LMName is the name of the n-gram language model in artifacts.
const LMName = "ngram-lm"

// Aggregations of per-call negative log-likelihoods into a trace score.
const (
	AggMean   = "mean"   // mean NLL over the trace
	AggWindow = "window" // largest mean NLL over any Window consecutive calls
)

// Defaults, chosen by scripts/tune-adfa on normal ADFA-LD traces.
const (
	DefaultLMN      = 7
	DefaultDiscount = 0.9
	DefaultAgg      = AggMean
	DefaultWindow   = 20
)

// LM is an interpolated Kneser-Ney n-gram language model over system calls
// (Kneser & Ney 1995; Chen & Goodman 1999), fitted on normal traces. A trace
// scores its negative log-likelihood per call, aggregated by Agg. Calls never
// seen in training share one unknown symbol whose probability is the
// discounted mass left at the unigram level, so a novel call is improbable
// but finite. Set the exported fields before Fit (zero values select the
// defaults).
type LM struct {
	N        int     // order
	Discount float64 // absolute discount D in (0,1)
	Agg      string  // AggMean or AggWindow
	Window   int     // window length for AggWindow

	voc *vocab
	// orders[k] holds the statistics of (k+1)-grams: k = N−1 raw counts,
	// lower orders Kneser-Ney continuation counts.
	orders []order
}

type order struct {
	count map[uint64]float64 // key(context, w) -> count
	ctx   map[uint64]ctxStat // key(context) -> totals
}

type ctxStat struct {
	total float64 // sum of counts following the context
	types float64 // distinct symbols following it
}

// NewLM returns an unfitted language model with the defaults.
func NewLM() *LM { return &LM{} }

// Name returns "ngram-lm".
func (m *LM) Name() string { return LMName }

func (m *LM) defaults() error {
	if m.N == 0 {
		m.N = DefaultLMN
	}
	if m.Discount == 0 {
		m.Discount = DefaultDiscount
	}
	if m.Agg == "" {
		m.Agg = DefaultAgg
	}
	if m.Window == 0 {
		m.Window = DefaultWindow
	}
	if !(m.Discount > 0 && m.Discount < 1) {
		return fmt.Errorf("seq: discount %v: use a value in (0, 1)", m.Discount)
	}
	if m.Agg != AggMean && m.Agg != AggWindow {
		return fmt.Errorf("seq: aggregation %q: use %q or %q", m.Agg, AggMean, AggWindow)
	}
	if m.Window < 1 {
		return fmt.Errorf("seq: window %d: use at least 1", m.Window)
	}
	return nil
}

// Fit counts the n-grams of the normal traces.
func (m *LM) Fit(traces [][]int) error {
	if err := checkTraces(traces); err != nil {
		return err
	}
	if err := m.defaults(); err != nil {
		return err
	}
	voc := newVocab(allCalls(traces))
	if err := voc.checkOrder(LMName, m.N); err != nil {
		return err
	}
	n := m.N
	top := make(map[uint64]float64)
	var buf []int
	for _, t := range traces {
		buf = voc.encode(t, n, buf)
		for i := n; i <= len(buf); i++ {
			top[voc.key(buf[i-n:i])]++
		}
	}
	m.voc = voc
	m.orders = make([]order, n)
	m.orders[n-1].count = top
	// Continuation counts: c_k(h', w) = |{v : c_{k+1}(v h' w) > 0}|.
	for k := n - 2; k >= 0; k-- {
		lower := make(map[uint64]float64)
		mask := uint64(1)<<(voc.bits*uint(k+1)) - 1
		for key := range m.orders[k+1].count {
			lower[key&mask]++
		}
		m.orders[k].count = lower
	}
	for k := range m.orders {
		m.orders[k].ctx = contexts(m.orders[k].count, voc.bits)
	}
	return nil
}

func contexts(count map[uint64]float64, bits uint) map[uint64]ctxStat {
	ctx := make(map[uint64]ctxStat)
	for key, c := range count {
		s := ctx[key>>bits]
		s.total += c
		s.types++
		ctx[key>>bits] = s
	}
	return ctx
}

// prob returns P(w | ids[len−1−k..len−1]) by interpolated Kneser-Ney; ids
// ends with w.
func (m *LM) prob(ids []int) float64 {
	w := uint64(ids[len(ids)-1])
	p := 1 / float64(m.voc.size())
	d := m.Discount
	var hist uint64
	for k := 0; k < len(ids); k++ {
		if k > 0 {
			hist |= uint64(ids[len(ids)-1-k]) << (m.voc.bits * uint(k-1))
		}
		o := &m.orders[k]
		s, ok := o.ctx[hist]
		if !ok {
			break
		}
		c := o.count[hist<<m.voc.bits|w]
		p = (max(c-d, 0) + d*s.types*p) / s.total
	}
	return p
}

// NLL writes the negative log-likelihood (nats) of each call of trace into
// out (grown as needed) and returns it.
func (m *LM) NLL(trace []int, out []float64) []float64 {
	if m.voc == nil {
		panic("seq: language model used before Fit or UnmarshalBinary")
	}
	buf := m.voc.encode(trace, m.N, make([]int, 0, len(trace)+m.N))
	out = out[:0]
	for i := m.N; i <= len(buf); i++ {
		out = append(out, -math.Log(m.prob(buf[i-m.N:i])))
	}
	return out
}

// Score returns the trace's aggregated NLL per call (0 for an empty trace).
func (m *LM) Score(trace []int) float64 {
	return Aggregate(m.NLL(trace, nil), m.Agg, m.Window)
}

// Aggregate folds per-call NLLs into a trace score: their mean, or the
// largest mean over window consecutive calls (the mean of all when the
// trace is shorter).
func Aggregate(nll []float64, agg string, window int) float64 {
	if len(nll) == 0 {
		return 0
	}
	if agg == AggMean || len(nll) <= window {
		var s float64
		for _, v := range nll {
			s += v
		}
		return s / float64(len(nll))
	}
	var s float64
	for _, v := range nll[:window] {
		s += v
	}
	best := s
	for i := window; i < len(nll); i++ {
		s += nll[i] - nll[i-window]
		best = max(best, s)
	}
	return best / float64(window)
}

// MarshalBinary encodes the fitted model.
func (m *LM) MarshalBinary() ([]byte, error) {
	if m.voc == nil {
		return nil, fmt.Errorf("seq: cannot marshal an unfitted %s model: call Fit first", LMName)
	}
	w := newWriter(lmMagic, m.N, m.voc)
	w.f64(m.Discount)
	w.u64(uint64(m.Window))
	w.u64(uint64(slices.Index([]string{AggMean, AggWindow}, m.Agg)))
	for _, o := range m.orders {
		keys := slices.Sorted(maps.Keys(o.count))
		w.u64(uint64(len(keys)))
		for _, k := range keys {
			w.u64(k)
			w.f64(o.count[k])
		}
	}
	return w.buf, nil
}

// UnmarshalBinary decodes a model written by MarshalBinary.
func (m *LM) UnmarshalBinary(data []byte) error {
	r, n, voc, err := newReader(data, lmMagic)
	if err != nil {
		return err
	}
	out := LM{N: n, Discount: r.f64(), Window: int(r.u64()), voc: voc}
	switch r.u64() {
	case 0:
		out.Agg = AggMean
	case 1:
		out.Agg = AggWindow
	default:
		return errCorrupt
	}
	out.orders = make([]order, n)
	for k := range out.orders {
		cnt := r.count(16)
		c := make(map[uint64]float64, cnt)
		for range cnt {
			key := r.u64()
			c[key] = r.f64()
		}
		out.orders[k] = order{count: c, ctx: contexts(c, voc.bits)}
	}
	if err := r.done(); err != nil {
		return err
	}
	if err := out.defaults(); err != nil {
		return errCorrupt
	}
	*m = out
	return nil
}

package training

import (
	"cmp"
	"math/rand/v2"
	"slices"

	"github.com/escapement/escapement/features"
)

// Default caps of a Sampler.
const (
	DefaultMaxFitRows     = 200_000
	DefaultMaxHoldoutRows = 200_000
)

// SampleConfig configures a Sampler.
type SampleConfig struct {
	Seed uint64
	// HoldoutFraction is the share of VMs (by a seeded hash of the VM id)
	// whose rows go to the held-out side. Default DefaultHoldoutFraction.
	HoldoutFraction float64
	// MaxFitRows and MaxHoldoutRows cap the rows kept on each side
	// (defaults DefaultMaxFitRows, DefaultMaxHoldoutRows).
	MaxFitRows, MaxHoldoutRows int
}

// Sampler keeps a seeded uniform sample of a stream of feature rows of
// bounded size: the rows of each VM go to the fitting or the held-out side by
// a hash of the VM id (as Fit's split by VM), and each side is a reservoir
// (Vitter's algorithm R) of at most its cap. Memory is the caps times the row
// size (8 bytes per feature plus about 64), whatever the length of the
// stream. The sample depends only on the seed and the order of the rows.
//
// Sampling thins each VM's sequence of windows, so calibration sees
// exceedances of consecutive sampled windows as separate incidents: the
// extremal index is over-estimated and the threshold errs high (fewer alerts)
// until the caps hold the whole stream.
type Sampler struct {
	cfg        SampleConfig
	nf         int
	fit, held  reservoir
	vms        map[string]string // interned ids
	heldVM     map[string]bool
	seen       int64
	seenVMs    int
	heldVMSeen int
}

type reservoir struct {
	rows []features.Row
	cap  int
	seen int64
	rng  *rand.Rand
}

// NewSampler returns an empty Sampler for rows of nf features.
func NewSampler(nf int, cfg SampleConfig) *Sampler {
	if cfg.HoldoutFraction <= 0 || cfg.HoldoutFraction >= 1 {
		cfg.HoldoutFraction = DefaultHoldoutFraction
	}
	if cfg.MaxFitRows <= 0 {
		cfg.MaxFitRows = DefaultMaxFitRows
	}
	if cfg.MaxHoldoutRows <= 0 {
		cfg.MaxHoldoutRows = DefaultMaxHoldoutRows
	}
	return &Sampler{
		cfg: cfg, nf: nf,
		fit:  reservoir{cap: cfg.MaxFitRows, rng: rand.New(rand.NewPCG(cfg.Seed, 1))},
		held: reservoir{cap: cfg.MaxHoldoutRows, rng: rand.New(rand.NewPCG(cfg.Seed, 2))},
		vms:  map[string]string{}, heldVM: map[string]bool{},
	}
}

// Add offers one row; its Values are copied, its n-grams dropped. It panics
// when the row does not have nf values.
func (s *Sampler) Add(r *features.Row) {
	if len(r.Values) != s.nf {
		panic("training: Sampler.Add: row has the wrong number of values")
	}
	s.seen++
	id, ok := s.vms[r.VMID]
	if !ok {
		id = r.VMID
		s.vms[id] = id
		s.seenVMs++
		if vmHash(s.cfg.Seed, id) < s.cfg.HoldoutFraction {
			s.heldVM[id] = true
			s.heldVMSeen++
		}
	}
	res := &s.fit
	if s.heldVM[id] {
		res = &s.held
	}
	res.seen++
	slot := len(res.rows)
	if slot >= res.cap {
		j := res.rng.Int64N(res.seen)
		if j >= int64(res.cap) {
			return
		}
		slot = int(j)
	} else {
		res.rows = append(res.rows, features.Row{Values: make([]float64, s.nf)})
	}
	dst := &res.rows[slot]
	dst.VMID, dst.Host, dst.Start, dst.End = id, "", r.Start, r.End
	copy(dst.Values, r.Values)
}

// SampleStats says how much of the stream a Sampler kept.
type SampleStats struct {
	Seen, SeenFit, SeenHoldout int64
	KeptFit, KeptHoldout       int
	VMs, HoldoutVMs            int
}

// Stats returns the counts so far.
func (s *Sampler) Stats() SampleStats {
	return SampleStats{
		Seen: s.seen, SeenFit: s.fit.seen, SeenHoldout: s.held.seen,
		KeptFit: len(s.fit.rows), KeptHoldout: len(s.held.rows),
		VMs: s.seenVMs, HoldoutVMs: s.heldVMSeen,
	}
}

// Split returns the sample as fitting and held-out sequences, one per VM in
// window order, VMs in id order. When either side is empty (too few VMs for
// a split by VM) every sampled row is split by time instead: the last
// HoldoutFraction of each VM's sampled windows is held out; holdoutBy says
// which was used (HoldoutByVM or HoldoutByTime). The Sampler must not be used
// afterwards.
func (s *Sampler) Split() (fit, held [][]features.Row, holdoutBy string) {
	if len(s.fit.rows) > 0 && len(s.held.rows) > 0 && s.seenVMs >= minVMsForVMSplit {
		return bySeq(s.fit.rows), bySeq(s.held.rows), HoldoutByVM
	}
	all := append(s.fit.rows, s.held.rows...)
	fit, held, _ = split(bySeq(all), TrainConfig{HoldoutBy: HoldoutByTime, HoldoutFraction: s.cfg.HoldoutFraction})
	return fit, held, HoldoutByTime
}

// bySeq groups rows by VM, each VM's rows in window order, VMs by id.
func bySeq(rows []features.Row) [][]features.Row {
	slices.SortFunc(rows, func(a, b features.Row) int {
		return cmp.Or(cmp.Compare(a.VMID, b.VMID), cmp.Compare(a.Start, b.Start))
	})
	var out [][]features.Row
	for i := 0; i < len(rows); {
		j := i + 1
		for j < len(rows) && rows[j].VMID == rows[i].VMID {
			j++
		}
		out = append(out, rows[i:j:j])
		i = j
	}
	return out
}

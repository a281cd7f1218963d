package training

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/escapement/escapement/features"
	"github.com/escapement/escapement/models"
	"github.com/escapement/escapement/models/drift"
	"github.com/escapement/escapement/models/iforest"
	"github.com/escapement/escapement/models/stream"
	"github.com/escapement/escapement/models/zmax"
)

// Hold-out strategies.
const (
	HoldoutByVM   = "vm"
	HoldoutByTime = "time"
)

// Defaults.
const (
	DefaultHoldoutFraction = 0.3
	DefaultPlatform        = "sim"
	minVMsForVMSplit       = 4
)

// TrainConfig configures Fit. Zero values select the defaults.
type TrainConfig struct {
	Seed            uint64
	Trees           int     // isolation forest trees (default 100)
	Subsample       int     // isolation forest ψ (default 256)
	HoldoutFraction float64 // share of VMs (or of each VM's rows) held out for calibration (default 0.3)
	HoldoutBy       string  // HoldoutByVM, HoldoutByTime, or "" for by VM when there are ≥ 4 VMs
	Budget          float64 // false incidents per VM-day (default 1)
	Window          time.Duration
	GapWindows      int    // as the scorer's Config.GapWindows (default 1)
	Platform        string // "sim", "pvm", "vmx" or "svm" (default "sim")
	SchemaHash      string // feature schema hash of the featurizer; "" = models.SchemaHash(names)

	// Strata groups VMs for the hold-out by VM (vm_id → group, e.g. the
	// VMM kind and workload): each group with two or more VMs gives
	// HoldoutFraction of them (at least one, never all) to calibration, and
	// a group of one VM is fitted only. Without it (or for VMs it does not
	// name) the VMs form one group. A group that is only held out would be
	// calibrated on but never fitted: its windows lie outside every
	// detector's benign envelope, the calibrated tail swallows everything,
	// and the threshold rises above what attacks reach.
	Strata map[string]string `json:"-"`
	// GraceWindows leaves each VM's first windows (by start time) out of
	// fitting and calibration, and is recorded in the artifact so that the
	// scorer raises no incident on them either (models.Manifest).
	GraceWindows int

	// Stream names the stream detectors to fit besides the window
	// detectors (iforest, zmax): nil selects DefaultStream, an empty non-nil
	// slice none. Known: "vmbase" (per-VM baseline), "ngram" (n-gram
	// sketch).
	Stream []string `json:",omitempty"`
	// BaselineWarmup is the number of windows the per-VM baseline
	// (vmbase) learns before it scores; 0 keeps its default
	// (vmbase.DefaultWarmup, 15 minutes of 1 s windows). Recordings shorter
	// than the default never let it score: neither in calibration nor
	// afterwards.
	BaselineWarmup int `json:",omitempty"`
}

// Fit trains and calibrates a model set on benign rows whose Values follow
// names. It returns a sealed artifact ready for Save.
func Fit(rows []features.Row, names []string, cfg TrainConfig) (*models.Artifact, error) {
	if len(names) == 0 {
		return nil, errors.New("train: no feature names: pass the featurizer's catalog names")
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("train: %w", models.ErrEmpty)
	}
	for i, r := range rows {
		if len(r.Values) != len(names) {
			return nil, fmt.Errorf("train: row %d (vm %s) has %d values for %d feature names: the dataset was written with another feature schema", i, r.VMID, len(r.Values), len(names))
		}
	}
	if cfg.HoldoutFraction <= 0 || cfg.HoldoutFraction >= 1 {
		cfg.HoldoutFraction = DefaultHoldoutFraction
	}
	if cfg.Platform == "" {
		cfg.Platform = DefaultPlatform
	}
	if !slices.Contains(models.Platforms, cfg.Platform) {
		return nil, fmt.Errorf("train: platform %q: use one of %v", cfg.Platform, models.Platforms)
	}
	if cfg.Window <= 0 {
		cfg.Window = medianWindow(rows)
	}

	byVM := groupByVM(rows)
	if cfg.HoldoutBy == "" {
		cfg.HoldoutBy = HoldoutByTime
		if len(byVM) >= minVMsForVMSplit {
			cfg.HoldoutBy = HoldoutByVM
		}
	}
	train, held, err := split(byVM, cfg)
	if err != nil {
		return nil, err
	}
	return FitSplit(train, held, names, cfg)
}

// FitSplit is Fit on rows already split into training and held-out
// sequences (one per VM, in window order; the held-out ones calibrate), such
// as a Sampler's. cfg.HoldoutBy is recorded, not applied.
func FitSplit(train, held [][]features.Row, names []string, cfg TrainConfig) (*models.Artifact, error) {
	if cfg.Platform == "" {
		cfg.Platform = DefaultPlatform
	}
	if !slices.Contains(models.Platforms, cfg.Platform) {
		return nil, fmt.Errorf("train: platform %q: use one of %v", cfg.Platform, models.Platforms)
	}
	if cfg.GraceWindows > 0 {
		train, held = skipGrace(train, cfg.GraceWindows), skipGrace(held, cfg.GraceWindows)
		if len(train) == 0 || len(held) == 0 {
			return nil, fmt.Errorf("train: no VM of the training or held-out side has more than %d windows (GraceWindows): %w", cfg.GraceWindows, models.ErrEmpty)
		}
	}
	nrows := 0
	for _, seq := range append(slices.Clip(train), held...) {
		nrows += len(seq)
	}
	if cfg.Window <= 0 {
		var all []features.Row
		for _, seq := range append(slices.Clip(train), held...) {
			all = append(all, seq...)
		}
		if len(all) == 0 {
			return nil, fmt.Errorf("train: %w", models.ErrEmpty)
		}
		cfg.Window = medianWindow(all)
	}
	a := &models.Artifact{Standardizer: &models.Standardizer{}}
	X := make([][]float64, 0, nrows)
	for _, seq := range train {
		for _, r := range seq {
			X = append(X, r.Values)
		}
	}
	if err := a.Standardizer.Fit(X); err != nil {
		return nil, fmt.Errorf("train: standardizer: %w", err)
	}
	ref, err := drift.Fit(names, X, drift.DefaultBins)
	if err != nil {
		return nil, fmt.Errorf("train: drift reference: %w", err)
	}
	a.Drift = ref
	Z := make([][]float64, len(X))
	for i, x := range X {
		Z[i] = a.Standardizer.Transform(x, nil)
	}
	zm := zmax.New()
	zm.Units = a.Standardizer.Scale // rises in log1p units of the raw rate
	a.Detectors = []models.Detector{iforest.New(cfg.Trees, cfg.Subsample), zm}
	for i, d := range a.Detectors {
		if err := d.Fit(Z, rand.New(rand.NewPCG(cfg.Seed, uint64(i)))); err != nil {
			return nil, fmt.Errorf("train: %s: %w", d.Name(), err)
		}
	}

	if cfg.Stream == nil {
		cfg.Stream = DefaultStream
	}
	if len(cfg.Stream) > 0 {
		trainSeqs := make([][]stream.Window, len(train))
		k := 0
		for v, seq := range train {
			trainSeqs[v] = make([]stream.Window, len(seq))
			for i, r := range seq {
				trainSeqs[v][i] = stream.Window{Z: Z[k], Grams: Grams(r.NGrams, nil)}
				k++
			}
		}
		for _, name := range cfg.Stream {
			d, err := newStream(name, a.Standardizer, names, cfg)
			if err != nil {
				return nil, err
			}
			a.Stream = append(a.Stream, d)
		}
		for i, d := range a.Stream {
			if err := d.Fit(trainSeqs, rand.New(rand.NewPCG(cfg.Seed, uint64(len(a.Detectors)+i)))); err != nil {
				return nil, fmt.Errorf("train: %s: %w", d.Name(), err)
			}
		}
	}

	// Calibrate on the held-out sequences: each detector's tail, then the
	// ensemble's alert threshold. Stream detectors replay each held-out VM's
	// windows in time order through a fresh state (score, then learn).
	nw := len(a.Detectors)
	n := a.NumDetectors()
	rawSeqs := make([][][]float64, n)
	for _, seq := range held {
		s := make([][]float64, n)
		for d := range s {
			s[d] = make([]float64, len(seq))
		}
		states := a.NewStates()
		var gs []stream.Gram
		for i, r := range seq {
			z := a.Standardizer.Transform(r.Values, nil)
			for d, det := range a.Detectors {
				s[d][i] = det.Score(z)
			}
			gs = Grams(r.NGrams, gs)
			w := stream.Window{Z: z, Grams: gs}
			for k, st := range states {
				s[nw+k][i] = st.Score(w)
				st.Learn(w)
			}
		}
		for d := range s {
			rawSeqs[d] = append(rawSeqs[d], s[d])
		}
	}
	cc := models.CalibrationConfig{WindowSeconds: cfg.Window.Seconds(), Budget: cfg.Budget, GapWindows: cfg.GapWindows}
	cals, err := calibrateDetectors(a, rawSeqs, cc)
	if err != nil {
		return nil, err
	}
	a.Manifest.Calibration.Detectors = slices.Clone(cals[:nw])
	if len(cals) > nw {
		a.Manifest.Calibration.Stream = slices.Clone(cals[nw:])
	}
	alert, err := calibrateEnsemble(a, rawSeqs, cals, cc, foldPlan(held, cfg))
	if err != nil {
		return nil, err
	}
	a.Manifest.Calibration.Alert = alert

	params, _ := json.Marshal(cfg)
	from, to := int64(math.MaxInt64), int64(math.MinInt64)
	for _, seq := range append(slices.Clip(train), held...) {
		for _, r := range seq {
			from, to = min(from, r.Start), max(to, r.End)
		}
	}
	a.Manifest.CreatedAt = time.Now().UTC().Truncate(time.Second)
	a.Manifest.FeatureNames = slices.Clone(names)
	a.Manifest.FeatureSchemaHash = cfg.SchemaHash
	a.Manifest.Platform = cfg.Platform
	a.Manifest.GraceWindows = max(cfg.GraceWindows, 0)
	a.Manifest.Params = params
	a.Manifest.Training = models.TrainingInfo{
		From: time.Unix(0, from).UTC(), To: time.Unix(0, to).UTC(),
		Rows: len(X), VMs: len(train), HoldoutRows: nrows - len(X), HoldoutVMs: len(held),
		HoldoutBy: cfg.HoldoutBy, Seeds: []uint64{cfg.Seed},
	}
	if err := a.Seal(); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	return a, nil
}

// skipGrace drops the first n windows of each sequence, and the sequences
// left empty.
func skipGrace(seqs [][]features.Row, n int) [][]features.Row {
	var out [][]features.Row
	for _, seq := range seqs {
		if len(seq) > n {
			out = append(out, seq[n:])
		}
	}
	return out
}

// groupByVM returns each VM's rows ordered by window start, VMs in name order.
func groupByVM(rows []features.Row) [][]features.Row {
	idx := map[string]int{}
	var out [][]features.Row
	for _, r := range rows {
		i, ok := idx[r.VMID]
		if !ok {
			i = len(out)
			idx[r.VMID] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], r)
	}
	for _, seq := range out {
		slices.SortStableFunc(seq, func(a, b features.Row) int { return cmp.Compare(a.Start, b.Start) })
	}
	slices.SortFunc(out, func(a, b []features.Row) int { return cmp.Compare(a[0].VMID, b[0].VMID) })
	return out
}

// split separates training and held-out sequences.
func split(byVM [][]features.Row, cfg TrainConfig) (train, held [][]features.Row, err error) {
	switch cfg.HoldoutBy {
	case HoldoutByVM:
		if len(byVM) < 2 {
			return nil, nil, errors.New("train: holding out by VM needs at least 2 VMs: use HoldoutByTime")
		}
		type ranked struct {
			u   float64
			seq []features.Row
		}
		groups := map[string][]ranked{}
		var keys []string
		for _, seq := range byVM {
			g := cfg.Strata[seq[0].VMID]
			if _, ok := groups[g]; !ok {
				keys = append(keys, g)
			}
			groups[g] = append(groups[g], ranked{vmHash(cfg.Seed, seq[0].VMID), seq})
		}
		slices.Sort(keys)
		for _, g := range keys {
			rs := groups[g]
			slices.SortFunc(rs, func(a, b ranked) int { return cmp.Compare(a.u, b.u) })
			k := 0
			if len(rs) >= 2 {
				k = min(max(int(math.Round(cfg.HoldoutFraction*float64(len(rs)))), 1), len(rs)-1)
			}
			for i, r := range rs {
				if i < k {
					held = append(held, r.seq)
				} else {
					train = append(train, r.seq)
				}
			}
		}
		if len(held) == 0 {
			return nil, nil, fmt.Errorf("train: holding out by VM with strata of one VM each leaves nothing to calibrate on: give each stratum at least 2 VMs or use HoldoutByTime")
		}
	case HoldoutByTime:
		for _, seq := range byVM {
			k := int(math.Round(cfg.HoldoutFraction * float64(len(seq))))
			if k == 0 || k == len(seq) {
				train = append(train, seq)
				continue
			}
			train = append(train, seq[:len(seq)-k])
			held = append(held, seq[len(seq)-k:])
		}
	default:
		return nil, nil, fmt.Errorf("train: HoldoutBy %q: use %q or %q", cfg.HoldoutBy, HoldoutByVM, HoldoutByTime)
	}
	return train, held, nil
}

// vmHash maps (seed, vm) to [0, 1) so the VM split is stable and seeded.
func vmHash(seed uint64, vm string) float64 {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], seed)
	h := sha256.Sum256(append(b[:], vm...))
	return float64(binary.LittleEndian.Uint64(h[:])>>11) / (1 << 53)
}

func medianWindow(rows []features.Row) time.Duration {
	w := make([]int64, len(rows))
	for i, r := range rows {
		w[i] = r.End - r.Start
	}
	slices.Sort(w)
	return time.Duration(max(w[len(w)/2], 1))
}

// calibrateDetectors fits each detector's calibration to its held-out scores
// (rawSeqs[detector][vm][window]).
func calibrateDetectors(a *models.Artifact, rawSeqs [][][]float64, cc models.CalibrationConfig) ([]models.Calibration, error) {
	nw := len(a.Detectors)
	out := make([]models.Calibration, 0, len(rawSeqs))
	for d, name := range a.DetectorNames() {
		dcc := cc
		var det any
		if d >= nw {
			dcc.TailFraction, dcc.ExpTail = StreamTailFraction, true
			det = a.Stream[d-nw]
		} else {
			det = a.Detectors[d]
		}
		if ts, ok := det.(models.TailScaler); ok {
			dcc.MinTailScale = ts.MinTailScale()
		}
		c, err := models.Calibrate(rawSeqs[d], dcc)
		if err != nil {
			return nil, fmt.Errorf("train: calibrate %s: %w", name, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// ensembleScores combines held-out raw scores into ensemble scores through
// the given per-detector calibrations.
func ensembleScores(rawSeqs [][][]float64, cals []models.Calibration) [][]float64 {
	n := len(cals)
	ens := make([][]float64, len(rawSeqs[0]))
	for v := range ens {
		ens[v] = make([]float64, len(rawSeqs[0][v]))
		for i := range ens[v] {
			minp := 1.0
			for d := range n {
				minp = min(minp, cals[d].PValue(rawSeqs[d][v][i]))
			}
			ens[v][i] = models.EnsembleScore(minp, n)
		}
	}
	return ens
}

// calibrateEnsemble sets the alert threshold on ensemble scores that are out
// of sample for the detectors' calibrations (cross-fitting): the held-out
// windows form two folds (foldPlan), and each fold's ensemble scores come from
// detector calibrations fitted on the other fold. A deployed model scores VMs
// that its calibrations never saw, and each VM has its own levels; scored
// through calibrations fitted on the same VMs, the held-out ensemble scores
// hide that VM-to-VM spread and the threshold comes out too low. On four
// simulated fleets (30 VM-days) the in-sample threshold (4.49) let through
// 1.47 false incidents per VM-day against a budget of 1; the cross-fitted one
// (5.08) 0.43. When a fold is too small to calibrate on, the in-sample scores
// (through cals) are used.
func calibrateEnsemble(a *models.Artifact, rawSeqs [][][]float64, cals []models.Calibration, cc models.CalibrationConfig, plan []int) (models.Calibration, error) {
	folds := crossFolds(rawSeqs, plan)
	var ens [][]float64
	for k := range folds {
		c, err := calibrateDetectors(a, folds[1-k], cc)
		if err != nil {
			ens = nil
			break
		}
		ens = append(ens, ensembleScores(folds[k], c)...)
	}
	crossFitted := ens != nil
	if !crossFitted {
		ens = ensembleScores(rawSeqs, cals)
	}
	alert, err := models.Calibrate(ens, cc)
	if err != nil {
		return models.Calibration{}, fmt.Errorf("train: calibrate the ensemble: %w", err)
	}
	alert.CrossFitted = crossFitted
	return alert, nil
}

// Fold plan entries: a held-out sequence goes to fold 0, to fold 1, or is cut
// in halves between them.
const (
	fold0 = iota
	fold1
	foldHalves
)

// foldPlan assigns each held-out sequence to a cross-fitting fold so that each
// fold looks like the population the model will score. Held out by VM, the
// VMs of each stratum alternate between the folds (VMs are new to the model,
// so they are new to the other fold's calibrations too), and a stratum with a
// single held-out VM, or a single VM in all, is cut in halves (a kind of VM on
// one side only would be new to the other side's calibrations, though the
// model's calibrations include it). Held out by time, every VM is cut in
// halves: the model will score later windows of the same VMs.
func foldPlan(held [][]features.Row, cfg TrainConfig) []int {
	plan := make([]int, len(held))
	if cfg.HoldoutBy == HoldoutByTime || len(held) < 2 {
		for v := range plan {
			plan[v] = foldHalves
		}
		return plan
	}
	count := map[string]int{}
	for _, seq := range held {
		count[cfg.Strata[seq[0].VMID]]++
	}
	seen := map[string]int{}
	for v, seq := range held {
		g := cfg.Strata[seq[0].VMID]
		if count[g] < 2 {
			plan[v] = foldHalves
			continue
		}
		plan[v] = seen[g] % 2
		seen[g]++
	}
	return plan
}

// crossFolds splits held-out raw scores (rawSeqs[detector][vm][window]) into
// two folds by plan (one entry per held-out sequence).
func crossFolds(rawSeqs [][][]float64, plan []int) [2][][][]float64 {
	var f [2][][][]float64
	for k := range f {
		f[k] = make([][][]float64, len(rawSeqs))
	}
	for d, seqs := range rawSeqs {
		for v, s := range seqs {
			switch plan[v] {
			case foldHalves:
				h := len(s) / 2
				f[0][d] = append(f[0][d], s[:h])
				f[1][d] = append(f[1][d], s[h:])
			default:
				f[plan[v]][d] = append(f[plan[v]][d], s)
			}
		}
	}
	return f
}

package scoring

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/anomaly"
	"github.com/escapement/escapement/features"
	"github.com/escapement/escapement/models"
	"github.com/escapement/escapement/training"
)

// BenchmarkScoreStream measures the scorer with the window detectors alone
// and with the stream detectors, on the catalog's 53 features with 64-entry
// n-gram sketches and 1000 VMs.
func BenchmarkScoreStream(b *testing.B) {
	names := features.Names()
	dim := len(names)
	rng := rand.New(rand.NewPCG(2, 3))
	gen := func(vm string, i int) features.Row {
		x := make([]float64, dim)
		for j := range x {
			x[j] = math.Round(float64(1+j%7) * math.Exp(0.5*rng.NormFloat64()))
		}
		gs := make([]features.NGram, 64)
		for k := range gs {
			gs[k] = features.NGram{Hash: uint64(2 + 2*rng.IntN(400)), Count: uint32(1 + rng.IntN(20))}
		}
		s := t0 + int64(i)*sec
		return features.Row{VMID: vm, Start: s, End: s + sec, Values: x, NGrams: gs}
	}
	var rows []features.Row
	for v := range 8 {
		for i := range 1200 {
			rows = append(rows, gen("vm-"+string(rune('a'+v)), i))
		}
	}
	const vms = 1000
	feed := make([]features.Row, 8192)
	for i := range feed {
		feed[i] = gen("vm-"+string(rune('A'+i%vms%26))+string(rune('A'+i%vms/26)), i/vms)
	}
	for _, tc := range []struct {
		name   string
		stream []string
	}{
		{"window", []string{}},
		{"window+vmbase", []string{"vmbase"}},
		{"window+vmbase+ngram", []string{"vmbase", "ngram"}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			a, err := training.Fit(rows, names, training.TrainConfig{Seed: 1, Stream: tc.stream})
			require.NoError(b, err)
			sc := NewScorer(a, Config{}, nil, nil)
			// Warm every VM past the baseline's warm-up.
			for i := range 1000 * vms {
				r := feed[i%len(feed)]
				r.Start = t0 + int64(i/vms)*sec
				r.VMID = feed[i%vms].VMID
				r.End = r.Start + sec
				_, _ = sc.Score(r)
			}
			base := t0 + 2000*sec
			cpu := cpuSeconds()
			i := 0
			for b.Loop() {
				r := feed[i%len(feed)]
				r.Start = base + int64(i/vms)*sec
				r.VMID = feed[i%vms].VMID
				r.End = r.Start + sec
				if _, err := sc.Score(r); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "vectors/s")
			b.ReportMetric(float64(b.N)/(cpuSeconds()-cpu), "vectors/cpu-s")
		})
	}
}

// TestVMBaselineFreezesAndExplains trains on VMs that never touch the floppy
// controller, then lets one VM start writing to it: the per-VM baseline
// fires and explains, stays frozen while the incident is open, and folds the
// incident in once it has resolved.
func TestVMBaselineFreezesAndExplains(t *testing.T) {
	names := features.Names()
	idx := map[string]int{}
	for i, n := range names {
		idx[n] = i
	}
	rng := rand.New(rand.NewPCG(5, 5))
	rare := 0.004
	gen := func(vm string, i int, floppy float64) features.Row {
		x := make([]float64, len(names))
		for _, n := range []string{"exits_total", "exit_io_rate", "exit_hlt_rate", "exit_interrupt_rate", "syscall_rate", "exit_msr_rate"} {
			x[idx[n]] = math.Round(100 * math.Exp(0.2*rng.NormFloat64()))
		}
		if rng.Float64() < rare { // rare benign events: two privileged instructions the VM seldom runs
			priv := []string{"exit_exception_rate", "exit_crdr_rate", "msr_fault_rate", "cpuid_hypervisor_rate", "msr_novel", "cpuid_leaves_novel"}
			a, b := rng.IntN(len(priv)), rng.IntN(len(priv)-1)
			if b >= a {
				b++
			}
			x[idx[priv[a]]], x[idx[priv[b]]] = 1, 1
		}
		x[idx["io_floppy_rate"]], x[idx["io_floppy_fifo_write_rate"]] = floppy, floppy
		s := t0 + int64(i)*sec
		return features.Row{VMID: vm, Start: s, End: s + sec, Values: x}
	}
	var rows []features.Row
	for v := range 20 {
		for i := range 2000 {
			rows = append(rows, gen("train-"+string(rune('a'+v%26))+string(rune('a'+v/26)), i, 0))
		}
	}
	a, err := training.Fit(rows, names, training.TrainConfig{Seed: 1, Stream: []string{"vmbase"}})
	require.NoError(t, err)
	require.Equal(t, []string{"iforest", "zmax", "vmbase"}, a.DetectorNames())
	// The synthetic held-out VMs are too few to give the baseline a tail
	// (its p would be floored at one held-out window): give it an
	// exponential one, and feed the VM under test no rare events.
	exp := make([]float64, 20000)
	for k := range exp {
		exp[k] = 0.1 * rng.ExpFloat64()
	}
	c, err := models.Calibrate([][]float64{exp}, models.CalibrationConfig{WindowSeconds: 1, ExpTail: true})
	require.NoError(t, err)
	a.Manifest.Calibration.Stream[0] = c
	rare = 0
	sc := NewScorer(a, Config{}, nil, nil)
	i := 0
	feed := func(floppy float64) [][]anomaly.Record {
		out, err := sc.Score(gen("vm-x", i, floppy))
		require.NoError(t, err)
		i++
		return [][]anomaly.Record{out}
	}
	for range 1000 {
		for _, o := range feed(0) {
			require.Empty(t, o, "benign windows of a VM past its warm-up")
		}
	}
	first := feed(3)[0]
	require.Len(t, first, 1)
	rec := first[0]
	require.Contains(t, rec.Anomaly.Detectors, "vmbase")
	require.NotEmpty(t, rec.Anomaly.VMBaseline)
	require.Equal(t, "io_floppy_rate", rec.Anomaly.VMBaseline[0].Name)
	require.Equal(t, 3.0, rec.Anomaly.VMBaseline[0].Observed)
	require.Zero(t, rec.Anomaly.VMBaseline[0].Baseline)

	// Frozen: the same writes stay anomalous for vmbase while the incident
	// is open.
	st := sc.vms["vm-x"]
	for range 5 {
		feed(3)
		require.Contains(t, a.Fired(sc.p), "vmbase", "the baseline must not learn the attack while the incident is open")
	}
	require.NotNil(t, st.held)
	for st.inc != nil {
		feed(0)
	}
	feed(0) // the first window after the incident folds the held windows in
	require.Nil(t, st.held)
	feed(3)
	require.NotContains(t, a.Fired(sc.p), "vmbase", "after the incident the VM's baseline holds the writes")
}

// TestGramNames: explanations name an n-gram's items, decoded from its hash
// and cached; a hash that does not decode gets no names.
func TestGramNames(t *testing.T) {
	s := &Scorer{}
	h := features.NGramHash(features.StreamSyscall, 16, 232, 0)
	require.Equal(t, []string{"ioctl", "epoll_wait", "read"}, s.gramNames(h))
	require.Contains(t, s.gramItems, h)
	require.Equal(t, []string{"io", "io", "mmio"}, s.gramNames(features.NGramHash(features.StreamExit, 1, 1, 2)))
	require.Nil(t, s.gramNames(0x0123456789abcdef&^1))
}

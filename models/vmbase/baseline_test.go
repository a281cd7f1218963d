package vmbase_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/models/stream"
	"github.com/escapement/escapement/models/vmbase"
)

// Features of the test: two device features, one emulation, one memory, one
// VMM, one total (ignored).
var names = []string{"io_floppy_rate", "io_pci_cfg_rate", "emulation_rate", "guest_fault_exec_rate", "syscall_exec_rate", "exits_total"}

// fitted returns a detector over names with the scale of rare features
// (0.1) and a warm-up of 20 windows; z of a raw value x is log1p(x)/0.1.
func fitted(t *testing.T) *vmbase.Detector {
	d := &vmbase.Detector{Warmup: 20, Scale: []float64{0.1, 0.1, 1, 1, 0.1, 1}, Median: make([]float64, len(names)), Group: vmbase.Groups(names)}
	seq := make([]stream.Window, 30)
	for i := range seq {
		seq[i] = window(d, 0, 0, 5, 3, 0, 500)
	}
	require.NoError(t, d.Fit([][]stream.Window{seq}, rand.New(rand.NewPCG(1, 1))))
	return d
}

// window returns the standardised window of raw values.
func window(d *vmbase.Detector, raw ...float64) stream.Window {
	z := make([]float64, len(raw))
	for j, x := range raw {
		z[j] = (math.Log1p(x) - d.Median[j]) / d.Scale[j]
	}
	return stream.Window{Z: z}
}

func TestGroups(t *testing.T) {
	require.Equal(t, []uint8{vmbase.GroupDevice, vmbase.GroupDevice, vmbase.GroupEmulation, vmbase.GroupMemory, vmbase.GroupVMM, vmbase.Ignored},
		vmbase.Groups(names))
	require.Equal(t, []uint8{vmbase.GroupPrivileged, vmbase.GroupPrivileged, vmbase.GroupHypercall, vmbase.GroupOther},
		vmbase.Groups([]string{"msr_pmc_rate", "cpuid_leaves_novel", "hypercall_nrs_novel", "exit_userspace_rate"}))
}

func TestScore(t *testing.T) {
	d := fitted(t)
	quiet := window(d, 0, 0, 5, 3, 0, 500)
	for _, tc := range []struct {
		name     string
		w        stream.Window
		min, max float64
	}{
		{"same as before", quiet, 0, 0},
		{"busier on what it always does", window(d, 0, 0, 7, 4, 0, 900), 0, 0.5},
		{"two floppy writes, never seen on this VM", window(d, 2, 0, 5, 3, 0, 500), 1.55, 1.65}, // ln(1 + log1p(2)/0.1 − 7)
		{"floppy and PCI probes together", window(d, 2, 3, 5, 3, 0, 500), 2.9, 3.0},             // ln(1 + (log1p(2)+log1p(3))/0.1 − 7)
		// Probes far stronger than the two above (alone they would score
		// ln(1 + (log1p(20)+log1p(300))/0.1 − 7) = 4.40), but with emulation
		// and fresh faults at once: the penalty divides the rise by 1 + 6.8.
		{"a reboot: probes, emulation and faults at once", window(d, 20, 300, 1500, 800, 0, 9000), 2.35, 2.5},
		{"one exec of the VMM: a single event is within the slack", window(d, 0, 0, 5, 3, 1, 500), 0, 0},
		{"three execs", window(d, 0, 0, 5, 3, 3, 500), 2.0, 2.1}, // ln(1 + log1p(3)/0.1 − 7)
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := d.NewState()
			for range 25 {
				st.Learn(quiet)
			}
			s := st.Score(tc.w)
			require.GreaterOrEqual(t, s, tc.min)
			require.LessOrEqual(t, s, tc.max)
		})
	}
}

func TestWarmupAndMemory(t *testing.T) {
	d := fitted(t)
	quiet := window(d, 0, 0, 5, 3, 0, 500)
	probe := window(d, 2, 3, 5, 3, 0, 500)
	st := d.NewState().(*vmbase.State)
	for i := range 20 {
		require.Zero(t, st.Score(probe), "window %d is inside the warm-up", i)
		st.Learn(quiet)
	}
	require.Equal(t, 20, st.Learned())
	require.Greater(t, st.Score(probe), 2.5)
	st.Learn(probe) // the VM did it once: it is now part of its baseline
	require.Zero(t, st.Score(probe))
	// The envelope decays by Decay per window: after 1/Decay windows of
	// quiet a rise of one log1p unit is back.
	for range int(math.Log1p(3)/d.Decay) + 10 {
		st.Learn(quiet)
	}
	require.Greater(t, st.Score(probe), 2.5)
}

func TestExplain(t *testing.T) {
	d := fitted(t)
	st := d.NewState()
	for range 25 {
		st.Learn(window(d, 0, 0, 5, 3, 0, 500))
	}
	ev := st.(stream.Explainer).Explain(window(d, 2, 3, 5, 3, 0, 500), nil)
	require.Len(t, ev, 2)
	require.Equal(t, 0, ev[0].Feature)
	require.InDelta(t, 2, ev[0].Observed, 1e-9)
	require.InDelta(t, 0, ev[0].Baseline, 1e-6)
	require.InDelta(t, math.Log1p(2)/0.1, ev[0].Score, 1e-5)
	require.Equal(t, 1, ev[1].Feature)
}

func TestFitErrors(t *testing.T) {
	d := &vmbase.Detector{Scale: []float64{1, 0}}
	err := d.Fit([][]stream.Window{{{Z: []float64{0, 0}}}}, nil)
	require.ErrorContains(t, err, "Standardizer")
	d = &vmbase.Detector{Group: []uint8{0}}
	require.ErrorContains(t, d.Fit([][]stream.Window{{{Z: []float64{0, 0}}}}, nil), "Groups")
}

func BenchmarkScoreLearn(b *testing.B) {
	const dim = 53
	r := rand.New(rand.NewPCG(1, 2))
	d := &vmbase.Detector{Warmup: 10}
	seq := make([]stream.Window, 512)
	for i := range seq {
		z := make([]float64, dim)
		for j := range z {
			z[j] = r.NormFloat64()
		}
		seq[i] = stream.Window{Z: z}
	}
	groups := make([]uint8, dim)
	for j := range groups {
		groups[j] = uint8(j % 6)
	}
	d.Group = groups
	if err := d.Fit([][]stream.Window{seq}, nil); err != nil {
		b.Fatal(err)
	}
	st := d.NewState()
	b.ReportAllocs()
	b.ResetTimer()
	var sink float64
	for i := range b.N {
		w := seq[i&511]
		sink += st.Score(w)
		st.Learn(w)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "windows/s")
	_ = sink
}

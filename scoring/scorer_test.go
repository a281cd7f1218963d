package scoring

import (
	"math"
	"math/rand/v2"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/anomaly"
	"github.com/escapement/escapement/features"
	"github.com/escapement/escapement/models"
	"github.com/escapement/escapement/training"
)

var names = []string{"exit_io_rate", "exit_msr_rate", "exit_hypercall_rate", "guest_fault_write_rate", "syscall_rate", "emulation_rate"}

var base = []float64{200, 20, 5, 50, 300, 10}

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()

const sec = int64(time.Second)

// fixture trains one artifact for all tests of the package.
var fixture = func() *models.Artifact {
	rng := rand.New(rand.NewPCG(1, 7))
	var rows []features.Row
	for v := range 6 {
		level := math.Exp(0.3 * rng.NormFloat64())
		for i := range 1000 {
			x := make([]float64, len(base))
			for j, b := range base {
				x[j] = math.Round(b * level * math.Exp(0.4*rng.NormFloat64()))
			}
			s := t0 + int64(i)*sec
			rows = append(rows, features.Row{VMID: "train-" + string(rune('a'+v)), Start: s, End: s + sec, Values: x})
		}
	}
	a, err := training.Fit(rows, names, training.TrainConfig{Seed: 5, Trees: 100, Stream: []string{}})
	if err != nil {
		panic(err)
	}
	return a
}()

// row builds window i of vm with feature msr multiplied by mult.
func row(vm string, i int, feature int, mult float64) features.Row {
	x := append([]float64(nil), base...)
	x[feature] *= mult
	s := t0 + int64(i)*sec
	return features.Row{VMID: vm, Host: "host-1", Start: s, End: s + sec, Values: x}
}

// multFor finds a multiplier of exit_msr_rate whose window lands in the
// given severity band.
func multFor(t *testing.T, sc *Scorer, sev string) float64 {
	t.Helper()
	raw, p := make([]float64, 2), make([]float64, 2)
	for m := 1.5; m < 1e7; m *= 1.05 {
		e := fixture.Combine(fixture.Standardizer.Transform(row("x", 0, 1, m).Values, nil), raw, p)
		if e > sc.Threshold() && anomaly.Severities[models.SeverityRank(sc.alert.Risk(e))] == sev {
			return m
		}
	}
	t.Fatalf("no multiplier reaches severity %s", sev)
	return 0
}

type emitted struct {
	window   int
	status   string
	revision int
	windows  int
	severity string
}

// run feeds a pattern to a scorer: '.' benign, 'm' a medium anomaly, 'C' a
// critical one, '_' a missing window.
func run(t *testing.T, sc *Scorer, vm, pattern string, from int) ([]emitted, []anomaly.Record) {
	t.Helper()
	medium, critical := multFor(t, sc, "medium"), multFor(t, sc, "critical")
	var out []emitted
	var recs []anomaly.Record
	for i, c := range pattern {
		if i < from {
			continue
		}
		var r features.Row
		switch c {
		case '.':
			r = row(vm, i, 1, 1)
		case 'm':
			r = row(vm, i, 1, medium)
		case 'C':
			r = row(vm, i, 1, critical)
		case '_':
			continue
		}
		got, err := sc.Score(r)
		require.NoError(t, err)
		for _, g := range got {
			out = append(out, emitted{i, g.Status, g.Revision, g.Anomaly.Windows, g.Severity})
		}
		recs = append(recs, got...)
	}
	return out, recs
}

func TestIncidentFolding(t *testing.T) {
	tests := []struct {
		name    string
		gap     int
		pattern string
		want    []emitted
	}{
		{"benign only", 0, "......", nil},
		{"open, still open", 0, ".C", []emitted{{1, "new", 1, 1, "critical"}}},
		{"open and resolve after the gap", 0, "C..", []emitted{{0, "new", 1, 1, "critical"}, {2, "resolved", 2, 1, "critical"}}},
		{"one quiet window is bridged", 0, "C.C..", []emitted{{0, "new", 1, 1, "critical"}, {4, "resolved", 2, 2, "critical"}}},
		{"two quiet windows split", 0, "C..C..", []emitted{
			{0, "new", 1, 1, "critical"}, {2, "resolved", 2, 1, "critical"},
			{3, "new", 1, 1, "critical"}, {5, "resolved", 2, 1, "critical"}}},
		{"no gap allowed", -1, "C.C.", []emitted{
			{0, "new", 1, 1, "critical"}, {1, "resolved", 2, 1, "critical"},
			{2, "new", 1, 1, "critical"}, {3, "resolved", 2, 1, "critical"}}},
		{"escalation", 0, "mmC..", []emitted{{0, "new", 1, 1, "medium"}, {2, "in_progress", 2, 3, "critical"}, {4, "resolved", 3, 3, "critical"}}},
		{"no de-escalation", 0, "Cm..", []emitted{{0, "new", 1, 1, "critical"}, {3, "resolved", 2, 2, "critical"}}},
		{"missing windows close", 0, "C__C..", []emitted{
			{0, "new", 1, 1, "critical"}, {3, "resolved", 2, 1, "critical"},
			{3, "new", 1, 1, "critical"}, {5, "resolved", 2, 1, "critical"}}},
		{"one missing window is bridged", 0, "C_C..", []emitted{{0, "new", 1, 1, "critical"}, {4, "resolved", 2, 2, "critical"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := NewScorer(fixture, Config{GapWindows: tt.gap}, nil, nil)
			got, _ := run(t, sc, "vm-1a2b3c4d", tt.pattern, 0)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestReplayReproducesIDsAndRevisions(t *testing.T) {
	const pattern = "....mC.m..C.....mmC.."
	reg := prometheus.NewRegistry()
	a := NewScorer(fixture, Config{}, nil, reg)
	_, first := run(t, a, "vm-7", pattern, 0)
	require.NotEmpty(t, first)
	// A new scorer (replay, or the partition's new owner) fed from the
	// first anomalous window on emits the same records.
	b := NewScorer(fixture, Config{}, nil, nil)
	_, again := run(t, b, "vm-7", pattern, 4)
	require.Equal(t, first, again)
	// Records are deduplicable by (id, revision): no pair repeats.
	seen := map[[2]any]bool{}
	for _, r := range first {
		k := [2]any{r.ID, r.Revision}
		require.False(t, seen[k])
		seen[k] = true
		require.Equal(t, IncidentID("vm-7", r.FirstSeen.UnixNano(), fixture.Manifest.ModelVersion), r.ID)
		require.Len(t, r.ID, 32)
	}
	// At-least-once duplicates of earlier windows are ignored.
	got, err := a.Score(row("vm-7", 5, 1, 1e6))
	require.NoError(t, err)
	require.Empty(t, got)
	require.Equal(t, 1.0, testutil.ToFloat64(a.m.rows.WithLabelValues(resultStale)))
	require.Equal(t, float64(len(pattern)), testutil.ToFloat64(a.m.rows.WithLabelValues(resultScored)))
}

func TestRecordContent(t *testing.T) {
	tests := []struct {
		name    string
		feature int
		phrase  string
		class   string
	}{
		{"msr", 1, "MSR", ClassPrivilegedInstructions},
		{"port io", 0, "port I/O", ClassDeviceEmulation},
		{"hypercall", 2, "hypercall", ClassHypercalls},
		{"vmm syscalls", 4, "VMM system call", ClassPostExploitation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := NewScorer(fixture, Config{TopFeatures: 3}, nil, nil)
			r := row("vm-1a2b3c4d", 10, tt.feature, 1000)
			recs, err := sc.Score(r)
			require.NoError(t, err)
			require.Len(t, recs, 1)
			rec := recs[0]
			require.Equal(t, anomaly.StatusNew, rec.Status)
			require.Equal(t, "VM vm-1a2b3c4d: anomalous "+tt.phrase+" activity", rec.Title)
			require.Len(t, rec.Anomaly.Features, 3)
			top := rec.Anomaly.Features[0]
			require.Equal(t, names[tt.feature], top.Name, "the injected feature explains the alert")
			require.Equal(t, r.Values[tt.feature], top.Observed)
			require.InEpsilon(t, base[tt.feature], top.Baseline, 0.5)
			require.Greater(t, top.Z, 5.0)
			require.Equal(t, tt.class, rec.Anomaly.Class)
			require.Contains(t, rec.Anomaly.Detectors, "zmax")
			require.Equal(t, []anomaly.Attack{anomaly.EscapeToHost}, rec.Attack)
			require.Equal(t, "/api/v1/anomalies/"+rec.ID, rec.Links.Self)
			require.Equal(t, fixture.Manifest.ModelVersion, rec.Detector.Version)
			require.Equal(t, "host-1", rec.Host)
			require.Equal(t, time.Unix(0, r.Start).UTC(), rec.FirstSeen)
			require.Equal(t, time.Unix(0, r.End).UTC(), rec.CreatedAt)
			require.Equal(t, rec.CreatedAt, rec.UpdatedAt)
			require.Greater(t, rec.Anomaly.Score, rec.Anomaly.Threshold)
			require.GreaterOrEqual(t, rec.RiskScore, models.RiskAtThreshold)
			require.GreaterOrEqual(t, rec.Confidence, 0.5)
			require.LessOrEqual(t, rec.Confidence, 1.0)
		})
	}
}

func TestEvictionAndExpiry(t *testing.T) {
	sc := NewScorer(fixture, Config{MaxVMs: 2, IdleTTL: time.Minute}, nil, nil)
	recs, err := sc.Score(row("vm-a", 0, 1, 1e5))
	require.NoError(t, err)
	require.Len(t, recs, 1)
	_, err = sc.Score(row("vm-b", 1, 1, 1))
	require.NoError(t, err)
	// A third VM evicts the least recently seen (vm-a), closing its incident.
	recs, err = sc.Score(row("vm-c", 2, 1, 1))
	require.NoError(t, err)
	require.Len(t, recs, 1)
	require.Equal(t, "vm-a", recs[0].VM.ID)
	require.Equal(t, anomaly.StatusResolved, recs[0].Status)
	require.Equal(t, 2, sc.VMs())

	_, err = sc.Score(row("vm-b", 3, 1, 1e5))
	require.NoError(t, err)
	recs = sc.Expire(time.Unix(0, t0+200*sec), nil)
	require.Len(t, recs, 1)
	require.Equal(t, "vm-b", recs[0].VM.ID)
	require.Equal(t, anomaly.StatusResolved, recs[0].Status)
	require.Zero(t, sc.VMs())
}

func TestInvalidRows(t *testing.T) {
	sc := NewScorer(fixture, Config{}, nil, nil)
	bad := row("vm-a", 0, 1, 1)
	bad.Values = bad.Values[:3]
	_, err := sc.Score(bad)
	require.ErrorIs(t, err, ErrInvalidRow)
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		bad = row("vm-a", 0, 1, 1)
		bad.Values[2] = v
		_, err = sc.Score(bad)
		require.ErrorIs(t, err, ErrInvalidRow, "%v", v)
		require.ErrorContains(t, err, "exit_hypercall_rate")
	}
	for _, v := range []float64{math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64} {
		ok := row("vm-edge", 0, 1, 1)
		ok.Values[2] = v
		_, err = sc.Score(ok)
		require.NoError(t, err, "%v is finite", v)
		sc.Forget("vm-edge")
	}
	bad = row("vm-a", 0, 1, 1)
	bad.End = bad.Start
	_, err = sc.Score(bad)
	require.ErrorIs(t, err, ErrInvalidRow)
	require.Zero(t, sc.VMs())
}

func TestBudgetRetargets(t *testing.T) {
	strict := NewScorer(fixture, Config{Budget: 0.01}, nil, nil)
	loose := NewScorer(fixture, Config{Budget: 100}, nil, nil)
	same := NewScorer(fixture, Config{}, nil, nil)
	require.Greater(t, strict.Threshold(), same.Threshold())
	require.Less(t, loose.Threshold(), same.Threshold())
	require.Equal(t, fixture.Manifest.Threshold, same.Threshold())
}

func TestTopics(t *testing.T) {
	tests := []struct{ name, class, phrase string }{
		{"io_floppy_fifo_write_rate", ClassDeviceEmulation, "legacy device"},
		{"mmio_pages_novel", ClassDeviceEmulation, "MMIO"},
		{"msr_fault_rate", ClassPrivilegedInstructions, "MSR"},
		{"exit_crdr_rate", ClassPrivilegedInstructions, "privileged instruction"},
		{"hypercall_nrs_novel", ClassHypercalls, "hypercall"},
		{"guest_fault_exec_rate", ClassMemory, "memory fault"},
		{"syscall_ptrace_rate", ClassPostExploitation, "VMM system call"},
		{"proc_execs", ClassPostExploitation, "VMM system call"},
		{"exit_interrupt_rate", "", "VM exit"},
	}
	for _, tt := range tests {
		got := topicOf(tt.name)
		require.Equal(t, tt.class, got.class, tt.name)
		require.Equal(t, tt.phrase, got.phrase, tt.name)
	}
	require.Equal(t, "", classify([]anomaly.Feature{{Name: "exit_msr_rate", Z: 4}, {Name: "exit_io_rate", Z: 3}, {Name: "exit_other_rate", Z: 3}}))
	require.Equal(t, ClassPrivilegedInstructions, classify([]anomaly.Feature{{Name: "exit_msr_rate", Z: 5}, {Name: "exit_io_rate", Z: 2}, {Name: "exit_other_rate", Z: -9}}))
	require.True(t, strings.HasSuffix(title("v", nil), "anomalous activity"))
}

func BenchmarkScore(b *testing.B) {
	// 45 features, as the catalog has, 100 trees.
	const dim = 45
	rng := rand.New(rand.NewPCG(2, 2))
	names := make([]string, dim)
	for j := range names {
		names[j] = "feature_" + string(rune('a'+j%26)) + string(rune('a'+j/26))
	}
	gen := func(vm string, i int) features.Row {
		x := make([]float64, dim)
		for j := range x {
			x[j] = math.Round(float64(10+j) * math.Exp(0.5*rng.NormFloat64()))
		}
		s := t0 + int64(i)*sec
		return features.Row{VMID: vm, Start: s, End: s + sec, Values: x}
	}
	var rows []features.Row
	for v := range 8 {
		for i := range 600 {
			rows = append(rows, gen("vm-"+string(rune('a'+v)), i))
		}
	}
	a, err := training.Fit(rows, names, training.TrainConfig{Seed: 1})
	require.NoError(b, err)
	sc := NewScorer(a, Config{}, nil, nil)
	const vms = 1000
	feed := make([]features.Row, 4096)
	for i := range feed {
		feed[i] = gen("vm-"+string(rune('A'+i%vms%26))+string(rune('A'+i%vms/26)), i/vms)
	}
	cpu := cpuSeconds()
	i := 0
	for b.Loop() {
		r := feed[i%len(feed)]
		r.Start += int64(i/len(feed)) * 5 * sec
		r.End = r.Start + sec
		if _, err := sc.Score(r); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "vectors/s")
	b.ReportMetric(float64(b.N)/(cpuSeconds()-cpu), "vectors/cpu-s")
}

// cpuSeconds is the user+system CPU time of the process so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/anomaly"
	"github.com/escapement/escapement/collectors"
	"github.com/escapement/escapement/collectors/kvm"
	"github.com/escapement/escapement/collectors/lab"
	"github.com/escapement/escapement/events"
	"github.com/escapement/escapement/features"
	"github.com/escapement/escapement/models"
	"github.com/escapement/escapement/scoring"
	"github.com/escapement/escapement/training"
	"github.com/escapement/escapement/transport"
)

// TestMain lets the test binary serve as the lab VMM: lab.RunPlan
// re-executes it with lab.EnvVMM set.
func TestMain(m *testing.M) {
	if lab.IsVMM() {
		os.Exit(lab.VMMMain(os.Args[1:], os.Stdout))
	}
	os.Exit(m.Run())
}

// requireLiveKVM skips the test unless real KVM guests can run and their
// tracepoints can be captured here. It never falls back to the simulator.
func requireLiveKVM(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("live lab test skipped in -short mode: it runs real KVM guests for about three minutes")
	}
	if os.Geteuid() != 0 {
		t.Skip("live lab test needs root (it opens /dev/kvm and captures KVM tracepoints): run the tests as root on a KVM host")
	}
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("live lab test needs /dev/kvm: %v (load kvm_intel, kvm_amd or kvm-pvm)", err)
	}
	f.Close()
	if err := kvm.CheckAccess(kvm.DefaultTracefs); err != nil {
		t.Skipf("live lab test needs tracefs with the kvm events: %v", err)
	}
	if err := lab.CheckQEMU(); err != nil {
		t.Skipf("live lab test runs QEMU guests beside the lab's: %v", err)
	}
}

// Lab end-to-end parameters. The model is trained on four benign lab
// workloads and both QEMU workloads; compute is the benign workload it never
// sees.
var (
	trainedWorkloads = []string{lab.WIdle, lab.WConsole, lab.WDisk, lab.WNet}
	qemuWorkloads    = []string{lab.QEMUFirmware, lab.QEMUConsolePIT}
	unseenWorkload   = lab.WCompute
	floodAttacks     = []string{lab.WVenom, lab.WMSRSweep, lab.WPCIScan, lab.WHypercall, lab.WPostExploit}
	// qemuFloodAttacks run in QEMU guests (console-pit's boot sector,
	// switched on through QMP once it runs).
	qemuFloodAttacks = []string{lab.WPCIScan}
)

const (
	labTrainDuration  = 75 * time.Second
	labDetectDuration = 62 * time.Second
	labAttackStart    = 22 * time.Second
	labAttackLength   = 15 * time.Second
	// labQEMUAttackStart is when a QEMU guest's attack window is planned;
	// it starts later if SeaBIOS has not reached the boot sector by then
	// (5-10 s on an idle machine, up to 25 s with compilers on both cores).
	// It is timed from QEMU's start, the grace from the VM's first window,
	// which comes seconds later when 13 guests start at once (up to 17 s
	// seen in CI), so the attack also waits labQEMUSettle after the boot
	// sector's first line, which comes after the VM's first window.
	labQEMUAttackStart  = 30 * time.Second
	labQEMUAttackLength = 12 * time.Second
	labQEMUSettle       = (labGraceWindows + 3) * time.Second
	// labWarmupWindows covers a QEMU guest's boot: SeaBIOS under PVM
	// emulation takes 5-15 s, and its one-off probing (MTRR writes, PCI
	// enumeration, CMOS) is novel to the VM whenever it falls after the
	// featurizer's default warm-up of 5 windows.
	labWarmupWindows = 20
	// labGraceWindows: a VM's first windows are its start-up and boot: the
	// VMM's first window is partial (the collector discovers a VMM up to
	// 200 ms after it starts, so how much of QEMU's start-up it sees
	// varies), and SeaBIOS's boot under PVM (5-25 s here) probes PCI, the
	// floppy controller, CPUID and MTRRs at times that vary with the load.
	// The model neither learns nor judges them; attacks start after it.
	labGraceWindows = 20
)

// labFeaturizer is the featurizer configuration of every stage of the test.
func labFeaturizer() features.Config {
	return features.Config{Window: time.Second, WarmupWindows: labWarmupWindows}
}

// trainingPlan runs two VMs of each trained workload, lab and QEMU, so that
// the hold-out (stratified by Plan.Groups) fits one of each kind and
// calibrates on the other. The two lab VMs of a workload run at the lowest
// and the highest point of its natural range (PlanVM.Level), so training
// sees every intensity the detection run's VMs can draw.
func trainingPlan() lab.Plan {
	p := lab.Plan{Seed: 101, Duration: lab.Duration(labTrainDuration)}
	for i := range 2 {
		level := float64(i)
		for _, w := range trainedWorkloads {
			p.VMs = append(p.VMs, lab.PlanVM{Name: fmt.Sprintf("train-%s-%d", w, i), Workload: w, Level: &level})
		}
		for _, w := range qemuWorkloads {
			p.VMs = append(p.VMs, lab.PlanVM{Name: fmt.Sprintf("train-qemu-%s-%d", w, i), VMM: lab.VMMQEMU, Workload: w})
		}
	}
	return p
}

// detectionPlan runs one benign VM of each trained workload (lab and QEMU,
// the QEMU guests booting while the attacks run), one of the unseen
// workload, one lab VM per attack: a trained base workload with the attack
// at flood rate in a window (starts staggered by a second), and one QEMU
// guest per QEMU attack, console-pit whose boot sector switches to the
// attack when the window starts.
func detectionPlan() lab.Plan {
	p := lab.Plan{Seed: 202, Duration: lab.Duration(labDetectDuration)}
	for _, w := range append(append([]string(nil), trainedWorkloads...), unseenWorkload) {
		p.VMs = append(p.VMs, lab.PlanVM{Name: "benign-" + w, Workload: w})
	}
	for _, w := range qemuWorkloads {
		p.VMs = append(p.VMs, lab.PlanVM{Name: "benign-qemu-" + w, VMM: lab.VMMQEMU, Workload: w})
	}
	for i, a := range floodAttacks {
		p.VMs = append(p.VMs, lab.PlanVM{Name: "attack-" + a, Workload: trainedWorkloads[i%len(trainedWorkloads)],
			Windows: []lab.Window{{Workload: a, Rate: lab.RateFlood,
				Start: lab.Duration(labAttackStart + time.Duration(i)*time.Second), Duration: lab.Duration(labAttackLength)}}})
	}
	for _, a := range qemuFloodAttacks {
		p.VMs = append(p.VMs, lab.PlanVM{Name: "attack-qemu-" + a, VMM: lab.VMMQEMU, Workload: lab.QEMUConsolePIT, Settle: lab.Duration(labQEMUSettle),
			Windows: []lab.Window{{Workload: a, Rate: lab.RateFlood,
				Start: lab.Duration(labQEMUAttackStart), Duration: lab.Duration(labQEMUAttackLength)}}})
	}
	return p
}

func newKVMCollector(t *testing.T) *kvm.Collector {
	t.Helper()
	host, _ := os.Hostname()
	c, err := kvm.New(kvm.Config{Host: host, Rescan: 200 * time.Millisecond}, testLog(), nil)
	require.NoError(t, err)
	return c
}

// TestLabLiveDetection is the live end-to-end test: real guests on /dev/kvm,
// the live KVM collector, Kafka (embedded broker), the featurize and score
// stages, and a model trained on a benign lab recording.
//
//  1. Record a benign plan (four workloads, two VMs each) under the live
//     collector, featurize it and fit a model (training.Fit, default alert
//     budget, half the VMs held out for calibration).
//  2. Run benign VMs (the four workloads and the unseen one) in parallel
//     with VMs that switch to an escape technique at flood rate, through
//     collector → events topic → featurize stage → features topic → score
//     stage → anomalies topic.
//  3. Every flood attack must raise an incident on its VM within 3 windows
//     of its start, and no benign VM may raise any incident.
func TestLabLiveDetection(t *testing.T) {
	requireLiveKVM(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// 1. Benign recording → model.
	fz := features.New(labFeaturizer())
	var rows []features.Row
	addRow := func(r features.Row) { rows = append(rows, r) }
	began := time.Now()
	tplan := trainingPlan()
	_, err := lab.Capture(ctx, tplan, newKVMCollector(t), lab.CaptureConfig{},
		func(_ context.Context, evs []events.Event) error {
			fz.Add(evs, addRow)
			return nil
		})
	require.NoError(t, err)
	fz.Flush(addRow)
	perVM := map[string]int{}
	for _, r := range rows {
		perVM[r.VMID]++
	}
	require.Len(t, perVM, len(tplan.VMs), "every training VM must produce feature rows (VMs seen: %v)", perVM)
	art, err := training.Fit(rows, features.Names(), training.TrainConfig{Seed: 1, Window: time.Second,
		HoldoutBy: training.HoldoutByVM, HoldoutFraction: 0.5, Strata: tplan.Groups(), GraceWindows: labGraceWindows, Platform: kvm.PlatformPVM})
	require.NoError(t, err, "fit on %d benign lab windows", len(rows))
	t.Logf("trained on %d benign windows of %d VMs (lab: %s; QEMU: %s) in %s, threshold %.3f (%s)", len(rows), len(perVM),
		strings.Join(trainedWorkloads, ", "), strings.Join(qemuWorkloads, ", "), time.Since(began).Round(time.Second),
		art.Manifest.Calibration.Alert.Threshold, art.Manifest.Calibration.Alert.Method)

	// 2. Live detection through Kafka.
	kcfg := startBroker(t, 3)
	stages, stopStages := context.WithCancel(ctx)
	defer stopStages()
	var dlqMu sync.Mutex
	var dlq []string
	deadLetter := func(_ context.Context, m *transport.Message, err error) error {
		dlqMu.Lock()
		defer dlqMu.Unlock()
		dlq = append(dlq, fmt.Sprintf("%s: %v", m.Topic, err))
		return nil
	}
	var wg sync.WaitGroup
	runStage := func(group, topic string, h transport.Handler, run func(context.Context) error) {
		g, err := transport.NewGroup(kcfg, fastGroup(group, topic), testLog(), nil)
		require.NoError(t, err)
		wg.Add(2)
		go func() { defer wg.Done(); _ = run(stages) }()
		go func() { defer wg.Done(); _ = g.Run(stages, h); _ = g.Close() }()
	}
	fprod, err := transport.NewProducer(kcfg, testLog(), nil)
	require.NoError(t, err)
	defer fprod.Close()
	fstage := features.NewStage(features.StageConfig{Featurizer: labFeaturizer(),
		Producer: fprod, DeadLetter: deadLetter}, testLog(), nil)
	runStage("lab-featurize", events.Topic, fstage, fstage.Run)
	sprod, err := transport.NewProducer(kcfg, testLog(), nil)
	require.NoError(t, err)
	defer sprod.Close()
	sstage := scoring.NewStage(scoring.StageConfig{Scorer: scoring.NewScorer(art, scoring.Config{}, testLog(), nil),
		Producer: sprod, DeadLetter: deadLetter}, testLog(), nil)
	runStage("lab-score", features.Topic, sstage, sstage.Run)
	anomalies := consume(stages, t, kcfg, "lab-anomalies", anomaly.Topic)

	eprod, err := transport.NewProducer(kcfg, testLog(), nil)
	require.NoError(t, err)
	defer eprod.Close()
	pub, err := collectors.NewPublisher(eprod, collectors.PublisherConfig{}, testLog(), nil)
	require.NoError(t, err)
	plan := detectionPlan()
	// The same events are also featurized and scored in-process, as the
	// reference the Kafka pipeline is compared with.
	ref := &refPipeline{fz: features.New(labFeaturizer()),
		sc: scoring.NewScorer(art, scoring.Config{}, nil, nil), art: art}
	// The live collector sees every VM on this host (other tests may run
	// QEMU guests at the same time): the reference keeps the plan's VMs
	// only, as the plan source does for the Kafka path.
	ours := map[string]bool{}
	planVM := map[string]lab.PlanVM{}
	for _, v := range plan.VMs {
		ours[v.Name] = true
		planVM[v.Name] = v
	}
	src := lab.NewPlanSource(plan, &teeCollector{Collector: newKVMCollector(t), fn: ref.add, keep: ours}, lab.CaptureConfig{})
	require.NoError(t, pub.Run(ctx, src))
	ref.flush()
	featMsgs := consume(stages, t, kcfg, "lab-features-count", features.Topic)
	res := src.Result()
	// Drain: the last windows close after window + lateness, then are scored.
	time.Sleep(5 * time.Second)
	stopStages()
	wg.Wait()
	require.Empty(t, dlq, "no message may go to the dead-letter handler")

	// 3. Incidents against the plan's labels.
	var recs []anomaly.Record
	for _, m := range anomalies.snapshot() {
		var r anomaly.Record
		require.NoError(t, json.Unmarshal(m.Value, &r))
		recs = append(recs, r)
	}
	incidents := training.IncidentsFromRecords(recs)
	refIncidents := training.IncidentsFromRecords(ref.recs)
	t.Logf("kafka path: %d feature messages, %d anomaly records, %d incidents; in-process reference: %d events, %d rows, %d incidents",
		len(featMsgs.snapshot()), len(recs), len(incidents), ref.events, ref.rows, len(refIncidents))
	require.NoError(t, ref.err)
	ids := func(incs []training.Incident) []string {
		out := make([]string, len(incs))
		for i, inc := range incs {
			out[i] = inc.VMID + "/" + inc.ID
		}
		sort.Strings(out)
		return out
	}
	require.Equal(t, ids(refIncidents), ids(incidents), "the Kafka pipeline must raise the incidents the in-process featurizer and scorer raise")
	var scenarios []training.Scenario
	for _, l := range res.Labels {
		scenarios = append(scenarios, training.Scenario(l))
	}
	require.Len(t, scenarios, len(floodAttacks)+len(qemuFloodAttacks), "every attack window must have run")
	vmHours := float64(len(plan.VMs)) * res.End.Sub(res.Start).Hours()
	rep := training.Evaluate(training.EvalInput{Scenarios: scenarios, Incidents: incidents, Window: time.Second, VMDays: vmHours / 24})
	// Margins: the highest ensemble score of each benign VM, and of each
	// attack's first DetectionWindows windows, against the threshold.
	th := art.Manifest.Calibration.Alert.Threshold
	for _, s := range rep.Scenarios {
		peak := 0.0
		for _, w := range ref.scores[s.Scenario.VMID] {
			if !w.start.Before(s.Scenario.Start.Add(-time.Second)) && w.start.Before(s.Scenario.Start.Add(training.DetectionWindows*time.Second)) {
				peak = max(peak, w.e)
			}
		}
		t.Logf("%-28s on %-36s detected=%v delay=%s peak score %.2f in its first %d windows (threshold %.2f)", s.Scenario.Name, s.Scenario.VMID,
			s.Detected, s.Delay.Round(time.Millisecond), peak, training.DetectionWindows, th)
	}
	for _, v := range plan.VMs {
		if len(v.Windows) > 0 {
			continue
		}
		peak, gracePeak := 0.0, 0.0
		for i, w := range ref.scores[v.Name] {
			if i < labGraceWindows {
				gracePeak = max(gracePeak, w.e)
			} else {
				peak = max(peak, w.e)
			}
		}
		t.Logf("benign %-30s %4d windows, peak score %.2f (threshold %.2f; %.2f in its first %d windows, the grace)",
			v.Name, len(ref.scores[v.Name]), peak, th, gracePeak, labGraceWindows)
	}
	byVM := map[string][]training.Incident{}
	for _, inc := range incidents {
		byVM[inc.VMID] = append(byVM[inc.VMID], inc)
	}
	vms := make([]string, 0, len(byVM))
	for vm := range byVM {
		vms = append(vms, vm)
	}
	sort.Strings(vms)
	for _, vm := range vms {
		for _, inc := range byVM[vm] {
			t.Logf("incident on %s: %s .. %s severity %s", vm, inc.FirstSeen.Format("15:04:05.000"), inc.LastSeen.Format("15:04:05.000"), inc.Severity)
		}
	}
	// The evidence of every incident on a benign VM, to tell a flake's cause.
	for _, r := range recs {
		if v, ok := planVM[r.VM.ID]; ok && len(v.Windows) == 0 && r.Revision == 1 {
			var fs []string
			for _, f := range r.Anomaly.Features {
				fs = append(fs, fmt.Sprintf("%s=%g (baseline %g, z %.1f)", f.Name, f.Observed, f.Baseline, f.Z))
			}
			t.Logf("benign %s window %s: score %.2f, detectors %v, class %q: %s", r.VM.ID, r.Anomaly.Window.Start.Format("15:04:05"),
				r.Anomaly.Score, r.Anomaly.Detectors, r.Anomaly.Class, strings.Join(fs, "; "))
		}
	}
	t.Logf("detected %d of %d flood attacks, mean delay %s; %d false alerts over %.3f VM-hours (%.1f per VM-hour)",
		rep.Detected, rep.Attacks, rep.MeanDelay.Round(time.Millisecond), rep.FalseAlerts, vmHours, float64(rep.FalseAlerts)/vmHours)

	for _, s := range rep.Scenarios {
		require.True(t, s.Detected, "flood attack %s on %s (start %s) must raise an incident within %d windows",
			s.Scenario.Name, s.Scenario.VMID, s.Scenario.Start.Format("15:04:05.000"), training.DetectionWindows)
	}
	for _, v := range plan.VMs {
		if len(v.Windows) == 0 {
			require.Empty(t, byVM[v.Name], "benign VM %s (%s %s%s) must stay quiet", v.Name, v.VMM, v.Workload,
				map[bool]string{true: ", never seen in training"}[v.Workload == unseenWorkload])
		}
	}
}

// teeCollector hands every batch of its collector to fn before emit.
type teeCollector struct {
	collectors.Collector
	fn   func([]events.Event)
	keep map[string]bool // VMs whose events fn gets
}

func (c *teeCollector) Run(ctx context.Context, emit func(context.Context, []events.Event) error) error {
	tee := lab.VMFilter(c.keep, func(_ context.Context, evs []events.Event) error {
		c.fn(evs)
		return nil
	})
	return c.Collector.Run(ctx, func(ctx context.Context, evs []events.Event) error {
		if err := tee(ctx, evs); err != nil {
			return err
		}
		return emit(ctx, evs)
	})
}

// refPipeline featurizes and scores events in-process.
type refPipeline struct {
	fz     *features.Featurizer
	sc     *scoring.Scorer
	art    *models.Artifact // when set, each VM's windows' ensemble scores are kept
	scores map[string][]windowScore
	recs   []anomaly.Record
	events int
	rows   int
	err    error
}

// windowScore is the ensemble score of one window.
type windowScore struct {
	start time.Time
	e     float64
}

func (p *refPipeline) add(evs []events.Event) {
	p.events += len(evs)
	p.fz.Add(evs, p.score)
}

func (p *refPipeline) score(r features.Row) {
	p.rows++
	if p.art != nil {
		if p.scores == nil {
			p.scores = map[string][]windowScore{}
		}
		n := len(p.art.Detectors)
		e := p.art.Combine(p.art.Standardizer.Transform(r.Values, nil), make([]float64, n), make([]float64, n))
		p.scores[r.VMID] = append(p.scores[r.VMID], windowScore{time.Unix(0, r.Start), e})
	}
	out, err := p.sc.Score(r)
	if err != nil && p.err == nil {
		p.err = err
	}
	p.recs = append(p.recs, out...)
}

func (p *refPipeline) flush() {
	p.fz.Flush(p.score)
	p.recs = p.sc.Expire(time.Now().Add(time.Hour), p.recs)
}

// TestLabPlansMatchFiles keeps the plan files docs/lab.md gives for the
// command-line equivalent of TestLabLiveDetection equal to the test's plans.
func TestLabPlansMatchFiles(t *testing.T) {
	for _, tc := range []struct {
		file string
		want lab.Plan
	}{
		{"qemu-train-plan.yaml", trainingPlan()},
		{"qemu-detect-plan.yaml", detectionPlan()},
	} {
		got, err := lab.LoadPlan("../collectors/lab/testdata/" + tc.file)
		require.NoError(t, err)
		require.Equal(t, tc.want, got, "%s must be the test's plan", tc.file)
	}
}

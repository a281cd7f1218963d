package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/events"
)

func TestDeterminismAndChunking(t *testing.T) {
	cfg := Config{Seed: 7, VMs: 5, Duration: 45 * time.Second, Scenarios: 3, Placebos: 1}
	want := collect(t, newFleet(t, cfg))
	require.NotEmpty(t, want)

	again := collect(t, newFleet(t, cfg))
	require.Equal(t, want, again, "same seed, same stream")

	// Odd, unaligned chunks give the same stream.
	f := newFleet(t, cfg)
	r := rand.New(rand.NewPCG(1, 2))
	var chunked []events.Event
	for f.Now() < f.End() {
		until := f.Now() + r.Int64N(int64(700*time.Millisecond))
		require.NoError(t, f.Step(until, func(evs []events.Event) error {
			chunked = append(chunked, evs...)
			return nil
		}))
	}
	require.Equal(t, want, chunked, "chunking must not change the stream")

	cfg.Seed = 8
	other := collect(t, newFleet(t, cfg))
	require.NotEqual(t, want[:100], other[:100], "another seed, another stream")

	// Timestamps increase within each VM and stay inside the run; VMM
	// events carry no vCPU.
	last := map[string]int64{}
	for i, ev := range want {
		if ev.TimeNs <= last[ev.VMID] || ev.TimeNs < DefaultStart.UnixNano() || ev.TimeNs >= f.End()+int64(time.Second) {
			t.Fatalf("event %d of %s at %d: times must increase within a VM and stay in the run", i, ev.VMID, ev.TimeNs)
		}
		last[ev.VMID] = ev.TimeNs
		if ev.Source != events.SourceSim || ev.Host != "sim-host" || ev.Kind.GuestSide() != (ev.VCPU >= 0) {
			t.Fatalf("event %d: %+v: wrong source, host or vCPU", i, ev)
		}
	}
}

func TestOpaqueNames(t *testing.T) {
	f := newFleet(t, Config{Seed: 3, VMs: 40})
	re := regexp.MustCompile(`^vm-[0-9a-f]{8}$`)
	seen := map[string]bool{}
	for _, id := range f.VMIDs() {
		require.Regexp(t, re, id)
		require.False(t, seen[id], "ids are unique")
		seen[id] = true
		for _, p := range Profiles() {
			require.NotContains(t, id, p)
		}
	}
	// Roles are not tied to positions: another seed gives another layout.
	g := newFleet(t, Config{Seed: 4, VMs: 40})
	same := 0
	for i, id := range f.VMIDs() {
		if f.Profile(id) == g.Profile(g.VMIDs()[i]) {
			same++
		}
	}
	require.Less(t, same, 30)
}

func TestScenarioPlacement(t *testing.T) {
	for seed := uint64(0); seed < 20; seed++ {
		cfg := Config{Seed: seed, VMs: 1 + int(seed%7), Duration: 2 * time.Minute, Scenarios: 16, Placebos: 5}
		f := newFleet(t, cfg)
		truth := f.Truth()
		require.Len(t, truth, 21)
		lo, hi := DefaultStart.Add(10*time.Second), DefaultStart.Add(cfg.Duration-15*time.Second)
		classes := map[string]map[string]bool{}
		for _, sc := range truth {
			require.False(t, sc.Start.Before(lo), "scenario %s starts at %v, before %v", sc.ID, sc.Start, lo)
			require.False(t, sc.End.After(hi), "scenario %s ends at %v, after %v", sc.ID, sc.End, hi)
			require.True(t, sc.End.After(sc.Start))
			require.NotEmpty(t, f.Profile(sc.VMID), "scenario on a VM of the fleet")
			require.Equal(t, sc.Intensity == Placebo, sc.Placebo)
			require.Equal(t, sc.Placebo, sc.Class == ClassPlacebo)
			if classes[sc.Class] == nil {
				classes[sc.Class] = map[string]bool{}
			}
			classes[sc.Class][sc.Intensity] = true
		}
		for _, tech := range techniques {
			require.True(t, classes[tech.class][Flood], "class %s as a flood", tech.class)
			require.True(t, classes[tech.class][Stealthy], "class %s stealthily", tech.class)
		}
		var buf bytes.Buffer
		require.NoError(t, f.WriteTruth(&buf))
		var back []Scenario
		require.NoError(t, json.Unmarshal(buf.Bytes(), &back))
		require.Equal(t, truth, back)
	}
	_, err := New(Config{VMs: 2, Duration: 20 * time.Second, Scenarios: 1})
	require.ErrorContains(t, err, "too short")
	_, err = New(Config{VMs: 0})
	require.Error(t, err)
}

func TestProfilesEmitTheirCharacteristicEvents(t *testing.T) {
	f, per, _ := benignFleet(t)
	secs := 12 * 60.0
	seen := map[string]bool{}
	for _, id := range f.VMIDs() {
		s, p := per[id], f.Profile(id)
		seen[p] = true
		rate := float64(s.total) / secs
		require.Greater(t, rate, 100.0, "%s (%s) is too quiet", id, p)
		require.Less(t, rate, 3000.0, "%s (%s) is too busy", id, p)
		switch p {
		case ProfileIdle:
			require.Less(t, rate, 1000.0, "idle VM %s", id)
			require.Greater(t, float64(s.hlt)/float64(s.guest), 0.15, "idle VM %s halts", id)
		case ProfileWeb:
			require.Greater(t, float64(s.net)/secs, 40.0, "web VM %s moves packets", id)
		case ProfileDatabase:
			require.Greater(t, float64(s.ioSubmit)/secs, 10.0, "database VM %s submits I/O", id)
			require.Greater(t, float64(s.fsync)/secs, 2.0, "database VM %s syncs", id)
		case ProfileBatch:
			require.Positive(t, s.pmcAfterBoot, "batch VM %s reads performance counters", id)
		case ProfileReboot:
			require.Positive(t, s.ifup, "reboot-cycling VM %s restarts its VMM", id)
			require.Greater(t, s.setRegs, 1, "reboot-cycling VM %s reboots", id)
		case ProfileInventory:
			require.Positive(t, s.hvNotFoundLate, "inventory VM %s dumps CPUID after boot", id)
		}
	}
	require.Len(t, seen, len(profiles), "every profile is present")
}

var scenarioFixture struct {
	once          sync.Once
	f             *Fleet
	with, without []events.Event
}

// scenarioRuns returns a fleet's events with and without its scenarios.
func scenarioRuns(t *testing.T) (*Fleet, []events.Event, []events.Event) {
	x := &scenarioFixture
	x.once.Do(func() {
		cfg := Config{Seed: 11, VMs: 5, Duration: 4 * time.Minute, Scenarios: 16, Placebos: 5}
		x.f = newFleet(t, cfg)
		x.with = collect(t, x.f)
		cfg.Scenarios, cfg.Placebos = 0, 0
		x.without = collect(t, newFleet(t, cfg))
	})
	require.NotNil(t, x.f, "scenario fixture failed to build")
	return x.f, x.with, x.without
}

// characteristic tells whether an event is the signature of a class.
var characteristic = map[string]func(ev *events.Event) bool{
	ClassDeviceFuzzing: func(ev *events.Event) bool {
		return ev.Kind == events.KindIO && ev.Code == portFDCFIFO && ev.Args[0] == events.DirWrite
	},
	ClassPCIProbing: func(ev *events.Event) bool {
		return (ev.Kind == events.KindIO && ev.Code == portPCIAddr) || (ev.Kind == events.KindMMIO && !Assigned(ev.Code))
	},
	ClassMSRProbing:   func(ev *events.Event) bool { return ev.Kind == events.KindMSR && ev.Args[2] == 1 },
	ClassCPUIDProbing: func(ev *events.Event) bool { return ev.Kind == events.KindCPUID },
	ClassHypercall: func(ev *events.Event) bool {
		return ev.Kind == events.KindHypercall && !KnownHypercall(ev.Code)
	},
	ClassFaultStorm: func(ev *events.Event) bool {
		return ev.Kind == events.KindPageFault && ev.Args[0]&(events.PFWrite|events.PFFetch) != 0
	},
	ClassSideChannel: func(ev *events.Event) bool { return ev.Kind == events.KindMSR && PMCMSR(ev.Code) },
	ClassPostEscape: func(ev *events.Event) bool {
		return ev.Kind == events.KindSyscall || ev.Kind == events.KindProcExec || ev.Kind == events.KindProcFork
	},
}

func TestScenariosEmitTheirCharacteristicEvents(t *testing.T) {
	f, with, without := scenarioRuns(t)
	added := extras(with, without)
	require.NotEmpty(t, added)
	truth := f.Truth()
	onVM := map[string]bool{}
	for _, sc := range truth {
		onVM[sc.VMID] = true
	}
	for _, ev := range added {
		require.True(t, onVM[ev.VMID], "events added on %s, which hosts no scenario", ev.VMID)
	}
	for _, sc := range truth {
		if sc.Placebo {
			continue
		}
		is := characteristic[sc.Class]
		require.NotNil(t, is, sc.Class)
		n := 0
		for i := range added {
			ev := &added[i]
			if ev.VMID == sc.VMID && ev.TimeNs >= sc.Start.UnixNano() && ev.TimeNs < sc.End.UnixNano()+int64(time.Second) && is(ev) {
				n++
			}
		}
		secs := sc.End.Sub(sc.Start).Seconds()
		switch sc.Intensity {
		case Flood:
			require.Greater(t, float64(n)/secs, 20.0, "flood %s (%s) on %s: %d characteristic events in %.0fs", sc.ID, sc.Class, sc.VMID, n, secs)
		case Stealthy:
			require.GreaterOrEqual(t, n, 3, "stealthy %s (%s) on %s", sc.ID, sc.Class, sc.VMID)
			require.Less(t, float64(n)/secs, 60.0, "stealthy %s (%s) is not stealthy", sc.ID, sc.Class)
		}
	}
	// Post-escape activity executes a shell.
	shell := false
	for _, ev := range added {
		if ev.Kind == events.KindProcExec && ev.Detail == shPath {
			shell = true
		}
	}
	require.True(t, shell)
}

func TestAttackPrimitivesAppearInBenignProfiles(t *testing.T) {
	_, with, without := scenarioRuns(t)
	attack := map[string]bool{}
	for _, ev := range extras(with, without) {
		attack[primitive(&ev)] = true
	}
	_, _, benign := benignFleet(t)
	var missing []string
	for p := range attack {
		if !benign[p] {
			missing = append(missing, p)
		}
	}
	require.Empty(t, missing, "attack primitives no benign profile uses: %s", strings.Join(missing, ", "))
	require.Greater(t, len(attack), 20, "the scenarios use a broad set of primitives")
}

func TestCollectorOfflineMatchesStep(t *testing.T) {
	cfg := Config{Seed: 5, VMs: 3, Duration: 3 * time.Second}
	want := collect(t, newFleet(t, cfg))
	var got []events.Event
	c := NewCollector(newFleet(t, cfg), false, nil)
	require.Equal(t, "sim", c.Name())
	require.NoError(t, c.Run(context.Background(), func(_ context.Context, evs []events.Event) error {
		got = append(got, evs...)
		return nil
	}))
	require.Equal(t, want, got)

	boom := errors.New("sink full")
	err := NewCollector(newFleet(t, cfg), false, nil).Run(context.Background(), func(context.Context, []events.Event) error { return boom })
	require.ErrorIs(t, err, boom)

	err = NewCollector(newFleet(t, Config{VMs: 1}), false, nil).Run(context.Background(), func(context.Context, []events.Event) error { return nil })
	require.ErrorContains(t, err, "Duration")
}

func TestCollectorRealtimeFollowsTheClock(t *testing.T) {
	start := time.Now()
	f := newFleet(t, Config{Seed: 5, VMs: 2, Start: start, Duration: 300 * time.Millisecond})
	var n int
	require.NoError(t, NewCollector(f, true, nil).Run(context.Background(), func(_ context.Context, evs []events.Event) error {
		now := time.Now().UnixNano()
		for _, ev := range evs {
			if ev.TimeNs > now {
				return fmt.Errorf("event at %d is ahead of the wall clock %d", ev.TimeNs, now)
			}
		}
		n += len(evs)
		return nil
	}))
	require.Positive(t, n)
	require.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond, "paced, not as fast as possible")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.NoError(t, NewCollector(newFleet(t, Config{VMs: 1, Start: time.Now()}), true, nil).Run(ctx, func(context.Context, []events.Event) error { return nil }))
}

func BenchmarkFleetStep(b *testing.B) {
	f := newFleet(b, Config{Seed: 1, VMs: 100})
	n := 0
	emit := func(evs []events.Event) error { n += len(evs); return nil }
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		require.NoError(b, f.Step(f.Now()+int64(time.Second), emit))
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(n)/float64(b.N)/100, "events/VM-s")
}

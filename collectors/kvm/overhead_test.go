package kvm

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/escapement/escapement/collectors/lab/vmm"
	"github.com/escapement/escapement/events"
)

// envLoopVMM makes the test binary serve as the port-I/O loop VMM of
// TestOverhead (see TestMain).
const envLoopVMM = "ESCAPEMENT_KVM_LOOP_VMM"

// loopVMID is the vm_id the loop VMM announces with "-name guest=...".
const loopVMID = "overhead-loop"

// loopPort is the port the loop guest writes.
const loopPort = 0x80

// loopGuest is an unpaced port-I/O loop in real mode, loaded at 0000:1000:
//
//	top: out 0x80, al   ; E6 80
//	     jmp top        ; EB FC
//
// Every iteration is one I/O exit to the VMM; it never halts, the VMM stops
// it when its run ends.
var loopGuest = []byte{0xE6, loopPort, 0xEB, 0xFC}

func TestMain(m *testing.M) {
	if os.Getenv(envLoopVMM) == "1" {
		os.Exit(loopVMMMain(os.Stdin, os.Stdout))
	}
	os.Exit(m.Run())
}

// loopVMMMain holds one lab VM with loopGuest and, for each "run MS" line on
// in, reboots it, runs it MS milliseconds and answers "WRITES ELAPSED_NS".
// It exits when in closes.
func loopVMMMain(in io.Reader, out io.Writer) int {
	_ = unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGTERM), 0, 0, 0)
	m, err := vmm.New(vmm.Config{Program: loopGuest, TickHz: 100})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer m.Close()
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		ms, err := strconv.Atoi(strings.TrimPrefix(sc.Text(), "run "))
		if err != nil {
			fmt.Fprintf(os.Stderr, "loop VMM: want \"run MS\", got %q\n", sc.Text())
			return 2
		}
		if err := m.Reboot(loopGuest, nil, 100, 0); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(ms)*time.Millisecond)
		start := time.Now()
		err = m.Run(ctx)
		elapsed := time.Since(start)
		cancel()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Fprintf(out, "%d %d\n", m.Counters().UnknownPortWrites, elapsed.Nanoseconds())
	}
	return 0
}

// loopVMM is the parent's handle on the loop VMM process.
type loopVMM struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func startLoopVMM(t *testing.T) *loopVMM {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe)
	cmd.Args = []string{"escapement-loop-vmm", "-name", "guest=" + loopVMID}
	cmd.Env = append(os.Environ(), envLoopVMM+"=1")
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	require.NoError(t, err)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	v := &loopVMM{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	t.Cleanup(func() {
		_ = v.in.Close()
		_ = v.cmd.Wait()
	})
	return v
}

// run runs the guest for d and returns its I/O exits and the time it ran.
func (v *loopVMM) run(t *testing.T, d time.Duration) (uint64, time.Duration) {
	t.Helper()
	_, err := fmt.Fprintf(v.in, "run %d\n", d.Milliseconds())
	require.NoError(t, err)
	require.True(t, v.out.Scan(), "loop VMM stopped (its error is on stderr above)")
	var n uint64
	var ns int64
	_, err = fmt.Sscanf(v.out.Text(), "%d %d", &n, &ns)
	require.NoError(t, err, "loop VMM answered %q", v.out.Text())
	return n, time.Duration(ns)
}

// loopCounter is the collector's emit: it counts the loop guest's port
// writes and emulated instructions, keeping nothing.
type loopCounter struct {
	io, emulated atomic.Uint64
}

func (c *loopCounter) emit(_ context.Context, evs []events.Event) error {
	for i := range evs {
		e := &evs[i]
		if e.VMID != loopVMID {
			continue
		}
		switch {
		case e.Kind == events.KindIO && e.Code == loopPort:
			c.io.Add(1)
		case e.Kind == events.KindEmulation:
			c.emulated.Add(e.Args[0])
		}
	}
	return nil
}

// collectorHits sums the trace records the collector read (every result)
// and those the kernel lost: every tracepoint hit of the VMM.
func collectorHits(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	var n float64
	for _, mf := range mfs {
		switch mf.GetName() {
		case "escapement_kvm_records_total", "escapement_kvm_lost_records_total", "escapement_kvm_lost_emulation_records_total":
			for _, m := range mf.GetMetric() {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return n
}

// cpuTime is this process's user+system CPU time; in the parent of
// TestOverhead that is the collector's.
func cpuTime(t *testing.T) time.Duration {
	t.Helper()
	var ru unix.Rusage
	require.NoError(t, unix.Getrusage(unix.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// onRound is what one measured round with the collector attached saw.
type onRound struct {
	exits   uint64
	ran     time.Duration
	hits    float64       // tracepoint hits the collector read or the kernel lost
	cpu     time.Duration // collector CPU time over the round and its drain
	seenIO  uint64        // loop port writes the collector attributed to the VM
	emulate uint64        // emulated instructions counted for the VM
}

// measureOn starts a collector, lets it find the loop VMM, runs the guest
// for d and returns what the round cost the collector.
func measureOn(t *testing.T, v *loopVMM, d time.Duration) onRound {
	t.Helper()
	const poll = 50 * time.Millisecond
	reg := prometheus.NewRegistry()
	c, err := New(Config{Poll: poll, Rescan: 100 * time.Millisecond, FlushEvery: poll}, nil, reg)
	require.NoError(t, err)
	cnt := &loopCounter{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, cnt.emit) }()
	defer func() {
		cancel()
		require.NoError(t, <-done)
	}()
	// Warm up until the collector attributes the guest's exits to its
	// vm_id: the instance exists, the VMM and its vCPU thread are followed.
	deadline := time.Now().Add(10 * time.Second)
	for cnt.io.Load() == 0 {
		require.True(t, time.Now().Before(deadline), "collector attributed no port 0x80 write to %s within 10 s", loopVMID)
		select {
		case err := <-done:
			t.Fatalf("collector stopped: %v", err)
		default:
		}
		v.run(t, 100*time.Millisecond)
		time.Sleep(3 * poll)
	}
	hits0, cpu0, io0, em0 := collectorHits(t, reg), cpuTime(t), cnt.io.Load(), cnt.emulated.Load()
	exits, ran := v.run(t, d)
	time.Sleep(4 * poll) // drain what the round left in the buffers
	return onRound{
		exits: exits, ran: ran,
		hits: collectorHits(t, reg) - hits0, cpu: cpuTime(t) - cpu0,
		seenIO: cnt.io.Load() - io0, emulate: cnt.emulated.Load() - em0,
	}
}

// TestOverhead measures, in one run, how much the live collector slows an
// unpaced port-I/O loop guest and what it costs per tracepoint hit. The
// guest runs in a child VMM process (this binary re-executed), so the
// collector traces the VMM and not itself. Rounds alternate collector off
// and on; ratios are logged because the machine may be shared.
//
//	go test -run TestOverhead -v ./collectors/kvm/
func TestOverhead(t *testing.T) {
	if testing.Short() {
		t.Skip("overhead test skipped in -short mode (it runs about 9 s)")
	}
	if err := CheckAccess(DefaultTracefs); err != nil {
		t.Skipf("overhead test needs root, /dev/kvm and tracefs: %v", err)
	}
	if err := vmm.Available(); err != nil {
		t.Skipf("overhead test needs read-write /dev/kvm: %v", err)
	}
	const rounds = 3
	const d = time.Second
	v := startLoopVMM(t)
	v.run(t, 100*time.Millisecond) // first run pays page faults and thread start

	var offExits, onExits uint64
	var offRan, onRan time.Duration
	var sum onRound
	for i := range rounds {
		n, ran := v.run(t, d)
		require.NotZero(t, n, "round %d without collector: the loop guest made no I/O exit", i)
		offExits, offRan = offExits+n, offRan+ran
		r := measureOn(t, v, d)
		require.NotZero(t, r.exits, "round %d with collector: the loop guest made no I/O exit", i)
		t.Logf("round %d: off %.0f exits/s, on %.0f exits/s", i, float64(n)/ran.Seconds(), float64(r.exits)/r.ran.Seconds())
		onExits, onRan = onExits+r.exits, onRan+r.ran
		sum.exits += r.exits
		sum.hits += r.hits
		sum.cpu += r.cpu
		sum.seenIO += r.seenIO
		sum.emulate += r.emulate
	}
	offRate := float64(offExits) / offRan.Seconds()
	onRate := float64(onExits) / onRan.Seconds()
	// The collector must have seen the guest's exits: at least 90 % of the
	// port writes the VMM answered (the rest may be lost or cut at round
	// edges, and are counted as lost hits).
	require.GreaterOrEqual(t, float64(sum.seenIO), 0.9*float64(sum.exits),
		"collector attributed %d of %d port writes to %s", sum.seenIO, sum.exits, loopVMID)
	hitsPerExit := sum.hits / float64(sum.exits)
	require.GreaterOrEqual(t, hitsPerExit, 1.0, "fewer tracepoint hits than I/O exits")

	slowdown := offRate / onRate
	// Guest-side (kernel) cost: the extra time each exit took with the
	// collector, spread over that exit's tracepoint hits.
	extraPerExitNs := 1e9/onRate - 1e9/offRate
	kernelPerHitNs := extraPerExitNs / hitsPerExit
	// Collector-side (user) cost: the collector process's CPU time over
	// the hits it read.
	userPerHitNs := float64(sum.cpu.Nanoseconds()) / sum.hits
	t.Logf("loop guest: %.0f I/O exits/s without collector, %.0f with: slowdown x%.3f (%.1f %% fewer exits)",
		offRate, onRate, slowdown, 100*(1-onRate/offRate))
	t.Logf("per I/O exit: %.2f tracepoint hits (%.2f emulated instructions counted), %.0f ns added to the guest",
		hitsPerExit, float64(sum.emulate)/float64(sum.exits), extraPerExitNs)
	t.Logf("cost per tracepoint hit: %.0f ns in the guest's thread (kernel record writing, from the slowdown) + %.0f ns collector CPU (getrusage / hits read) = %.0f ns",
		kernelPerHitNs, userPerHitNs, kernelPerHitNs+userPerHitNs)
}

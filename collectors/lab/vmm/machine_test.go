package vmm

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/escapement/escapement/collectors/lab/guest"
	"github.com/stretchr/testify/require"
)

func needKVM(t *testing.T) {
	t.Helper()
	if err := Available(); err != nil {
		t.Skipf("needs /dev/kvm read-write (root on a KVM host): %v", err)
	}
}

func TestConfigErrorsSayWhatToDo(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no program", Config{}, "give 1.."},
		{"too many vCPUs", Config{VCPUs: 9, Program: []byte{0xF4}}, "use 1..4"},
		{"params too big", Config{Program: []byte{0xF4}, Params: make([]byte, 300)}, "at most 256"},
		{"bad jitter", Config{Program: []byte{0xF4}, Jitter: 2}, "Jitter in [0, 0.9]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// A guest stuck in an instruction the kernel re-emulates forever (VMCALL
// in real mode under PVM) never exits to user space: Run must still stop.
func TestRunStopsAVCPUThatNeverExits(t *testing.T) {
	needKVM(t)
	prog := []byte{0x0F, 0x01, 0xC1, 0xEB, 0xFB} // vmcall; jmp $-3
	m, err := New(Config{Program: prog})
	require.NoError(t, err)
	defer m.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	require.NoError(t, m.Run(ctx))
	require.Less(t, time.Since(start), 2*time.Second)
}

func TestTripleFaultIsAnError(t *testing.T) {
	needKVM(t)
	// A stack in the read-only slot: the #UD frame of UD2 cannot be
	// pushed, nor the #DF after it.
	prog := []byte{
		0xB8, 0x00, 0xC0, // mov ax, 0xC000
		0x8E, 0xD0, // mov ss, ax
		0xBC, 0x00, 0x10, // mov sp, 0x1000
		0x0F, 0x0B, // ud2
	}
	m, err := New(Config{Program: prog})
	require.NoError(t, err)
	defer m.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	require.ErrorContains(t, m.Run(ctx), "triple fault")
}

func TestTwoVCPUsRunThePayloadEach(t *testing.T) {
	needKVM(t)
	prog, err := guest.Program("idle")
	require.NoError(t, err)
	params := []byte{'E', 'L', 'A', 'B', 1, 0, 7, 0}
	m, err := New(Config{VCPUs: 2, Program: prog, Params: params, TickHz: 50})
	require.NoError(t, err)
	defer m.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	require.NoError(t, m.Run(ctx))
	for i := 0; i < 2; i++ {
		r := m.Report(i)
		require.InDelta(t, 20, float64(r.Ticks), 8, "vCPU %d ticks at 50 Hz for 0.4 s", i)
	}
	c := m.Counters()
	require.InDelta(t, 40, float64(c.HLT), 16)
	// Two PIT reads per tick; a vCPU stopped between its reads and its HLT
	// leaves up to two more per vCPU.
	require.GreaterOrEqual(t, c.PITReads, 2*c.HLT)
	require.LessOrEqual(t, c.PITReads, 2*c.HLT+4)

	// Reboot into another payload in the same VM.
	prog, err = guest.Program("console")
	require.NoError(t, err)
	require.NoError(t, m.Reboot(prog, params, 20, 0))
	ctx2, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	require.NoError(t, m.Run(ctx2))
	// Both vCPUs write COM1 at once, so their lines may interleave byte by
	// byte: check the bytes, not a contiguous line.
	out := m.SerialOutput()
	for _, c := range "lab console: service heartbeat" {
		require.GreaterOrEqual(t, strings.Count(out, string(c)), 2, "both vCPUs print %q", c)
	}
	require.Positive(t, m.Counters().SerialBytes)
	require.Zero(t, m.Counters().PITReads, "counters start afresh after a reboot")
}

// Close right after Run must not race with the stop signal of Run's end.
func TestCloseRightAfterRun(t *testing.T) {
	needKVM(t)
	prog, err := guest.Program("idle")
	require.NoError(t, err)
	params := []byte{'E', 'L', 'A', 'B', 1, 0, 7, 0}
	for i := 0; i < 20; i++ {
		m, err := New(Config{Program: prog, Params: params, TickHz: 1000})
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
		require.NoError(t, m.Run(ctx))
		cancel()
		m.Close()
	}
}

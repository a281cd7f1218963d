package kvm

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/events"
)

func TestExitTables(t *testing.T) {
	fm := testFormats(t)
	tab, err := ParseExitTable(fm["kvm_exit"].PrintFmt)
	require.NoError(t, err)
	require.Equal(t, "IO_INSTRUCTION", tab.VMX[30])
	require.Equal(t, "io", tab.SVM[0x7b])
	require.Equal(t, "GP excp", tab.SVM[0x40+13])
	require.Equal(t, "invalid_guest_state", tab.SVM[0xffffffff])
	for _, tc := range []struct {
		isa, reason uint32
		want        events.Kind
	}{
		{ISAVMX, 30, events.KindIO}, {ISASVM, 0x7b, events.KindIO},
		{ISAVMX, 31, events.KindMSR}, {ISAVMX, 32, events.KindMSR}, {ISASVM, 0x7c, events.KindMSR},
		{ISAVMX, 10, events.KindCPUID}, {ISASVM, 0x72, events.KindCPUID},
		{ISAVMX, 12, events.KindHLT}, {ISASVM, 0x78, events.KindHLT},
		{ISAVMX, 18, events.KindHypercall}, {ISASVM, 0x81, events.KindHypercall},
		{ISAVMX, 28, events.KindCR}, {ISASVM, 0x013, events.KindCR},
		{ISAVMX, 29, events.KindDR}, {ISASVM, 0x027, events.KindDR},
		{ISAVMX, 48, events.KindPageFault}, {ISASVM, 0x400, events.KindPageFault},
		{ISAVMX, 49, events.KindMMIO},
		{ISAVMX, 0, events.KindException}, {ISASVM, 0x40 + 14, events.KindException},
		{ISAVMX, 1, events.KindInterrupt}, {ISASVM, 0x60, events.KindInterrupt},
		{ISAVMX, 16, events.KindExitOther}, {ISASVM, 0x6e, events.KindExitOther}, // RDTSC
		{ISAVMX, 9999, events.KindExitOther}, {7, 30, events.KindExitOther},
	} {
		require.Equal(t, tc.want, tab.Kind(tc.isa, tc.reason), "isa %d reason %#x", tc.isa, tc.reason)
	}
}

func TestDecodeFoldsExitWithCompanion(t *testing.T) {
	for _, tc := range []struct {
		name   string
		isa    uint32
		reason uint32
	}{{"vmx", ISAVMX, 30}, {"svm", ISASVM, 0x7b}} {
		t.Run(tc.name, func(t *testing.T) {
			d, fm := testDecoder(t, oneVM())
			exit := record(fm["kvm_exit"], 100, map[string]uint64{"exit_reason": uint64(tc.reason), "isa": uint64(tc.isa), "vcpu_id": 3})
			pio := record(fm["kvm_pio"], 100, map[string]uint64{"rw": 1, "port": 0x3f8, "size": 1, "count": 1, "val": 0x41})
			hlt := record(fm["kvm_exit"], 100, map[string]uint64{"exit_reason": map[uint32]uint64{ISAVMX: 12, ISASVM: 0x78}[tc.isa], "isa": uint64(tc.isa), "vcpu_id": 3})
			rdtsc := record(fm["kvm_exit"], 100, map[string]uint64{"exit_reason": map[uint32]uint64{ISAVMX: 16, ISASVM: 0x6e}[tc.isa], "isa": uint64(tc.isa), "vcpu_id": 3})
			out := d.Page(page(5000, 10, exit, pio, hlt, rdtsc), nil)
			require.Len(t, out, 3)
			require.Equal(t, events.Event{TimeNs: 6020, Host: "host-a", VMID: "vm-1", VCPU: 3, TID: 100, Source: events.SourceTracefs,
				Kind: events.KindIO, Code: 0x3f8, Args: [4]uint64{events.DirWrite, 1, 0x41, 1}}, out[0])
			require.Equal(t, events.KindHLT, out[1].Kind)
			require.Equal(t, int64(6030), out[1].TimeNs)
			require.Equal(t, events.KindExitOther, out[2].Kind)
			require.Equal(t, map[uint32]uint64{ISAVMX: 16, ISASVM: 0x6e}[tc.isa], out[2].Code)
			require.Equal(t, uint64(tc.isa), out[2].Args[0])
			require.Equal(t, uint64(1), d.Stats.Folded)
		})
	}
}

func TestDecodeUnfoldedExitAndHLT(t *testing.T) {
	d, fm := testDecoder(t, oneVM())
	// An MSR exit whose companion never comes becomes exit_other.
	exit := record(fm["kvm_exit"], 100, map[string]uint64{"exit_reason": 31, "isa": ISAVMX})
	uexit := record(fm["kvm_userspace_exit"], 100, map[string]uint64{"reason": kvmExitHLT})
	out := d.Page(page(0, 1, exit, uexit), nil)
	require.Len(t, out, 3)
	require.Equal(t, events.KindExitOther, out[0].Kind)
	require.Equal(t, uint64(31), out[0].Code)
	require.Equal(t, events.KindUserspaceExit, out[1].Kind)
	require.Equal(t, uint64(kvmExitHLT), out[1].Code)
	require.Equal(t, events.KindHLT, out[2].Kind, "a userspace HLT exit is a halt when no kvm_exit HLT preceded it")
	// After an in-kernel HLT exit the userspace exit does not count twice.
	hlt := record(fm["kvm_exit"], 100, map[string]uint64{"exit_reason": 12, "isa": ISAVMX})
	out = d.Page(page(0, 1, hlt, uexit), nil)
	require.Len(t, out, 2)
	require.Equal(t, events.KindHLT, out[0].Kind)
	require.Equal(t, events.KindUserspaceExit, out[1].Kind)
}

func TestDecodeKinds(t *testing.T) {
	d, fm := testDecoder(t, oneVM())
	recs := [][]byte{
		record(fm["kvm_mmio"], 100, map[string]uint64{"type": 2, "len": 4, "gpa": 0xe0000000, "val": 0xcafe}),
		record(fm["kvm_msr"], 100, map[string]uint64{"write": 0, "ecx": 0x1b, "data": 0xfee00900}),
		record(fm["kvm_cpuid"], 100, map[string]uint64{"function": 0x40000000, "index": 0, "rax": 0x40000001, "found": 1}),
		record(fm["kvm_hypercall"], 100, map[string]uint64{"nr": 9, "a0": 1, "a1": 2, "a2": 3, "a3": 4}),
		record(fm["kvm_cr"], 100, map[string]uint64{"rw": 1, "cr": 4, "val": 0x20}),
		record(fm["kvm_page_fault"], 100, map[string]uint64{"vcpu_id": 0, "fault_address": 0x1000, "error_code": 2, "guest_rip": 0x7c00}),
		record(fm["kvm_inj_exception"], 100, map[string]uint64{"exception": 13, "error_code": 0, "reinjected": 1}),
		record(fm["sys_enter"], 101, map[string]uint64{"id": 16}),
		record(fm["sched_process_fork"], 101, map[string]uint64{"parent_pid": 101, "child_pid": 200}),
		record(fm["signal_deliver"], 200, map[string]uint64{"sig": 11}),
		record(fm["signal_deliver"], 200, map[string]uint64{"sig": 17}),
		record(fm["page_fault_user"], 101, map[string]uint64{"address": 0xdead000, "error_code": 6, "ip": 0x400000}),
	}
	out := d.Page(page(0, 1, recs...), nil)
	want := []struct {
		kind events.Kind
		code uint64
		args [4]uint64
		vcpu int32
	}{
		{events.KindMMIO, 0xe0000000, [4]uint64{1, 4, 0xcafe, 0}, 0},
		{events.KindMSR, 0x1b, [4]uint64{0, 0xfee00900, 0, 0}, 0},
		{events.KindCPUID, 0x40000000, [4]uint64{0, 0x40000001, 1, 0}, 0},
		{events.KindHypercall, 9, [4]uint64{1, 2, 3, 4}, 0},
		{events.KindCR, 4, [4]uint64{1, 0x20, 0, 0}, 0},
		{events.KindPageFault, 0x1000, [4]uint64{2, 0x7c00, 0, 0}, 0},
		{events.KindException, 13, [4]uint64{0, 1, 0, 0}, 0},
		{events.KindSyscall, 16, [4]uint64{}, -1},
		{events.KindProcFork, 200, [4]uint64{101, 0, 0, 0}, -1},
		{events.KindSignal, 11, [4]uint64{}, -1},
		{events.KindHostFault, 0xdead000, [4]uint64{6, 0x400000, 0, 0}, -1},
	}
	require.Len(t, out, len(want))
	for i, w := range want {
		require.Equal(t, w.kind, out[i].Kind, "event %d", i)
		require.Equal(t, w.code, out[i].Code, "event %d", i)
		require.Equal(t, w.args, out[i].Args, "event %d", i)
		require.Equal(t, w.vcpu, out[i].VCPU, "event %d", i)
		require.Equal(t, "vm-1", out[i].VMID)
	}
	require.Equal(t, int32(200), out[9].TID, "the forked child is attributed to the VM")
}

func TestDecodeEmulationAndLoss(t *testing.T) {
	d, fm := testDecoder(t, oneVM())
	emu := record(fm["kvm_emulate_insn"], 100, map[string]uint64{"failed": 0})
	bad := record(fm["kvm_emulate_insn"], 100, map[string]uint64{"failed": 1})
	stranger := record(fm["kvm_emulate_insn"], 999, nil)
	pg := page(0, 1, emu, emu, bad, stranger)
	// Flag lost events in the header with a stored count of 7.
	n := int(pg[8]) | int(pg[9])<<8
	pg[8+3] |= 0xc0
	pg[DefaultPageLayout.DataOffset+n] = 7
	out := d.Page(pg, nil)
	require.Empty(t, out)
	out = d.FlushEmulation(out)
	require.Len(t, out, 1)
	require.Equal(t, events.KindEmulation, out[0].Kind)
	require.Equal(t, [4]uint64{3, 1, 0, 0}, out[0].Args)
	require.Equal(t, uint64(7), d.Stats.Lost)
	require.Equal(t, uint64(1), d.Stats.Unattributed)
	require.Empty(t, d.FlushEmulation(nil), "counts restart after a flush")
}

func TestDecodeMalformed(t *testing.T) {
	d, fm := testDecoder(t, oneVM())
	short := record(fm["kvm_pio"], 100, nil)[:12]
	out := d.Page(page(0, 1, short), nil)
	require.Empty(t, out)
	require.Equal(t, uint64(1), d.Stats.Malformed)
	pg := page(0, 1, record(fm["kvm_pio"], 100, nil))
	pg[8], pg[9] = 0xff, 0xff // commit beyond the page
	require.Empty(t, d.Page(pg, nil))
	require.Equal(t, uint64(2), d.Stats.Malformed)
	require.Empty(t, d.Page(pg[:10], nil))
	require.Equal(t, uint64(3), d.Stats.Malformed)
}

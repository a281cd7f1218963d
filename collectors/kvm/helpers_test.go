package kvm

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// testFormats loads the format files saved from a 6.18 kernel.
func testFormats(t testing.TB) map[string]*Format {
	t.Helper()
	out := make(map[string]*Format)
	all := append(append([]tracepoint(nil), Tracepoints...), EmulationTracepoint)
	for _, tp := range all {
		data, err := os.ReadFile(filepath.Join("testdata", "formats", tp.system, tp.name, "format"))
		require.NoError(t, err)
		f, err := ParseFormat(tp.system, data)
		require.NoError(t, err)
		out[tp.name] = f
	}
	return out
}

func testDecoder(t testing.TB, tr *tracker) (*Decoder, map[string]*Format) {
	t.Helper()
	fm := testFormats(t)
	var list []*Format
	for _, f := range fm {
		list = append(list, f)
	}
	d, err := NewDecoder(DefaultPageLayout, list, "host-a", 1000, tr)
	require.NoError(t, err)
	return d, fm
}

// record builds a tracepoint record of f from field values.
func record(f *Format, pid int32, vals map[string]uint64) []byte {
	n := 0
	for _, fl := range f.Fields {
		n = max(n, fl.Offset+fl.Size)
	}
	p := make([]byte, n)
	binary.LittleEndian.PutUint16(p, f.ID)
	binary.LittleEndian.PutUint32(p[4:], uint32(pid))
	for name, v := range vals {
		fl, ok := f.Fields[name]
		if !ok {
			panic("no field " + name)
		}
		switch fl.Size {
		case 1:
			p[fl.Offset] = byte(v)
		case 2:
			binary.LittleEndian.PutUint16(p[fl.Offset:], uint16(v))
		case 4:
			binary.LittleEndian.PutUint32(p[fl.Offset:], uint32(v))
		default:
			binary.LittleEndian.PutUint64(p[fl.Offset:], v)
		}
	}
	return p
}

// page lays records out in a ring-buffer page, delta ns apart, starting at
// ts; large records use the type_len 0 header, every third gap a time extend.
func page(ts uint64, delta uint32, recs ...[]byte) []byte {
	pg := make([]byte, DefaultPageLayout.PageSize)
	binary.LittleEndian.PutUint64(pg, ts)
	off := DefaultPageLayout.DataOffset
	for i, r := range recs {
		if i%3 == 2 { // a time extend carrying the delta, then a zero-delta record
			binary.LittleEndian.PutUint32(pg[off:], rbTypeTimeExt|(delta&(1<<27-1))<<5)
			binary.LittleEndian.PutUint32(pg[off+4:], delta>>27)
			off += 8
			off = putRecord(pg, off, 0, r)
			continue
		}
		off = putRecord(pg, off, delta, r)
	}
	binary.LittleEndian.PutUint64(pg[8:], uint64(off-DefaultPageLayout.DataOffset))
	return pg
}

func putRecord(pg []byte, off int, delta uint32, r []byte) int {
	words := (len(r) + 3) / 4
	if words <= rbTypeDataMax && len(r)%4 == 0 && len(r)%8 != 0 {
		binary.LittleEndian.PutUint32(pg[off:], uint32(words)|delta<<5)
		copy(pg[off+4:], r)
		return off + 4 + words*4
	}
	binary.LittleEndian.PutUint32(pg[off:], delta<<5)
	binary.LittleEndian.PutUint32(pg[off+4:], uint32(len(r)+4))
	copy(pg[off+8:], r)
	return off + 8 + (len(r)+3)&^3
}

// oneVM returns a tracker with tids 100 (vCPU 0) and 101 (VMM main thread)
// in VM "vm-1".
func oneVM() *tracker {
	tr := newTracker("")
	tr.update([]VMM{{PID: 101, VMID: "vm-1", Threads: map[int32]int32{100: 0, 101: -1}}})
	return tr
}

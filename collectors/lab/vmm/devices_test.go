package vmm

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"
)

func out8(b *bus, port uint16, v byte) { b.out(0, port, []byte{v}) }

func in8(b *bus, port uint16) byte {
	d := []byte{0}
	b.in(0, port, d)
	return d[0]
}

func TestFloppyCountsWritesPastTheFIFO(t *testing.T) {
	tests := []struct {
		name                string
		bytes               []byte
		cmds, inval, overfl uint64
	}{
		{"specify then sense", []byte{0x03, 0xDF, 0x02, 0x08}, 2, 0, 0},
		{"invalid command", []byte{0x1F}, 1, 1, 0},
		{"drive specification ends on bit 7", append(append([]byte{0x8E}, make([]byte, 10)...), 0x80), 1, 0, 0},
		{"venom: 600 parameter bytes", append([]byte{0x8E}, make([]byte, 600)...), 1, 0, 600 - fdcFIFOLen},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBus(1, nil)
			for _, v := range tc.bytes {
				out8(b, PortFDCFIFO, v)
			}
			require.Equal(t, uint64(len(tc.bytes)), b.c.FDCFifoWrites)
			require.Equal(t, tc.cmds, b.c.FDCCommands)
			require.Equal(t, tc.inval, b.c.FDCInvalid)
			require.Equal(t, tc.overfl, b.c.FDCOverflows)
		})
	}
	b := newBus(1, nil)
	out8(b, PortFDCFIFO, 0x08) // SENSE INTERRUPT: two result bytes
	require.Equal(t, byte(0xD0), in8(b, PortFDCMSR))
}

func TestPCIFakeBus(t *testing.T) {
	b := newBus(1, nil)
	read := func(bus, dev, fn, reg uint32) uint32 {
		a := make([]byte, 4)
		binary.LittleEndian.PutUint32(a, 0x80000000|bus<<16|dev<<11|fn<<8|reg)
		b.out(0, PortPCIAddr, a)
		d := make([]byte, 4)
		b.in(0, PortPCIData, d)
		return binary.LittleEndian.Uint32(d)
	}
	require.Equal(t, uint32(0x12378086), read(0, 0, 0, 0))
	require.Equal(t, uint32(0x10001AF4), read(0, 2, 0, 0))
	require.Equal(t, uint32(VirtioBase), read(0, 2, 0, 0x10))
	require.Equal(t, uint32(0xFFFFFFFF), read(0, 9, 0, 0))
	require.Equal(t, uint32(0xFFFFFFFF), read(7, 0, 0, 0))
	require.Equal(t, uint64(5), b.c.PCIDataReads)
	require.Equal(t, uint64(2), b.c.PCIAbsentReads)
	require.Equal(t, uint64(4), b.c.PCIDistinctBDFs)
}

func TestIDEReadTransfersWholeSectors(t *testing.T) {
	b := newBus(9, nil)
	out8(b, 0x1F2, 2)
	out8(b, 0x1F3, 5)
	out8(b, PortIDEStatus, 0x20)
	require.Equal(t, byte(0x58), in8(b, PortIDEStatus))
	first := make([]byte, 2)
	b.in(0, PortIDEData, first)
	for i := 1; i < 512; i++ {
		b.in(0, PortIDEData, make([]byte, 2))
	}
	require.Equal(t, uint64(2), b.c.IDESectorsRead)
	require.Equal(t, byte(0x50), in8(b, PortIDEStatus), "DRQ must drop after the last sector")
	// Same seed and LBA, same data.
	b2 := newBus(9, nil)
	out8(b2, 0x1F2, 1)
	out8(b2, 0x1F3, 5)
	out8(b2, PortIDEStatus, 0x20)
	again := make([]byte, 2)
	b2.in(0, PortIDEData, again)
	require.Equal(t, first, again)
}

func TestUnknownPortsAndMMIOAnswerAllOnes(t *testing.T) {
	b := newBus(1, nil)
	d := []byte{0, 0}
	b.in(0, 0x1234, d)
	require.Equal(t, []byte{0xFF, 0xFF}, d)
	b.in(0, 0x1234, d)
	out8(b, 0x80, 1)
	require.Equal(t, uint64(2), b.c.UnknownPortReads)
	require.Equal(t, uint64(1), b.c.UnknownPortWrites)
	require.Equal(t, uint64(2), b.c.DistinctUnknown)

	m := make([]byte, 4)
	b.mmioRead(0xB8000, m)
	require.Equal(t, []byte{0xFF, 0xFF, 0xFF, 0xFF}, m)
	b.mmioWrite(0xC0010, []byte{1})
	b.mmioWrite(0xD1000, []byte{1})
	require.Equal(t, uint64(1), b.c.ROMWrites)
	require.Equal(t, uint64(2), b.c.UnassignedPages)

	b.mmioRead(VirtioBase, m)
	require.Equal(t, uint32(0x74726976), binary.LittleEndian.Uint32(m))
	b.mmioWrite(VirtioBase+0x50, []byte{0, 0, 0, 0})
	require.Equal(t, uint64(1), b.c.VirtioNotifies)
}

func TestControlTriggerCallsHook(t *testing.T) {
	var got []uint16
	b := newBus(1, func(_ int, code uint16) { got = append(got, code) })
	b.out(0, PortControl, []byte{0x01, 0x00})
	b.out(0, PortControl, []byte{0xE5, 0x00})
	require.Equal(t, []uint16{CtlTrigger}, got)
	require.Equal(t, uint64(2), b.c.ControlWrites)
	require.Equal(t, uint64(1), b.c.Triggers)
}

func TestPITCountsDown(t *testing.T) {
	b := newBus(1, nil)
	out8(b, PortPITMode, 0x00)
	lo, hi := in8(b, PortPIT0), in8(b, PortPIT0)
	c1 := uint16(hi)<<8 | uint16(lo)
	require.Equal(t, uint64(2), b.c.PITReads)
	require.NotZero(t, c1)
}

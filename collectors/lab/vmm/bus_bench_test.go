package vmm

import "testing"

// BenchmarkBusOut is the device-model side of an I/O exit (a floppy FIFO
// write, the busiest port of the VENOM flood).
func BenchmarkBusOut(b *testing.B) {
	bus := newBus(1, nil)
	d := []byte{0x42}
	b.ReportAllocs()
	for b.Loop() {
		bus.out(0, PortFDCFIFO, d)
	}
}

// BenchmarkBusMMIORead is the device-model side of an MMIO read exit in
// the unassigned hole.
func BenchmarkBusMMIORead(b *testing.B) {
	bus := newBus(1, nil)
	d := make([]byte, 4)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		bus.mmioRead(0xD0000+uint64(i&0xFFFF), d)
	}
}

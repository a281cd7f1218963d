package vmm

import (
	"encoding/binary"
	"sync"
	"time"
)

// bus routes port I/O and MMIO exits to the device models. One mutex
// serialises the vCPUs' accesses; exits are microseconds apart at most.
type bus struct {
	mu        sync.Mutex
	c         Counters
	onControl func(vcpu int, code uint16)
	start     time.Time

	serial   []byte
	pitLatch uint16
	pitHi    bool // next PIT read returns the high byte
	ide      ide
	fdc      fdc
	pci      pci
	virtio   virtio

	unknownPorts [1 << 16 / 64]uint64 // bitset of unknown ports touched
	mmioPages    map[uint64]struct{}
}

const (
	serialKeep    = 4096
	mmioPagesKeep = 1 << 16
)

func newBus(seed uint64, onControl func(int, uint16)) *bus {
	b := &bus{onControl: onControl, start: time.Now(), mmioPages: map[uint64]struct{}{}}
	b.ide.seed = seed
	b.pci.init()
	return b
}

func (b *bus) count(p *uint64) {
	b.mu.Lock()
	*p++
	b.mu.Unlock()
}

func get(data []byte) uint32 {
	switch len(data) {
	case 1:
		return uint32(data[0])
	case 2:
		return uint32(binary.LittleEndian.Uint16(data))
	default:
		return binary.LittleEndian.Uint32(data)
	}
}

func put(data []byte, v uint32) {
	switch len(data) {
	case 1:
		data[0] = byte(v)
	case 2:
		binary.LittleEndian.PutUint16(data, uint16(v))
	default:
		binary.LittleEndian.PutUint32(data, v)
	}
}

func fill(data []byte) {
	for i := range data {
		data[i] = 0xFF
	}
}

func (b *bus) out(vcpu int, port uint16, data []byte) {
	v := get(data)
	b.mu.Lock()
	trigger := false
	switch {
	case port >= PortCOM1 && port <= PortCOM1+7:
		if port == PortCOM1 {
			b.c.SerialBytes++
			if len(b.serial) >= serialKeep {
				b.serial = append(b.serial[:0], b.serial[serialKeep/2:]...)
			}
			b.serial = append(b.serial, byte(v))
		} else {
			b.c.SerialOther++
		}
	case port >= PortPIT0 && port <= PortPITMode:
		b.c.PITWrites++
		if port == PortPITMode && v&0x30 == 0 { // counter latch command
			b.pitLatch, b.pitHi = b.pitCount(), false
		}
	case port >= PortIDEData && port <= PortIDEStatus || port == PortIDEAlt:
		b.ide.out(&b.c, port, v)
	case port >= PortFDCBase && port <= PortFDCDIR && port != PortIDEAlt:
		b.fdc.out(&b.c, port, v)
	case port == PortPCIAddr && len(data) == 4:
		b.c.PCIAddrWrites++
		b.pci.addr = v
	case port >= PortPCIData && port <= PortPCIData+3:
		b.c.PCIDataWrites++
	case port == PortControl:
		b.c.ControlWrites++
		if v == CtlTrigger {
			b.c.Triggers++
			trigger = true
		}
	case port >= PortBackdoor && port <= PortBackdoor+1:
		b.c.BackdoorCalls++
	default:
		b.unknownPort(port)
		b.c.UnknownPortWrites++
	}
	b.mu.Unlock()
	if trigger && b.onControl != nil {
		b.onControl(vcpu, uint16(v))
	}
}

func (b *bus) in(vcpu int, port uint16, data []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case port == PortCOM1LSR:
		b.c.SerialOther++
		put(data, 0x60) // transmitter empty
	case port >= PortCOM1 && port <= PortCOM1+7:
		b.c.SerialOther++
		put(data, 0)
	case port >= PortPIT0 && port < PortPITMode:
		b.c.PITReads++
		c := b.pitLatch
		if !b.pitHi {
			c = b.pitCount()
			b.pitLatch = c
		}
		if b.pitHi {
			put(data, uint32(c>>8))
		} else {
			put(data, uint32(c&0xFF))
		}
		b.pitHi = !b.pitHi
	case port >= PortIDEData && port <= PortIDEStatus || port == PortIDEAlt:
		put(data, b.ide.in(&b.c, port))
	case port >= PortFDCBase && port <= PortFDCDIR:
		put(data, b.fdc.in(&b.c, port))
	case port == PortPCIAddr && len(data) == 4:
		put(data, b.pci.addr)
	case port >= PortPCIData && port <= PortPCIData+3:
		b.c.PCIDataReads++
		v, present := b.pci.read(&b.c, b.pci.addr, int(port-PortPCIData))
		if !present {
			b.c.PCIAbsentReads++
		}
		put(data, v>>(8*(port-PortPCIData)))
	case port == PortControl:
		put(data, 0x4C45) // "EL"
	case port >= PortBackdoor && port <= PortBackdoor+1:
		b.c.BackdoorCalls++
		fill(data) // no backdoor here: the all-ones of an absent device
	default:
		b.unknownPort(port)
		b.c.UnknownPortReads++
		fill(data)
	}
}

func (b *bus) unknownPort(port uint16) {
	w, bit := port/64, uint64(1)<<(port%64)
	if b.unknownPorts[w]&bit == 0 {
		b.unknownPorts[w] |= bit
		b.c.DistinctUnknown++
	}
}

// pitCount is PIT channel 0 counting down from 65536 at 1.193182 MHz since
// the machine started (mode 2, no reload programming needed).
func (b *bus) pitCount() uint16 {
	ticks := uint64(time.Since(b.start)) * 1193182 / uint64(time.Second)
	return uint16(0xFFFF - ticks%0x10000)
}

func (b *bus) mmioWrite(gpa uint64, data []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case gpa >= VirtioBase && gpa < VirtioBase+VirtioSize:
		b.virtio.write(&b.c, gpa-VirtioBase, get(data))
	case gpa >= ROMBase && gpa < ROMBase+ROMSize:
		b.c.ROMWrites++
	default:
		b.c.UnassignedWrites++
		b.page(gpa)
	}
}

func (b *bus) mmioRead(gpa uint64, data []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case gpa >= VirtioBase && gpa < VirtioBase+VirtioSize:
		put(data, b.virtio.read(&b.c, gpa-VirtioBase))
	default:
		b.c.UnassignedReads++
		b.page(gpa)
		fill(data)
	}
}

func (b *bus) page(gpa uint64) {
	p := gpa >> 12
	if _, ok := b.mmioPages[p]; !ok && len(b.mmioPages) < mmioPagesKeep {
		b.mmioPages[p] = struct{}{}
		b.c.UnassignedPages++
	}
}

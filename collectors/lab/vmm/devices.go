package vmm

import "math/rand/v2"

// ide is one ATA disk behind the legacy primary channel: READ SECTORS
// (0x20), WRITE SECTORS (0x30) and IDENTIFY (0xEC) with PIO data transfer
// through 0x1F0. Sector contents are a function of the seed and the LBA.
type ide struct {
	seed    uint64
	regs    [8]uint8
	buf     [256]uint16
	pos     int  // next word of buf
	left    int  // sectors left in the command
	writing bool // data phase direction
	drq     bool
}

func (d *ide) lba() uint64 {
	return uint64(d.regs[3]) | uint64(d.regs[4])<<8 | uint64(d.regs[5])<<16 | uint64(d.regs[6]&0x0F)<<24
}

func (d *ide) load() {
	r := rand.New(rand.NewPCG(d.seed, d.lba()))
	for i := range d.buf {
		d.buf[i] = uint16(r.Uint32())
	}
	d.pos = 0
}

func (d *ide) out(c *Counters, port uint16, v uint32) {
	switch port {
	case PortIDEData:
		if d.drq && d.writing {
			d.pos++
			d.sectorDone(c)
		}
	case PortIDEStatus:
		c.IDERegAccesses++
		c.IDECommands++
		n := int(d.regs[2])
		if n == 0 {
			n = 256
		}
		switch v & 0xFF {
		case 0x20, 0x21: // READ SECTORS
			d.left, d.writing, d.drq = n, false, true
			d.load()
		case 0x30, 0x31: // WRITE SECTORS
			d.left, d.writing, d.drq, d.pos = n, true, true, 0
		case 0xEC: // IDENTIFY
			d.left, d.writing, d.drq = 1, false, true
			d.load()
			d.buf[0], d.buf[60], d.buf[61] = 0x0040, 0xFFFF, 0x0000 // fixed disk, 65535 sectors
		default:
			d.drq = false
		}
	case PortIDEAlt:
		c.IDERegAccesses++
	default:
		c.IDERegAccesses++
		d.regs[port-PortIDEData] = uint8(v)
	}
}

func (d *ide) in(c *Counters, port uint16) uint32 {
	switch port {
	case PortIDEData:
		if !d.drq || d.writing {
			return 0xFFFF
		}
		w := d.buf[d.pos]
		d.pos++
		d.sectorDone(c)
		return uint32(w)
	case PortIDEStatus, PortIDEAlt:
		c.IDERegAccesses++
		if d.drq {
			return 0x58 // DRDY | DSC | DRQ
		}
		return 0x50 // DRDY | DSC
	default:
		c.IDERegAccesses++
		return uint32(d.regs[port-PortIDEData])
	}
}

// sectorDone finishes a 256-word sector when the data phase reaches its end.
func (d *ide) sectorDone(c *Counters) {
	if d.pos < len(d.buf) {
		return
	}
	if d.writing {
		c.IDESectorsWritten++
	} else {
		c.IDESectorsRead++
	}
	d.left--
	if d.left <= 0 {
		d.drq = false
		return
	}
	lba := d.lba() + 1
	d.regs[3], d.regs[4], d.regs[5] = uint8(lba), uint8(lba>>8), uint8(lba>>16)
	if d.writing {
		d.pos = 0
	} else {
		d.load()
	}
}

// fdc is an 82077-like floppy controller: a command byte, its parameters,
// then result bytes, all through the FIFO at 0x3F5. Its data buffer is 512
// bytes, as in QEMU; writes beyond it within one command are what
// CVE-2015-3456 (VENOM) relied on and are refused and counted here.
type fdc struct {
	cmd     uint8
	want    int // parameter bytes still expected; -1 until a byte with bit 7 (DRIVE SPECIFICATION)
	pos     int // bytes written in this command
	result  int // result bytes left to read
	busy    bool
	dataPos int
}

const fdcFIFOLen = 512

// fdcParams is the parameter count of each command (low 5 bits of the
// command byte, MT/MFM/SK bits masked); -1 means terminated by bit 7.
var fdcParams = map[uint8]int{
	0x03: 2, 0x04: 1, 0x05: 8, 0x06: 8, 0x07: 1, 0x08: 0, 0x0A: 1, 0x0D: 5,
	0x0E: 0, 0x0F: 2, 0x10: 0, 0x12: 1, 0x13: 3, 0x14: 0, 0x18: 1, 0x0C: 8,
}

var fdcResults = map[uint8]int{0x04: 1, 0x05: 7, 0x06: 7, 0x08: 2, 0x0A: 7, 0x0D: 7, 0x0E: 10, 0x10: 1, 0x0C: 7, 0x14: 1}

func (f *fdc) out(c *Counters, port uint16, v uint32) {
	if port != PortFDCFIFO {
		c.FDCOtherAccess++
		if port == PortFDCDOR && v&0x04 == 0 { // reset
			*f = fdc{}
		}
		return
	}
	c.FDCFifoWrites++
	b := uint8(v)
	if !f.busy {
		c.FDCCommands++
		f.busy, f.cmd, f.pos, f.dataPos = true, b, 0, 0
		if b == 0x8E { // DRIVE SPECIFICATION: parameters until one has bit 7
			f.want = -1
			return
		}
		n, ok := fdcParams[b&0x1F]
		if !ok {
			c.FDCInvalid++
			f.busy, f.result = false, 1
			return
		}
		f.want = n
		f.finish()
		return
	}
	f.pos++
	if f.dataPos >= fdcFIFOLen {
		c.FDCOverflows++
	} else {
		f.dataPos++
	}
	if f.want < 0 {
		if b&0x80 != 0 {
			f.want = 0
			f.finish()
		}
		return
	}
	f.want--
	f.finish()
}

func (f *fdc) finish() {
	if f.want != 0 {
		return
	}
	f.busy = false
	f.result = fdcResults[f.cmd&0x1F]
}

func (f *fdc) in(c *Counters, port uint16) uint32 {
	switch port {
	case PortFDCMSR:
		c.FDCOtherAccess++
		switch {
		case f.result > 0:
			return 0xD0 // RQM | DIO | CB: result bytes waiting
		case f.busy:
			return 0x90 // RQM | CB
		}
		return 0x80 // RQM
	case PortFDCFIFO:
		c.FDCOtherAccess++
		if f.result > 0 {
			f.result--
			return 0x00
		}
		return 0x80 // invalid command status
	case PortFDCDIR:
		c.FDCOtherAccess++
		return 0x00
	}
	c.FDCOtherAccess++
	return 0xFF
}

// pci is a configuration-mechanism-1 bus 0 with a few functions.
type pci struct {
	addr  uint32
	funcs map[uint16]*[64]uint32 // bdf -> first 256 bytes of config space
	seen  [1 << 16 / 64]uint64
}

func (p *pci) init() {
	p.funcs = map[uint16]*[64]uint32{}
	add := func(dev, fn uint16, id, class uint32, header uint32, bar0 uint32) {
		var cs [64]uint32
		cs[0] = id
		cs[1] = 0x02000003 // status: caps list; command: io+mem
		cs[2] = class<<8 | 0x01
		cs[3] = header << 16
		cs[4] = bar0
		cs[11] = id // subsystem
		p.funcs[dev<<3|fn] = &cs
	}
	add(0, 0, 0x12378086, 0x060000, 0x00, 0)             // host bridge
	add(1, 0, 0x70008086, 0x060100, 0x80, 0)             // ISA bridge (multifunction)
	add(1, 1, 0x70108086, 0x010180, 0x00, PortIDEData|1) // IDE
	add(2, 0, 0x10001AF4, 0x020000, 0x00, VirtioBase)    // virtio net, BAR0 = the MMIO window
	add(3, 0, 0x10011AF4, 0x010000, 0x00, 0)             // virtio block
}

// read returns the dword of the selected register and whether the function
// exists. Functions off the fake bus read as all ones.
func (p *pci) read(c *Counters, addr uint32, _ int) (uint32, bool) {
	bdf := uint16(addr >> 8)
	if w, bit := bdf/64, uint64(1)<<(bdf%64); p.seen[w]&bit == 0 {
		p.seen[w] |= bit
		c.PCIDistinctBDFs++
	}
	if addr&0x80000000 == 0 {
		return 0xFFFFFFFF, false
	}
	cs, ok := p.funcs[bdf]
	if !ok {
		return 0xFFFFFFFF, false
	}
	return cs[(addr&0xFC)>>2], true
}

// virtio is a virtio-mmio (version 2) network device register file.
type virtio struct {
	regs [VirtioSize / 4]uint32
	isr  uint32
}

func (v *virtio) read(c *Counters, off uint64) uint32 {
	c.VirtioReads++
	switch off &^ 3 {
	case 0x000:
		return 0x74726976 // "virt"
	case 0x004:
		return 2
	case 0x008:
		return 1 // network card
	case 0x00C:
		return 0x554D4551 // "QEMU"
	case 0x034:
		return 256 // QueueNumMax
	case 0x060:
		return v.isr
	}
	return v.regs[off/4]
}

func (v *virtio) write(c *Counters, off uint64, val uint32) {
	c.VirtioWrites++
	switch off &^ 3 {
	case 0x050: // QueueNotify
		c.VirtioNotifies++
		v.isr |= 1
	case 0x064: // InterruptACK
		v.isr &^= val
	default:
		v.regs[off/4] = val
	}
}

package vmm

import (
	"encoding/binary"
	"fmt"
)

// GuestReport is what a payload reports about itself in its per-vCPU
// report block at ReportAddr (see collectors/lab/guest/common.inc).
type GuestReport struct {
	Ops   uint32 `json:"ops"`   // operations done
	Ticks uint32 `json:"ticks"` // bursts done (each ends with HLT)
	GP    uint32 `json:"gp"`    // #GP taken and skipped (e.g. RDMSR of an absent MSR)
	UD    uint32 `json:"ud"`    // #UD taken and skipped (e.g. VMMCALL in real mode)
}

// Report reads the report block of vCPU i from guest memory.
func (m *Machine) Report(i int) GuestReport {
	b := m.mem[ReportAddr+ReportSize*i:]
	return GuestReport{
		Ops: binary.LittleEndian.Uint32(b[0:]), Ticks: binary.LittleEndian.Uint32(b[4:]),
		GP: binary.LittleEndian.Uint32(b[8:]), UD: binary.LittleEndian.Uint32(b[12:]),
	}
}

// Reboot loads another payload into the same VM, as a guest reboot would:
// guest RAM is cleared, the program and parameter block are written, every
// vCPU is put back at 0000:LoadAddr and the device models and their
// counters start afresh. The VM (and so its identity to the host) stays.
// Call it only while Run is not running.
func (m *Machine) Reboot(program, params []byte, tickHz, jitter float64) error {
	if len(program) == 0 || len(program) > MaxProgram {
		return fmt.Errorf("vmm: payload is %d bytes: give 1..%d bytes", len(program), MaxProgram)
	}
	if len(params) > ReportAddr-ParamsAddr {
		return fmt.Errorf("vmm: parameter block is %d bytes: give at most %d", len(params), ReportAddr-ParamsAddr)
	}
	if tickHz <= 0 || jitter < 0 || jitter > 0.9 {
		return fmt.Errorf("vmm: TickHz %v and Jitter %v: TickHz must be positive and Jitter in [0, 0.9]", tickHz, jitter)
	}
	clear(m.mem)
	copy(m.mem[LoadAddr:], program)
	copy(m.mem[ParamsAddr:], params)
	m.cfg.TickHz, m.cfg.Jitter = tickHz, jitter
	m.bus = newBus(m.cfg.Seed, m.cfg.OnControl)
	for _, c := range m.vcpus {
		if err := c.reset(); err != nil {
			return err
		}
	}
	return nil
}

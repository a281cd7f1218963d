package lab

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"

	"github.com/escapement/escapement/collectors/lab/guest"
)

// Parameter block flags (collectors/lab/guest/common.inc).
const flagRandomBurst = 1

// boot is everything the VMM needs to start one phase.
type boot struct {
	program []byte
	params  []byte
	timing  timing
}

// prepare resolves a phase into its payload, parameter block and pacing.
// The seed draws the natural timing of benign workloads and seeds the
// guest's own random stream.
func prepare(ph Phase) (Workload, boot, error) {
	w, err := Lookup(ph.Workload)
	if err != nil {
		return w, boot{}, err
	}
	r := rand.New(rand.NewPCG(ph.Seed, 0x1ab))
	draw := r.Float64
	if ph.Level != nil {
		level := *ph.Level
		draw = func() float64 { return level }
	}
	t, err := w.timingFor(ph.Rate, draw)
	if err != nil {
		return w, boot{}, err
	}
	prog, err := guest.Program(w.Payload)
	if err != nil {
		return w, boot{}, err
	}
	if t.burst == 0 {
		return w, boot{}, fmt.Errorf("lab: workload %s has a zero burst", w.Name)
	}
	p := make([]byte, 16)
	copy(p, "ELAB")
	binary.LittleEndian.PutUint16(p[4:], t.burst)
	binary.LittleEndian.PutUint16(p[6:], uint16(r.Uint32()))
	if t.random {
		binary.LittleEndian.PutUint16(p[8:], flagRandomBurst)
	}
	binary.LittleEndian.PutUint16(p[10:], t.arg)
	return w, boot{program: prog, params: p, timing: t}, nil
}

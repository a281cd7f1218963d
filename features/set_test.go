package features

import "testing"

// TestHistorySurvivesSweep: a sweep of thousands of one-off items must not
// make the items a VM uses every window look novel afterwards.
func TestHistorySurvivesSweep(t *testing.T) {
	var hs history
	everyday := []uint64{0x10, 0x1b, 0xc1, 0xc2, 0x186, 0x6e0, 0x80b, 0x830, 0x174, 0x175, 0x176, 0xc0000080}
	for round := 0; round < 3; round++ {
		for _, x := range everyday {
			hs.seenOrAdd(sMSRs, mix(x))
		}
	}
	for x := uint64(0x40000000); x < 0x40000000+5000; x++ {
		hs.seenOrAdd(sMSRs, mix(x))
	}
	for _, x := range everyday {
		if !hs.seenOrAdd(sMSRs, mix(x)) {
			t.Fatalf("everyday MSR %#x forgotten after a sweep", x)
		}
	}
}

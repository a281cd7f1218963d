package features

import (
	"math"
	"math/bits"
)

// mix is the 64-bit finaliser of MurmurHash3: it spreads small integers
// (ports, MSR indices) over all 64 bits so that buckets and bitmap positions
// can be taken from any bits of the result.
func mix(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// Item streams with their own history set and window distinct counter.
const (
	sPorts = iota
	sMMIOPages
	sMSRs
	sCPUIDLeaves
	sHypercalls
	sSyscalls
	sSyscallNGrams
	sExitNGrams
	numHist // streams above have a history (novelty); those below only a window counter
)

const (
	sPCIAddrs = numHist + iota
	sGPARegions
	numDistinct
)

// histSlots is the size of each stream's history set, in 4-byte fingerprints.
// Each is a multiple of histWays; together they are the
// per-VM history cost (histTotal·4 bytes).
var histSlots = [numHist]int{
	sPorts:         64,
	sMMIOPages:     64,
	sMSRs:          64,
	sCPUIDLeaves:   32,
	sHypercalls:    32,
	sSyscalls:      64,
	sSyscallNGrams: 256,
	sExitNGrams:    128,
}

const (
	histWays  = 4
	histTotal = 64 + 64 + 64 + 32 + 32 + 64 + 256 + 128
)

// histOffset[s] is where stream s starts in a VM's history slab.
var histOffset = func() (off [numHist]int) {
	total := 0
	for s, n := range histSlots {
		off[s] = total
		total += n
	}
	if total != histTotal {
		panic("features: histTotal does not match histSlots")
	}
	return off
}()

// history is a VM's bounded memory of the items it used: for each stream a
// 4-way set-associative table of 31-bit fingerprints, the low bit of each
// entry marking an item seen again since it was stored. When a bucket is full
// a new item replaces an entry that was never seen again (second chance, as
// in the CLOCK page-replacement policy); only when all four were reused are
// their marks cleared and one replaced. So a sweep of one-off items (an MSR or
// port scan) evicts other one-off items, not the VM's everyday ones, and
// cannot make the VM's normal behaviour look novel afterwards. A forgotten
// item that comes back counts as novel again.
type history [histTotal]uint32

// seenOrAdd reports whether item hash h of stream s is in the history and
// adds it if not.
func (hs *history) seenOrAdd(s int, h uint64) bool {
	fp := uint32(h>>32) &^ 1
	if fp == 0 {
		fp = 2
	}
	nb := uint64(histSlots[s] / histWays)
	base := histOffset[s] + int(uint64(uint32(h))*nb>>32)*histWays
	b := (*hs)[base : base+histWays : base+histWays]
	for i := range b {
		switch b[i] &^ 1 {
		case fp:
			b[i] |= 1
			return true
		case 0:
			b[i] = fp
			return false
		}
	}
	start := int(h>>16) & (histWays - 1)
	for k := range histWays {
		if i := (start + k) & (histWays - 1); b[i]&1 == 0 {
			b[i] = fp
			return false
		}
	}
	for i := range b {
		b[i] &^= 1
	}
	b[start] = fp
	return false
}

// counterBits is the size of a window's linear-counting bitmap per stream.
const counterBits = 256

// distinct estimates the number of distinct items of one stream in a window
// by linear counting: each item sets one bit of a 256-bit map chosen by its
// hash, and the estimate is -m·ln(zeros/m). It is exact while no two items
// share a bit (the usual case below a few dozen items), within a few percent
// up to a few hundred, and saturates at m·ln(m) ≈ 1420.
type distinct [counterBits / 64]uint64

func (d *distinct) add(h uint64) {
	i := h >> 56
	d[i>>6] |= 1 << (i & 63)
}

func (d *distinct) estimate() float64 {
	ones := 0
	for _, w := range d {
		ones += bits.OnesCount64(w)
	}
	if ones == 0 {
		return 0
	}
	zeros := counterBits - ones
	if zeros == 0 {
		zeros = 1
	}
	return math.Round(-counterBits * math.Log(float64(zeros)/counterBits))
}

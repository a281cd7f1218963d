package features

import (
	"strconv"

	"github.com/escapement/escapement/events"
)

// Bounds of the items DecodeNGram searches: exit kinds are events.Kind
// values, VMM system calls x86-64 numbers (the highest is below 512).
const (
	maxExitItem    = uint32(events.NumKinds)
	maxSyscallItem = 512
)

// Modular inverses (mod 2^64) of the odd multipliers of NGramHash.
var (
	invFNVPrime = inverse(fnvPrime)
	invMixC1    = inverse(0xff51afd7ed558ccd)
	invMixC2    = inverse(0xc4ceb9fe1a85ec53)
)

// inverse returns the multiplicative inverse of odd a mod 2^64 (Newton's
// iteration doubles the correct low bits each step).
func inverse(a uint64) uint64 {
	x := a // correct to 3 bits for odd a
	for range 5 {
		x *= 2 - a*x
	}
	return x
}

// unmix inverts mix: a right shift by 33 undoes itself under xor.
func unmix(x uint64) uint64 {
	x ^= x >> 33
	x *= invMixC2
	x ^= x >> 33
	x *= invMixC1
	x ^= x >> 33
	return x
}

// DecodeNGram recovers the items of an n-gram from its sketch hash
// (NGramHash) by inverting the hash: the mixer is a bijection and each FNV
// step is invertible, so for every choice of the last n−1 items the first
// one follows, and it is accepted when it is a valid item. Exit n-grams are
// tried for n = 2, 3 and 4, system-call n-grams for n = 2 and 3 (n = 4 would
// take seconds). It returns the stream, the items and whether exactly one
// decoding was found; a hash of another scheme or of out-of-range items
// returns false. Decoding a 3-gram of system calls takes about a
// millisecond, so it is for explanations, not for every window.
func DecodeNGram(hash uint64) (stream uint8, items []uint32, ok bool) {
	stream = uint8(hash & 1)
	limit, maxN := maxExitItem, maxNGramN
	if stream == StreamSyscall {
		limit, maxN = maxSyscallItem, 3
	}
	var found []uint32
	count := 0
	for n := 2; n <= maxN; n++ {
		// The lowest bit of the mixed value was replaced by the stream.
		for low := uint64(0); low < 2; low++ {
			pre := unmix(hash&^1 | low)
			tail := make([]uint32, n-1)
			decode(pre, stream, tail, 0, limit, func(first uint32) {
				count++
				if count == 1 {
					found = append([]uint32{first}, tail...)
				}
			})
		}
	}
	if count != 1 {
		return stream, nil, false
	}
	return stream, found, true
}

// decode enumerates the items of tail from the last backwards: pre is the
// FNV state after all items; undoing the last step for a guessed item gives
// the state before it. When every tail item is guessed, the state left is
// (offset-state ^ first)·prime, which yields the first item directly.
func decode(pre uint64, stream uint8, tail []uint32, depth int, limit uint32, emit func(first uint32)) {
	if depth == len(tail) {
		h0 := (uint64(fnvOffset) ^ uint64(stream)) * fnvPrime
		if first := pre*invFNVPrime ^ h0; first < uint64(limit) {
			emit(uint32(first))
		}
		return
	}
	before := pre * invFNVPrime
	k := len(tail) - 1 - depth
	for it := range limit {
		tail[k] = it
		decode(before^uint64(it), stream, tail, depth+1, limit, emit)
	}
}

// ItemName names an n-gram item: the exit kind, or the x86-64 system call
// (its number when the table has no name).
func ItemName(stream uint8, item uint32) string {
	if stream == StreamExit {
		return events.Kind(item).String()
	}
	if int(item) < len(syscallNames) && syscallNames[item] != "" {
		return syscallNames[item]
	}
	return "syscall_" + strconv.Itoa(int(item))
}

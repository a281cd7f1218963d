package features

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/events"
)

func TestDecodeNGramInvertsTheHash(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 40 {
		for _, tc := range []struct {
			stream uint8
			limit  uint32
			maxN   int
		}{{StreamExit, uint32(events.NumKinds), 4}, {StreamSyscall, maxSyscallItem, 3}} {
			n := 2 + r.IntN(tc.maxN-1)
			items := make([]uint32, n)
			for i := range items {
				items[i] = r.Uint32N(tc.limit)
			}
			stream, got, ok := DecodeNGram(NGramHash(tc.stream, items...))
			require.True(t, ok, "stream %d items %v", tc.stream, items)
			require.Equal(t, tc.stream, stream)
			require.Equal(t, items, got)
		}
	}
	// Out of range items and foreign hashes do not decode.
	_, _, ok := DecodeNGram(NGramHash(StreamSyscall, 600, 1, 2))
	require.False(t, ok)
	_, _, ok = DecodeNGram(0x0123456789abcdef &^ 1)
	require.False(t, ok)
}

func TestItemName(t *testing.T) {
	require.Equal(t, "mmio", ItemName(StreamExit, uint32(events.KindMMIO)))
	require.Equal(t, "ioctl", ItemName(StreamSyscall, 16))
	require.Equal(t, "syscall_1000", ItemName(StreamSyscall, 1000))
}

func BenchmarkDecodeSyscallTrigram(b *testing.B) {
	h := NGramHash(StreamSyscall, 16, 232, 0)
	for b.Loop() {
		DecodeNGram(h)
	}
}

package events

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func sampleEvents(n int, seed uint64) []Event {
	r := rand.New(rand.NewPCG(seed, 1))
	evs := make([]Event, n)
	for i := range evs {
		evs[i] = Event{
			TimeNs: 1_700_000_000_000_000_000 + int64(i)*1000,
			Host:   "host-a",
			VMID:   "vm-0001",
			VCPU:   int32(r.IntN(4)),
			TID:    int32(1000 + r.IntN(8)),
			Source: SourceSim,
			Kind:   Kind(1 + r.IntN(int(NumKinds)-1)),
			Code:   r.Uint64(),
			Args:   [NumArgs]uint64{r.Uint64(), 1, 2, 3},
		}
		if i%17 == 0 {
			evs[i].Detail = "/bin/sh"
		}
	}
	return evs
}

func TestRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 1000} {
		evs := sampleEvents(n, uint64(n))
		data, err := NewEncoder().Encode(evs)
		require.NoError(t, err)
		got, err := Decode(data, nil)
		require.NoError(t, err)
		if n == 0 {
			require.Empty(t, got)
			continue
		}
		require.Equal(t, evs, got)
	}
}

func TestEncoderReuse(t *testing.T) {
	enc := NewEncoder()
	a, b := sampleEvents(10, 1), sampleEvents(20, 2)
	da, err := enc.Encode(a)
	require.NoError(t, err)
	db, err := enc.Encode(b)
	require.NoError(t, err)
	ga, err := Decode(da, nil)
	require.NoError(t, err)
	gb, err := Decode(db, nil)
	require.NoError(t, err)
	require.Equal(t, a, ga)
	require.Equal(t, b, gb)
}

func TestDecodeGarbage(t *testing.T) {
	for _, in := range [][]byte{nil, []byte("not arrow"), {0xff, 0xff, 0xff, 0xff, 8, 0, 0, 0, 1, 2, 3}} {
		_, err := Decode(in, nil)
		require.Error(t, err)
	}
	data, err := NewEncoder().Encode(sampleEvents(5, 3))
	require.NoError(t, err)
	_, err = Decode(data[:len(data)/2], nil)
	require.Error(t, err)
}

func TestKindNames(t *testing.T) {
	for k := Kind(0); k < NumKinds; k++ {
		p, err := ParseKind(k.String())
		require.NoError(t, err)
		require.Equal(t, k, p)
	}
	require.Len(t, kindNames, int(NumKinds))
	require.Len(t, sourceNames, int(numSources))
	_, err := ParseKind("bogus")
	require.Error(t, err)
}

func FuzzDecode(f *testing.F) {
	data, _ := NewEncoder().Encode(sampleEvents(3, 9))
	f.Add(data)
	f.Add([]byte("x"))
	f.Fuzz(func(t *testing.T, in []byte) {
		_, _ = Decode(in, nil) // must not panic
	})
}

func BenchmarkEncode(b *testing.B) {
	evs := sampleEvents(4096, 1)
	enc := NewEncoder()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := enc.Encode(evs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(evs))/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkDecode(b *testing.B) {
	evs := sampleEvents(4096, 1)
	data, _ := NewEncoder().Encode(evs)
	dst := make([]Event, 0, len(evs))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var err error
		if dst, err = Decode(data, dst[:0]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(evs))/b.Elapsed().Seconds(), "events/s")
}

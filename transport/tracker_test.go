package transport

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTrackerCommittable(t *testing.T) {
	// Each step: "a" adds the next offset (released at once unless hold),
	// "r" releases the delivery added at step ref, "t" retains it.
	type step struct {
		op     byte
		offset int64 // for "a"
		hold   bool  // for "a": keep the group's reference
		ref    int   // for "r"/"t": index of the "a" step
	}
	tests := []struct {
		name   string
		steps  []step
		want   int64
		wantOK bool
	}{
		{name: "nothing handled", wantOK: false},
		{name: "all released", steps: []step{{op: 'a', offset: 5}, {op: 'a', offset: 6}, {op: 'a', offset: 7}}, want: 8, wantOK: true},
		{name: "oldest held", steps: []step{{op: 'a', offset: 5, hold: true}, {op: 'a', offset: 6}, {op: 'a', offset: 7}}, want: 5, wantOK: true},
		{name: "middle held", steps: []step{{op: 'a', offset: 5}, {op: 'a', offset: 6, hold: true}, {op: 'a', offset: 7}}, want: 6, wantOK: true},
		{name: "held then released", steps: []step{{op: 'a', offset: 5, hold: true}, {op: 'a', offset: 6}, {op: 'r', ref: 0}}, want: 7, wantOK: true},
		{name: "release out of order", steps: []step{
			{op: 'a', offset: 1, hold: true}, {op: 'a', offset: 2, hold: true}, {op: 'a', offset: 3, hold: true},
			{op: 'r', ref: 1}, {op: 'r', ref: 2},
		}, want: 1, wantOK: true},
		{name: "gaps in offsets", steps: []step{{op: 'a', offset: 10}, {op: 'a', offset: 20, hold: true}, {op: 'a', offset: 30}}, want: 20, wantOK: true},
		{name: "retain twice needs two releases", steps: []step{
			{op: 'a', offset: 0, hold: true}, {op: 't', ref: 0}, {op: 't', ref: 0},
			{op: 'r', ref: 0}, {op: 'r', ref: 0}, {op: 'a', offset: 1},
		}, want: 0, wantOK: true},
		{name: "retain twice released twice", steps: []step{
			{op: 'a', offset: 0, hold: true}, {op: 't', ref: 0}, {op: 'r', ref: 0}, {op: 'r', ref: 0}, {op: 'a', offset: 1},
		}, want: 2, wantOK: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTracker()
			var seqs []uint64
			for _, s := range tc.steps {
				switch s.op {
				case 'a':
					seq := tr.add(s.offset)
					seqs = append(seqs, seq)
					if !s.hold {
						tr.release(seq)
					}
				case 'r':
					tr.release(seqs[s.ref])
				case 't':
					tr.retain(seqs[s.ref])
				}
			}
			got, ok := tr.committable()
			require.Equal(t, tc.wantOK, ok)
			if ok {
				require.Equal(t, tc.want, got)
			}
		})
	}
}

func TestTrackerCloseMakesReleaseNoop(t *testing.T) {
	tr := newTracker()
	a := tr.add(0)
	tr.add(1)
	tr.release(1)
	off, ok := tr.close()
	require.True(t, ok)
	require.Equal(t, int64(0), off)
	tr.release(a)
	tr.release(a) // no panic: revoked deliveries are forgotten
	off, _ = tr.committable()
	require.Equal(t, int64(0), off)
}

func TestTrackerMisuse(t *testing.T) {
	tr := newTracker()
	s := tr.add(3)
	tr.release(s)
	require.Panics(t, func() { tr.release(s) }, "double release")
	require.Panics(t, func() { tr.add(3) }, "offset not increasing")
}

func TestTrackerCompacts(t *testing.T) {
	tr := newTracker()
	held := tr.add(0)
	for off := int64(1); off < 10000; off++ {
		tr.release(tr.add(off))
	}
	got, _ := tr.committable()
	require.Equal(t, int64(0), got)
	tr.release(held)
	got, _ = tr.committable()
	require.Equal(t, int64(10000), got)
	require.Zero(t, tr.outstanding())
	require.Empty(t, tr.entries, "released entries are dropped")
	// Steady state: a sliding window of held deliveries keeps the deque short.
	var window []uint64
	for off := int64(10000); off < 20000; off++ {
		window = append(window, tr.add(off))
		if len(window) > 8 {
			tr.release(window[0])
			window = window[1:]
		}
	}
	require.LessOrEqual(t, len(tr.entries), 200)
	got, _ = tr.committable()
	require.Equal(t, int64(20000-8), got)
}

func BenchmarkTracker(b *testing.B) {
	tr := newTracker()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		tr.release(tr.add(int64(i)))
	}
}

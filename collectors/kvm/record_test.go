package kvm

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/events"
)

func TestRecordReplayInspect(t *testing.T) {
	pages, tr := samplePages(t)
	d, _ := testDecoder(t, tr)
	var evs []events.Event
	for _, p := range pages {
		evs = d.Page(p, evs)
	}
	require.NotEmpty(t, evs)
	evs = append(evs, events.Event{TimeNs: evs[0].TimeNs, VMID: "vm-2", Kind: events.KindHLT, VCPU: 1})
	path := filepath.Join(t.TempDir(), "rec.arrow")
	rec, err := NewRecorder(path, PlatformPVM)
	require.NoError(t, err)
	emit := rec.Tee(nil)
	for i := 0; i < len(evs); i += 500 {
		require.NoError(t, emit(context.Background(), evs[i:min(i+500, len(evs))]))
	}
	require.NoError(t, rec.Close())

	var got []events.Event
	r := NewReplay(path, false)
	require.NoError(t, r.Run(context.Background(), func(_ context.Context, b []events.Event) error {
		got = append(got, b...)
		return nil
	}))
	require.Len(t, got, len(evs))
	for i := range evs {
		want := evs[i]
		want.Source = events.SourceReplay
		require.Equal(t, want, got[i])
	}
	p, err := r.Platform()
	require.NoError(t, err)
	require.Equal(t, PlatformPVM, p)

	ins, err := Inspect(path)
	require.NoError(t, err)
	want := map[string]map[string]int{}
	for _, e := range evs {
		if want[e.VMID] == nil {
			want[e.VMID] = map[string]int{}
		}
		want[e.VMID][e.Kind.String()]++
	}
	require.Equal(t, want, ins.VMs)
	js, err := json.Marshal(ins)
	require.NoError(t, err)
	require.Contains(t, string(js), `"vm-2":{"hlt":1}`)
}

func TestReplayRealtimeStopsOnCancel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rec.arrow")
	rec, err := NewRecorder(path, PlatformVMX)
	require.NoError(t, err)
	base := time.Now().UnixNano()
	require.NoError(t, rec.Write([]events.Event{{TimeNs: base, VMID: "a"}}))
	require.NoError(t, rec.Write([]events.Event{{TimeNs: base + int64(time.Hour), VMID: "a"}}))
	require.NoError(t, rec.Close())
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	n := 0
	require.NoError(t, NewReplay(path, true).Run(ctx, func(_ context.Context, b []events.Event) error { n += len(b); return nil }))
	require.Equal(t, 1, n, "the second batch is an hour later in recorded time")
}

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

func TestRecordingWrapsCollector(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src.arrow")
	rec, err := NewRecorder(src, PlatformSVM)
	require.NoError(t, err)
	require.NoError(t, rec.Write([]events.Event{{TimeNs: 1, VMID: "a", Kind: events.KindIO}, {TimeNs: 2, VMID: "b", Kind: events.KindMSR}}))
	require.NoError(t, rec.Close())
	dst := filepath.Join(t.TempDir(), "dst.arrow")
	rec2, err := NewRecorder(dst, PlatformSVM)
	require.NoError(t, err)
	n := 0
	c := Recording(NewReplay(src, false), rec2)
	require.Equal(t, "replay", c.Name())
	require.NoError(t, c.Run(context.Background(), func(_ context.Context, b []events.Event) error { n += len(b); return nil }))
	require.NoError(t, rec2.Close())
	require.Equal(t, 2, n)
	ins, err := Inspect(dst)
	require.NoError(t, err)
	require.Equal(t, PlatformSVM, ins.Platform)
	require.Equal(t, map[string]map[string]int{"a": {"io": 1}, "b": {"msr": 1}}, ins.VMs)
}

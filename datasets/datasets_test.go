package datasets

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/collectors/sim"
	"github.com/escapement/escapement/events"
	"github.com/escapement/escapement/features"
)

func randomEvents(n int, r *rand.Rand) []events.Event {
	evs := make([]events.Event, n)
	for i := range evs {
		ev := events.Event{
			TimeNs: 1_735_689_600_000_000_000 + int64(i)*1000,
			Host:   "host-a",
			VMID:   fmt.Sprintf("vm-%d", r.IntN(5)),
			VCPU:   int32(r.IntN(4)) - 1,
			TID:    r.Int32N(1 << 20),
			Source: events.Source(r.IntN(6)),
			Kind:   events.Kind(r.IntN(int(events.NumKinds))),
			Code:   r.Uint64(),
			Args:   [events.NumArgs]uint64{r.Uint64(), r.Uint64N(8), 0, r.Uint64()},
		}
		if r.IntN(50) == 0 {
			ev.Detail = "/bin/sh"
		}
		evs[i] = ev
	}
	return evs
}

func TestEventsRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		n    int
	}{
		{"empty", 0},
		{"one", 1},
		{"several row groups", RowGroupEvents + 12_345},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, uint64(tt.n)))
			in := randomEvents(tt.n, r)
			path := filepath.Join(t.TempDir(), EventsFile)
			f, err := os.Create(path)
			require.NoError(t, err)
			w, err := NewEventWriter(f)
			require.NoError(t, err)
			for i := 0; i < len(in); i += 10_000 {
				require.NoError(t, w.Write(in[i:min(i+10_000, len(in))]))
			}
			require.Equal(t, int64(tt.n), w.Rows())
			require.NoError(t, w.Close()) // closes f too

			var out []events.Event
			batches := 0
			require.NoError(t, ReadEvents(path, func(evs []events.Event) error {
				batches++
				out = append(out, evs...)
				return nil
			}))
			require.Equal(t, len(in), len(out))
			for i := range in {
				if in[i] != out[i] {
					t.Fatalf("event %d: wrote %+v, read %+v", i, in[i], out[i])
				}
			}
			if tt.n > RowGroupEvents {
				require.Greater(t, batches, 1, "read in batches, not all at once")
			}
		})
	}
}

func randomRows(n int, names []string, r *rand.Rand) []features.Row {
	rows := make([]features.Row, n)
	for i := range rows {
		row := features.Row{
			VMID:   fmt.Sprintf("vm-%d", r.IntN(7)),
			Host:   "host-b",
			Start:  1_735_689_600_000_000_000 + int64(i)*1e9,
			Values: make([]float64, len(names)),
		}
		row.End = row.Start + 1e9
		for j := range row.Values {
			row.Values[j] = r.NormFloat64() * 100
		}
		for k := r.IntN(4); k > 0; k-- {
			row.NGrams = append(row.NGrams, features.NGram{Stream: uint8(r.IntN(2)), Hash: r.Uint64(), Count: r.Uint32N(1000)})
		}
		rows[i] = row
	}
	return rows
}

func TestFeaturesRoundTrip(t *testing.T) {
	names := []string{"exit_io_rate", "msr_fault_rate", "syscall_novelty"}
	r := rand.New(rand.NewPCG(2, 3))
	in := randomRows(RowGroupFeatures+500, names, r)
	path := filepath.Join(t.TempDir(), FeaturesFile)
	f, err := os.Create(path)
	require.NoError(t, err)
	w, err := NewFeatureWriter(f, names)
	require.NoError(t, err)
	for i := 0; i < len(in); i += 1000 {
		require.NoError(t, w.Write(in[i:min(i+1000, len(in))]))
	}
	require.ErrorContains(t, w.Write([]features.Row{{VMID: "vm-x", Values: []float64{1}}}), "3 feature names")
	require.NoError(t, w.Close()) // closes f too

	var out []features.Row
	groups := 0
	require.NoError(t, ReadFeatures(path, func(got []string, rows []features.Row) error {
		require.Equal(t, names, got)
		require.LessOrEqual(t, len(rows), RowGroupFeatures, "one row group at a time")
		groups++
		out = append(out, rows...)
		return nil
	}))
	require.Equal(t, 2, groups)
	require.Len(t, out, len(in))
	for i := range in {
		require.Equal(t, in[i], out[i], "row %d", i)
	}

	// Reading one kind of file as the other fails with a schema error.
	require.Error(t, ReadEvents(path, func([]events.Event) error { return nil }))
}

func TestFeatureSchemaRejectsBadNames(t *testing.T) {
	for _, names := range [][]string{{"a", "a"}, {"vm_id"}, {""}, {"ngrams"}} {
		_, err := FeatureSchema(names)
		require.Error(t, err, "%q", names)
	}
	s, err := FeatureSchema([]string{"x"})
	require.NoError(t, err)
	require.Equal(t, []string{"vm_id", "host", "window_start", "window_end", "x", "ngrams"}, fieldNames(s.Fields()))
}

func fieldNames(fs []arrow.Field) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Name)
	}
	return out
}

func TestLabelsAndManifest(t *testing.T) {
	dir := t.TempDir()
	labels := []Label{{ID: "s000", Name: "venom-floppy-fifo", Class: "device-emulation-fuzzing", Intensity: "flood", VMID: "vm-0000abcd",
		Start: time.Date(2025, 1, 1, 0, 1, 0, 0, time.UTC), End: time.Date(2025, 1, 1, 0, 1, 20, 0, time.UTC)}}
	require.NoError(t, WriteLabels(dir, labels))
	got, err := ReadLabels(dir)
	require.NoError(t, err)
	require.Equal(t, labels, got)

	m := Manifest{Generator: "sim", GeneratorVersion: sim.Version, Seed: 9, VMs: 3, Duration: "1h0m0s", DurationSeconds: 3600}
	require.NoError(t, WriteManifest(dir, m))
	back, err := ReadManifest(dir)
	require.NoError(t, err)
	m.Format = Format
	require.Equal(t, m, back)

	require.NoError(t, os.WriteFile(filepath.Join(dir, ManifestFile), []byte(`{"format":"other"}`), 0o644))
	_, err = ReadManifest(dir)
	require.ErrorContains(t, err, "regenerate")
}

func TestGenerateSim(t *testing.T) {
	dir := t.TempDir()
	cfg := sim.Config{Seed: 4, VMs: 3, Duration: 40 * time.Second, Scenarios: 2, Placebos: 1}
	m, err := GenerateSim(context.Background(), dir, cfg, GenerateOptions{Events: true}, nil)
	require.NoError(t, err)
	require.Positive(t, m.Events)
	require.Positive(t, m.FeatureRows)
	var nrows int64
	require.NoError(t, ReadFeatures(filepath.Join(dir, FeaturesFile), func(names []string, rows []features.Row) error {
		require.Equal(t, features.Names(), names)
		nrows += int64(len(rows))
		return nil
	}))
	require.Equal(t, m.FeatureRows, nrows)

	back, err := ReadManifest(dir)
	require.NoError(t, err)
	require.Equal(t, m, back)
	require.Equal(t, uint64(4), back.Seed)
	require.Equal(t, sim.Version, back.GeneratorVersion)

	var n int64
	require.NoError(t, ReadEvents(filepath.Join(dir, EventsFile), func(evs []events.Event) error {
		n += int64(len(evs))
		return nil
	}))
	require.Equal(t, m.Events, n)

	fleet, err := sim.New(cfg)
	require.NoError(t, err)
	labels, err := ReadLabels(dir)
	require.NoError(t, err)
	require.Len(t, labels, 3)
	for i, s := range fleet.Truth() {
		require.Equal(t, Label(s), labels[i])
	}

	_, err = GenerateSim(context.Background(), t.TempDir(), sim.Config{VMs: 1}, GenerateOptions{}, nil)
	require.ErrorContains(t, err, "Duration")
}

package render

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/anomaly"
)

// TestStreamEvidence checks that the per-VM baseline and n-gram evidence
// reach OCSF and ECS when a record has it, and that records without it
// render as before (the golden files).
func TestStreamEvidence(t *testing.T) {
	r := sample()
	r.Anomaly.VMBaseline = []anomaly.Feature{{Name: "io_floppy_rate", Observed: 2, Baseline: 0, Z: 11}}
	r.Anomaly.NGrams = []anomaly.NGram{{Stream: "syscall", Hash: "00000000000000a3", Count: 1, Surprisal: 12.9}}
	for _, tc := range []struct {
		name string
		m    map[string]any
		path string
	}{
		{"ocsf", asJSON(t, OCSF(r)), "unmapped.escapement"},
		{"ecs", asJSON(t, ECS(r)), "escapement.anomaly"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vb := get(tc.m, tc.path+".vm_baseline").([]any)
			require.Equal(t, "io_floppy_rate", vb[0].(map[string]any)["name"])
			ng := get(tc.m, tc.path+".ngrams").([]any)
			require.Equal(t, "syscall", ng[0].(map[string]any)["stream"])
		})
	}
	plain := asJSON(t, OCSF(sample()))
	require.Nil(t, get(plain, "unmapped.escapement.vm_baseline"))
	require.Nil(t, get(plain, "unmapped.escapement.ngrams"))
}

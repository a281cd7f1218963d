package scoring

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestGraceWindows checks that a VM's first Manifest.GraceWindows windows
// raise nothing however anomalous, and the next ones are judged as usual.
func TestGraceWindows(t *testing.T) {
	a := *fixture
	a.Manifest.GraceWindows = 2
	tests := []struct {
		name    string
		pattern string
		opens   []int // windows where an incident opens
	}{
		{"anomalous start-up", "CC...", nil},
		{"attack after the grace", "CC.C..", []int{3}},
		{"grace counts scored windows, not time", "C__C.", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := NewScorer(&a, Config{}, nil, nil)
			out, _ := run(t, sc, "vm-grace", tt.pattern, 0)
			var opens []int
			for _, e := range out {
				if e.status == "new" {
					opens = append(opens, e.window)
				}
			}
			require.Equal(t, tt.opens, opens)
		})
	}
	// Without grace the same start-up opens an incident at once.
	out, _ := run(t, NewScorer(fixture, Config{}, nil, nil), "vm-nograce", "CC...", 0)
	require.NotEmpty(t, out)
	require.Equal(t, 0, out[0].window)
}

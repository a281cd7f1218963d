package training

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestFoldIncidents(t *testing.T) {
	const s = int64(time.Second)
	// win builds windows starting at second i, alerting where pattern has '!'
	// ('.' quiet, ' ' missing).
	win := func(pattern string) []AlertWindow {
		var ws []AlertWindow
		for i, c := range pattern {
			if c == ' ' {
				continue
			}
			ws = append(ws, AlertWindow{Start: int64(i) * s, End: int64(i+1) * s, Alert: c == '!'})
		}
		return ws
	}
	type span struct{ first, last int64 } // seconds
	for _, tc := range []struct {
		name    string
		pattern string
		gap     int
		want    []span
	}{
		{"none", "......", 1, nil},
		{"one run", "..!!!..", 1, []span{{2, 5}}},
		{"gap bridged", "!.!", 1, []span{{0, 3}}},
		{"gap too long", "!..!", 1, []span{{0, 1}, {3, 4}}},
		{"gap zero", "!.!", 0, []span{{0, 1}, {2, 3}}},
		{"missing windows count as quiet", "! !", 1, []span{{0, 3}}},
		{"two missing close it", "!  !", 1, []span{{0, 1}, {3, 4}}},
		{"open at the end", "..!", 1, []span{{2, 3}}},
		{"gap two", "!..!...!", 2, []span{{0, 4}, {7, 8}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := FoldIncidents("vm-1", win(tc.pattern), tc.gap)
			var spans []span
			for _, inc := range got {
				require.Equal(t, "vm-1", inc.VMID)
				spans = append(spans, span{inc.FirstSeen.UnixNano() / s, inc.LastSeen.UnixNano() / s})
			}
			require.Equal(t, tc.want, spans)
		})
	}
	// A duplicate (a window starting before the previous end) is ignored,
	// as the scorer ignores it.
	ws := []AlertWindow{{0, s, true}, {0, s, false}, {s, 2 * s, false}, {2 * s, 3 * s, false}}
	got := FoldIncidents("vm", ws, 1)
	require.Len(t, got, 1)
	require.Equal(t, s, got[0].LastSeen.UnixNano())
}

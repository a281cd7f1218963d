package lab

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/events"
)

func TestVMFilter(t *testing.T) {
	keep := map[string]bool{"a": true, "b": true}
	tests := []struct {
		name string
		in   []string
		want []string
		call bool
	}{
		{"all kept", []string{"a", "b", "a"}, []string{"a", "b", "a"}, true},
		{"some kept", []string{"x", "a", "y", "b"}, []string{"a", "b"}, true},
		{"none kept", []string{"x", "y"}, nil, false},
		{"empty", nil, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			called := false
			f := VMFilter(keep, func(_ context.Context, evs []events.Event) error {
				called = true
				for _, e := range evs {
					got = append(got, e.VMID)
				}
				return nil
			})
			evs := make([]events.Event, len(tc.in))
			for i, id := range tc.in {
				evs[i].VMID = id
			}
			require.NoError(t, f(context.Background(), evs))
			require.Equal(t, tc.call, called)
			require.Equal(t, tc.want, got)
		})
	}
}

// failing is a collector that cannot start.
type failing struct{ err error }

func (f failing) Name() string { return "failing" }
func (f failing) Run(context.Context, func(context.Context, []events.Event) error) error {
	return f.err
}

func TestCaptureReportsACollectorThatCannotStart(t *testing.T) {
	p := Plan{Duration: Duration(time.Second), VMs: []PlanVM{{Name: "vm-a", Workload: WIdle}}}
	start := time.Now()
	_, err := Capture(context.Background(), p, failing{errors.New("not root: run as root")}, CaptureConfig{Lead: 5 * time.Second}, nil)
	require.ErrorContains(t, err, "collector failing stopped: not root")
	require.Less(t, time.Since(start), 2*time.Second, "no VMM may start when the collector fails")

	_, err = Capture(context.Background(), Plan{}, failing{}, CaptureConfig{}, nil)
	require.ErrorContains(t, err, "duration must be positive")
}

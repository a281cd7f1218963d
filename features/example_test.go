package features_test

import (
	"fmt"

	"github.com/escapement/escapement/events"
	"github.com/escapement/escapement/features"
)

func ExampleFeaturizer() {
	f := features.New(features.Config{}) // 1 s windows, 2 s lateness
	const t0 = int64(1_700_000_000e9)
	evs := []events.Event{
		{TimeNs: t0, VMID: "vm-1", Host: "kvm-a", TID: 10, Kind: events.KindIO, Code: 0x3F5, Args: [4]uint64{events.DirWrite}},
		{TimeNs: t0 + 1e6, VMID: "vm-1", Host: "kvm-a", TID: 10, Kind: events.KindIO, Code: 0x3F5, Args: [4]uint64{events.DirWrite}},
	}
	print := func(r features.Row) {
		fmt.Println(r.VMID, r.End-r.Start, r.Values[features.Index("io_floppy_fifo_write_rate")])
	}
	f.Add(evs, print)
	f.Advance(t0+3e9, print) // watermark past the window end + lateness
	// Output: vm-1 1000000000 2
}

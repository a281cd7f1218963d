package render_test

import (
	"fmt"
	"time"

	"github.com/escapement/escapement/anomaly"
	"github.com/escapement/escapement/anomaly/render"
)

func ExampleCEF() {
	t := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	r := anomaly.Record{ID: "4f2a", Revision: 1, Status: anomaly.StatusNew, Severity: "critical",
		UpdatedAt: t, FirstSeen: t, LastSeen: t, Title: "PIO storm | port=0x70", Host: "kvm-1",
		VM: anomaly.VM{ID: "vm-9"}, Detector: anomaly.Detector{ID: "ensemble"}}
	fmt.Println(render.CEF(r, "1.0")[:80])
	ocsf := render.OCSF(r)
	fmt.Println(ocsf["class_uid"], ocsf["type_uid"], ocsf["severity_id"])
	// Output:
	// CEF:0|Escapement|Escapement|1.0|ensemble|PIO storm \| port=0x70|10|rt=1772600767
	// 2004 200401 5
}

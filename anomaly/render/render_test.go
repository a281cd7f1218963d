package render

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/anomaly"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the renderers")

func sample() anomaly.Record {
	t0 := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	return anomaly.Record{
		ID: "4f2a9c1d", Revision: 2, Status: anomaly.StatusNew,
		CreatedAt: t0, UpdatedAt: t0.Add(3 * time.Second), FirstSeen: t0.Add(-2 * time.Second), LastSeen: t0.Add(2 * time.Second),
		Severity: "high", RiskScore: 87.5, Confidence: 0.91,
		Title:    `Device emulation storm | port=0x70 \ vm "web-1"` + "\nsecond line",
		Detector: anomaly.Detector{ID: "ensemble", Name: "ensemble", Version: "2026.03.1", Type: "ensemble"},
		Host:     "kvm-07",
		VM:       anomaly.VM{ID: "vm-0042", Name: "web-1", UUID: "0f8fad5b-d9cb-469f-a165-70867728950e", VMM: "qemu", PID: 4242},
		Attack:   []anomaly.Attack{anomaly.EscapeToHost},
		Anomaly: anomaly.Detail{Score: 0.9993, Threshold: 0.999, Windows: 3,
			Window:    anomaly.Window{Start: t0.Add(-2 * time.Second), End: t0.Add(2 * time.Second)},
			Features:  []anomaly.Feature{{Name: "exit_pio_rate", Observed: 5400, Baseline: 12, Z: 41.2}, {Name: "port_novelty", Observed: 0.8, Baseline: 0.01, Z: 9.5}},
			Detectors: []string{"iforest", "ngram"}, Class: "device_emulation"},
		Links: anomaly.Links{Self: "/api/v1/anomalies/4f2a9c1d"},
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./anomaly/render -update to create %s", path)
	require.Equal(t, string(want), string(got), "%s differs; if the change is intended run go test ./anomaly/render -update", path)
}

func asJSON(t *testing.T, v any) map[string]any {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}

func get(m map[string]any, path string) any {
	var v any = m
	for _, k := range strings.Split(path, ".") {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

func TestOCSFGolden(t *testing.T) {
	b, err := json.MarshalIndent(OCSF(sample()), "", "  ")
	require.NoError(t, err)
	golden(t, "ocsf", append(b, '\n'))
}

func TestOCSFFields(t *testing.T) {
	for _, tc := range []struct {
		name             string
		rev              int
		status, severity string
		activity, sevID  int
		statusID         int
	}{
		{"first revision creates", 1, anomaly.StatusNew, "low", 1, 2, 1},
		{"later revision updates", 4, anomaly.StatusInProgress, "critical", 2, 5, 2},
		{"resolved closes", 4, anomaly.StatusResolved, "info", 3, 1, 4},
		{"suppressed", 2, anomaly.StatusSuppressed, "medium", 2, 3, 3},
		{"unknown severity", 2, anomaly.StatusNew, "", 2, 0, 1},
	} {
		r := sample()
		r.Revision, r.Status, r.Severity = tc.rev, tc.status, tc.severity
		m := asJSON(t, OCSF(r))
		require.EqualValues(t, 2004, m["class_uid"], tc.name)
		require.EqualValues(t, 2, m["category_uid"], tc.name)
		require.EqualValues(t, tc.activity, m["activity_id"], tc.name)
		require.EqualValues(t, 200400+tc.activity, m["type_uid"], tc.name)
		require.EqualValues(t, tc.sevID, m["severity_id"], tc.name)
		require.EqualValues(t, tc.statusID, m["status_id"], tc.name)
		require.Equal(t, OCSFVersion, get(m, "metadata.version"))
		require.Equal(t, "Escapement", get(m, "metadata.product.name"))
		require.Equal(t, r.ID, get(m, "finding_info.uid"))
		require.EqualValues(t, 4, get(m, "finding_info.analytic.type_id"))
		require.Equal(t, "Learning (ML/DL)", get(m, "finding_info.analytic.type"))
		require.EqualValues(t, r.FirstSeen.UnixMilli(), get(m, "finding_info.first_seen_time"))
		require.EqualValues(t, r.LastSeen.UnixMilli(), get(m, "finding_info.last_seen_time"))
		att := m["attacks"].([]any)[0].(map[string]any)
		require.Equal(t, "T1611", get(att, "technique.uid"))
		require.Equal(t, "TA0004", get(att, "tactic.uid"))
		res := m["resources"].([]any)[0].(map[string]any)
		require.Equal(t, "vm-0042", res["uid"])
		aa := m["anomaly_analyses"].([]any)[0].(map[string]any)
		require.Len(t, aa["anomalies"], 2)
		require.Len(t, aa["baselines"], 2)
		obs := aa["anomalies"].([]any)[0].(map[string]any)["observations"].([]any)[0].(map[string]any)
		require.IsType(t, "", obs["value"], "OCSF observation.value is a string")
		require.IsType(t, float64(0), m["time"])
	}
	r := sample()
	r.Attack = nil
	m := asJSON(t, OCSF(r))
	require.Equal(t, "T1611", get(m["attacks"].([]any)[0].(map[string]any), "technique.uid"), "a record without attack still names Escape to Host")
}

func TestECSGolden(t *testing.T) {
	b, err := json.MarshalIndent(ECS(sample()), "", "  ")
	require.NoError(t, err)
	golden(t, "ecs", append(b, '\n'))
}

func TestECSFields(t *testing.T) {
	r := sample()
	m := asJSON(t, ECS(r))
	require.Equal(t, ECSVersion, get(m, "ecs.version"))
	require.Equal(t, "alert", get(m, "event.kind"))
	require.Contains(t, get(m, "event.category"), "intrusion_detection")
	require.EqualValues(t, 73, get(m, "event.severity"))
	require.Equal(t, "MITRE ATT&CK", get(m, "threat.framework"))
	require.Equal(t, []any{"T1611"}, get(m, "threat.technique.id"))
	require.Equal(t, []any{"TA0004"}, get(m, "threat.tactic.id"))
	require.Equal(t, "vm-0042", get(m, "host.id"), "host is the VM")
	require.Equal(t, "web-1", get(m, "host.name"))
	require.Equal(t, "kvm-07", get(m, "observer.hostname"), "observer is the hypervisor host")
	ts, err := time.Parse(time.RFC3339Nano, get(m, "@timestamp").(string))
	require.NoError(t, err)
	require.True(t, ts.Equal(r.UpdatedAt))
	r.Status = anomaly.StatusResolved
	require.Equal(t, []any{"end"}, get(asJSON(t, ECS(r)), "event.type"))
}

func TestCEFGolden(t *testing.T) {
	golden(t, "cef", []byte(CEF(sample(), "0.1.0")+"\n"))
}

// splitHeader splits a CEF line on unescaped pipes.
func splitHeader(line string) []string {
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line):
			cur.WriteByte(line[i])
			cur.WriteByte(line[i+1])
			i++
		case line[i] == '|' && len(parts) < 7:
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(line[i])
		}
	}
	return append(parts, cur.String())
}

// parseExt reads key=value pairs, unescaping values.
func parseExt(ext string) map[string]string {
	out := map[string]string{}
	var key string
	var val strings.Builder
	flush := func() {
		if key != "" {
			out[key] = strings.TrimRight(val.String(), " ")
		}
		val.Reset()
	}
	for i := 0; i < len(ext); i++ {
		c := ext[i]
		if c == '\\' && i+1 < len(ext) {
			i++
			switch ext[i] {
			case 'n':
				val.WriteByte('\n')
			case 'r':
				val.WriteByte('\r')
			default:
				val.WriteByte(ext[i])
			}
			continue
		}
		if c == '=' {
			// the key is the last word before '='
			s := val.String()
			j := strings.LastIndexByte(s, ' ')
			val.Reset()
			val.WriteString(s[:max(j, 0)])
			flush()
			key = s[j+1:]
			continue
		}
		val.WriteByte(c)
	}
	flush()
	return out
}

func TestCEFEscaping(t *testing.T) {
	for _, title := range []string{
		"plain",
		`pipe | in title`,
		`back\slash`,
		`equals = sign`,
		"new\nline and\r\nCRLF",
		`\|=\\`,
	} {
		r := sample()
		r.Title = title
		line := CEF(r, "1|2")
		require.NotContains(t, line, "\n", title)
		require.NotContains(t, line, "\r", title)
		h := splitHeader(line)
		require.Len(t, h, 8, "%q: 7 header fields and the extension", title)
		require.Equal(t, "CEF:0", h[0])
		require.Equal(t, `1\|2`, h[3], "version escaped")
		require.Equal(t, "8", h[6], "high is CEF severity 8")
		ext := parseExt(h[7])
		require.Equal(t, strings.ReplaceAll(title, "\r\n", "\n"), ext["msg"], "msg round-trips (CRLF folds to one line break)")
		require.Equal(t, r.ID, ext["externalId"])
		require.Equal(t, "T1611", ext["cs2"])
		require.Equal(t, "mitreTechnique", ext["cs2Label"])
		require.Equal(t, "2", ext["cn1"])
	}
	r := sample()
	for i, sev := range anomaly.Severities {
		r.Severity = sev
		require.Equal(t, []string{"1", "3", "5", "8", "10"}[i], splitHeader(CEF(r, "1"))[6], sev)
	}
}

func FuzzCEFExtensionRoundTrip(f *testing.F) {
	for _, s := range []string{"a", "a=b", `x\y`, "l1\nl2", "trailing\\", "=\\=|"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.ContainsAny(s, "\r") || strings.TrimRight(s, " ") != s || s == "" || s == "/" {
			t.Skip("CR is folded, trailing spaces are trimmed by readers")
		}
		r := sample()
		r.Title = s
		line := CEF(r, "1")
		require.NotContains(t, line, "\n")
		h := splitHeader(line)
		require.Len(t, h, 8)
		require.Equal(t, s, parseExt(h[7])["msg"])
	})
}

package render

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/escapement/escapement/anomaly"
)

// CEF severity (0-10) per Escapement severity band (info..critical).
var cefSeverity = []int{1, 3, 5, 8, 10}

var (
	headerEscaper = strings.NewReplacer(`\`, `\\`, `|`, `\|`, "\r\n", " ", "\n", " ", "\r", " ")
	extEscaper    = strings.NewReplacer(`\`, `\\`, `=`, `\=`, "\r\n", `\n`, "\n", `\n`, "\r", `\r`)
)

// CEF renders r as one CEF:0 line (no syslog header, no trailing newline):
// CEF:0|Escapement|Escapement|productVersion|signature|name|severity|extension.
// The signature id is the detector id; header fields escape | and \,
// extension values escape =, \ and line breaks.
func CEF(r anomaly.Record, productVersion string) string {
	sev := 0
	if i := sevIndex(r); i >= 0 {
		sev = cefSeverity[i]
	}
	sig := r.Detector.ID
	if sig == "" {
		sig = "anomaly"
	}
	at := attacks(r)[0]
	var feats []string
	for i, f := range r.Anomaly.Features {
		if i == 5 {
			break
		}
		feats = append(feats, fmt.Sprintf("%s=%s(baseline %s)", f.Name, num(f.Observed), num(f.Baseline)))
	}
	type kv struct{ k, v, label string } // label: the value of k+"Label" for custom fields
	ext := []kv{
		{"rt", strconv.FormatInt(millis(r.UpdatedAt), 10), ""},
		{"start", strconv.FormatInt(millis(r.FirstSeen), 10), ""},
		{"end", strconv.FormatInt(millis(r.LastSeen), 10), ""},
		{"externalId", r.ID, ""},
		{"msg", r.Title, ""},
		{"cat", at.TacticName + "/" + at.TechniqueName, ""},
		{"dvchost", r.Host, ""},
		{"dhost", vmName(r), ""},
		{"act", r.Status, ""},
		{"cn1", strconv.Itoa(r.Revision), "revision"},
		{"cfp1", num(r.RiskScore), "riskScore"},
		{"cfp2", num(r.Anomaly.Score), "anomalyScore"},
		{"cs1", r.VM.ID, "vmId"},
		{"cs2", at.TechniqueID, "mitreTechnique"},
		{"cs3", at.TacticID, "mitreTactic"},
		{"cs4", strings.TrimSpace(r.Detector.Name + " " + r.Detector.Version), "detector"},
		{"cs5", strings.Join(feats, "; "), "topFeatures"},
		{"cs6", r.Severity, "severity"},
	}
	var b strings.Builder
	fmt.Fprintf(&b, "CEF:0|Escapement|Escapement|%s|%s|%s|%d|",
		headerEscaper.Replace(productVersion), headerEscaper.Replace(sig), headerEscaper.Replace(r.Title), sev)
	first := true
	for _, e := range ext {
		if e.v == "" || e.v == "/" {
			continue
		}
		if !first {
			b.WriteByte(' ')
		}
		first = false
		b.WriteString(e.k)
		b.WriteByte('=')
		b.WriteString(extEscaper.Replace(e.v))
		if e.label != "" {
			b.WriteString(" " + e.k + "Label=" + e.label)
		}
	}
	return b.String()
}

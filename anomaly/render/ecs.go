package render

import (
	"github.com/escapement/escapement/anomaly"
)

// ECSVersion is the Elastic Common Schema version of ECS documents.
const ECSVersion = "8.11.0"

// ECS event.severity per Escapement severity band (info..critical), on the
// 0-100 scale Elastic Security uses for alerts (low 21, medium 47, high 73,
// critical 99).
var ecsSeverity = []int{1, 21, 47, 73, 99}

// ECS renders r as an Elastic Common Schema alert: host is the VM, observer
// the hypervisor host that saw it; Escapement's own fields sit under
// escapement.*.
func ECS(r anomaly.Record) map[string]any {
	sev := 0
	if i := sevIndex(r); i >= 0 {
		sev = ecsSeverity[i]
	}
	var tacticIDs, tacticNames, tacticRefs, techIDs, techNames, techRefs []string
	for _, a := range attacks(r) {
		tacticIDs = append(tacticIDs, a.TacticID)
		tacticNames = append(tacticNames, a.TacticName)
		tacticRefs = append(tacticRefs, "https://attack.mitre.org/tactics/"+a.TacticID+"/")
		techIDs = append(techIDs, a.TechniqueID)
		techNames = append(techNames, a.TechniqueName)
		techRefs = append(techRefs, "https://attack.mitre.org/techniques/"+a.TechniqueID+"/")
	}
	types := []string{"info"}
	if Activity(r) == ActivityClose {
		types = []string{"end"}
	}
	host := map[string]any{"id": r.VM.ID, "name": vmName(r), "type": "virtual_machine"}
	if r.VM.UUID != "" {
		host["uuid"] = r.VM.UUID
	}
	features := make([]any, 0, len(r.Anomaly.Features))
	for _, f := range r.Anomaly.Features {
		features = append(features, map[string]any{"name": f.Name, "observed": f.Observed, "baseline": f.Baseline, "z": f.Z})
	}
	return map[string]any{
		"@timestamp": rfc3339(r.UpdatedAt),
		"message":    r.Title,
		"ecs":        map[string]any{"version": ECSVersion},
		"event": map[string]any{
			"kind":            "alert",
			"category":        []string{"intrusion_detection", "host"},
			"type":            types,
			"id":              r.ID,
			"created":         rfc3339(r.CreatedAt),
			"start":           rfc3339(r.FirstSeen),
			"end":             rfc3339(r.LastSeen),
			"severity":        sev,
			"risk_score":      r.RiskScore,
			"risk_score_norm": r.RiskScore,
			"module":          "escapement",
			"dataset":         "escapement.anomaly",
			"provider":        "escapement",
			"reason":          r.Title,
		},
		"rule": map[string]any{"id": r.Detector.ID, "name": r.Detector.Name, "version": r.Detector.Version, "category": r.Detector.Type},
		"threat": map[string]any{
			"framework": "MITRE ATT&CK",
			"tactic":    map[string]any{"id": tacticIDs, "name": tacticNames, "reference": tacticRefs},
			"technique": map[string]any{"id": techIDs, "name": techNames, "reference": techRefs},
		},
		"host":     host,
		"observer": map[string]any{"hostname": r.Host, "name": r.Host, "type": "hypervisor", "vendor": "Escapement", "product": "Escapement"},
		"escapement": map[string]any{
			"revision":   r.Revision,
			"status":     r.Status,
			"severity":   r.Severity,
			"confidence": r.Confidence,
			"assignee":   r.Assignee,
			"verdict":    r.Verdict,
			"vm":         map[string]any{"vmm": r.VM.VMM, "pid": r.VM.PID},
			"anomaly": streamEvidence(r, map[string]any{
				"score": r.Anomaly.Score, "threshold": r.Anomaly.Threshold, "windows": r.Anomaly.Windows,
				"detectors": r.Anomaly.Detectors, "class": r.Anomaly.Class, "features": features,
			}),
		},
	}
}

// streamEvidence adds the stream detectors' evidence (features above the
// VM's own baseline, unseen n-grams) to m when the record has any.
func streamEvidence(r anomaly.Record, m map[string]any) map[string]any {
	if len(r.Anomaly.VMBaseline) > 0 {
		m["vm_baseline"] = r.Anomaly.VMBaseline
	}
	if len(r.Anomaly.NGrams) > 0 {
		m["ngrams"] = r.Anomaly.NGrams
	}
	return m
}

package render

import (
	"fmt"
	"strconv"

	"github.com/escapement/escapement/anomaly"
)

// OCSF constants of a Detection Finding.
const (
	OCSFVersion     = "1.8.0" // the schema version that has anomaly_analyses
	OCSFClassUID    = 2004
	OCSFCategoryUID = 2
	// OCSFAnalyticLearning is analytic.type_id "Learning (ML/DL)".
	OCSFAnalyticLearning = 4
)

// OCSF severity_id per Escapement severity band (info..critical).
var ocsfSeverity = []struct {
	id   int
	name string
}{{1, "Informational"}, {2, "Low"}, {3, "Medium"}, {4, "High"}, {5, "Critical"}}

// OCSF status_id per Escapement status.
var ocsfStatus = map[string]struct {
	id   int
	name string
}{
	anomaly.StatusNew:        {1, "New"},
	anomaly.StatusInProgress: {2, "In Progress"},
	anomaly.StatusSuppressed: {3, "Suppressed"},
	anomaly.StatusResolved:   {4, "Resolved"},
}

// OCSF renders r as an OCSF Detection Finding (class_uid 2004), a JSON
// object ready to encode.
func OCSF(r anomaly.Record) map[string]any {
	act := Activity(r)
	sevID, sevName := 0, "Unknown"
	if i := sevIndex(r); i >= 0 {
		sevID, sevName = ocsfSeverity[i].id, ocsfSeverity[i].name
	}
	st, ok := ocsfStatus[r.Status]
	if !ok {
		st.id, st.name = 99, r.Status
	}
	var atts []any
	for _, a := range attacks(r) {
		atts = append(atts, map[string]any{
			"tactic":    map[string]any{"uid": a.TacticID, "name": a.TacticName},
			"technique": map[string]any{"uid": a.TechniqueID, "name": a.TechniqueName},
			"version":   "15.1",
		})
	}
	var anomalies, baselines []any
	for _, f := range r.Anomaly.Features {
		anomalies = append(anomalies, map[string]any{
			"observation_parameter": f.Name,
			"observation_type":      "feature",
			"observations":          []any{map[string]any{"value": num(f.Observed)}},
			"observed_pattern":      fmt.Sprintf("z=%s", num(f.Z)),
		})
		baselines = append(baselines, map[string]any{
			"observation_parameter": f.Name,
			"observation_type":      "feature",
			"observations":          []any{map[string]any{"value": num(f.Baseline)}},
		})
	}
	resource := map[string]any{"uid": r.VM.ID, "name": vmName(r), "type": "Virtual Machine", "hostname": r.Host}
	data := map[string]any{}
	for k, v := range map[string]string{"uuid": r.VM.UUID, "vmm": r.VM.VMM} {
		if v != "" {
			data[k] = v
		}
	}
	if r.VM.PID != 0 {
		data["vmm_pid"] = r.VM.PID
	}
	if len(data) > 0 {
		resource["data"] = data
	}
	out := map[string]any{
		"activity_id":      act,
		"activity_name":    activityNames[act],
		"category_uid":     OCSFCategoryUID,
		"category_name":    "Findings",
		"class_uid":        OCSFClassUID,
		"class_name":       "Detection Finding",
		"type_uid":         OCSFClassUID*100 + act,
		"type_name":        "Detection Finding: " + activityNames[act],
		"severity_id":      sevID,
		"severity":         sevName,
		"status_id":        st.id,
		"status":           st.name,
		"time":             millis(r.UpdatedAt),
		"message":          r.Title,
		"confidence_score": int(r.Confidence*100 + 0.5),
		"risk_score":       int(r.RiskScore + 0.5),
		"metadata": map[string]any{
			"version":         OCSFVersion,
			"uid":             r.ID + ":" + strconv.Itoa(r.Revision),
			"correlation_uid": r.ID,
			"product":         map[string]any{"name": "Escapement", "vendor_name": "Escapement"},
			"logged_time":     millis(r.UpdatedAt),
		},
		"finding_info": map[string]any{
			"uid":             r.ID,
			"title":           r.Title,
			"desc":            fmt.Sprintf("VM %s on host %s: score %s over threshold %s across %d windows", vmName(r), r.Host, num(r.Anomaly.Score), num(r.Anomaly.Threshold), r.Anomaly.Windows),
			"created_time":    millis(r.CreatedAt),
			"modified_time":   millis(r.UpdatedAt),
			"first_seen_time": millis(r.FirstSeen),
			"last_seen_time":  millis(r.LastSeen),
			"analytic": map[string]any{
				"type_id": OCSFAnalyticLearning, "type": "Learning (ML/DL)",
				"uid": r.Detector.ID, "name": r.Detector.Name, "version": r.Detector.Version,
			},
		},
		"attacks":   atts,
		"resources": []any{resource},
		"device":    map[string]any{"hostname": r.Host, "type_id": 1, "type": "Server"},
		"anomaly_analyses": []any{map[string]any{
			"analysis_targets": []any{map[string]any{"name": r.VM.ID, "type": "Virtual Machine"}},
			"anomalies":        anomalies,
			"baselines":        baselines,
		}},
		"unmapped": map[string]any{"escapement": streamEvidence(r, map[string]any{
			"revision": r.Revision, "score": r.Anomaly.Score, "threshold": r.Anomaly.Threshold,
			"detectors": r.Anomaly.Detectors, "class": r.Anomaly.Class, "assignee": r.Assignee, "verdict": r.Verdict,
		})},
	}
	return out
}

// num formats a float compactly for string-typed OCSF fields.
func num(f float64) string { return strconv.FormatFloat(f, 'g', 6, 64) }

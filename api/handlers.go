package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/escapement/escapement/anomaly"
	"github.com/escapement/escapement/anomaly/render"
)

// ListResponse is the body of GET /api/v1/anomalies; Data holds canonical
// records, OCSF findings or ECS documents as format asks.
type ListResponse struct {
	Data       []any  `json:"data"`
	NextCursor string `json:"next_cursor,omitempty"`
	HasMore    bool   `json:"has_more"`
}

var techniqueRE = regexp.MustCompile(`^T[0-9]{4}(\.[0-9]{3})?$`)

// Formats of anomalies in responses.
const (
	FormatCanonical = "canonical"
	FormatOCSF      = "ocsf"
	FormatECS       = "ecs"
)

func parseFormat(v url.Values) (string, error) {
	switch f := v.Get("format"); f {
	case "", FormatCanonical:
		return FormatCanonical, nil
	case FormatOCSF, FormatECS:
		return f, nil
	default:
		return "", fmt.Errorf("format=%q: want canonical, ocsf or ecs", f)
	}
}

// canonical is the canonical record as the API shows it: with the
// suppression rule that matched the revision, if any.
type canonical struct {
	anomaly.Record
	SuppressedBy string `json:"suppressed_by,omitempty"`
}

func renderAs(format string, a Anomaly) any {
	switch format {
	case FormatOCSF:
		return render.OCSF(a.Record)
	case FormatECS:
		return render.ECS(a.Record)
	}
	return canonical{a.Record, a.SuppressedBy}
}

func parseTime(v url.Values, name string, dst *time.Time) error {
	if s := v.Get(name); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return fmt.Errorf("%s=%q: want an RFC 3339 time such as 2026-01-02T15:04:05Z", name, s)
		}
		*dst = t
	}
	return nil
}

func parseLimit(v url.Values, def, max int) (int, error) {
	s := v.Get("limit")
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > max {
		return 0, fmt.Errorf("limit=%q: want an integer from 1 to %d", s, max)
	}
	return n, nil
}

func parseQuery(v url.Values) (Query, error) {
	var q Query
	for _, name := range []string{"since", "until", "updated_since"} {
		dst := map[string]*time.Time{"since": &q.Since, "until": &q.Until, "updated_since": &q.UpdatedSince}[name]
		if err := parseTime(v, name, dst); err != nil {
			return q, err
		}
	}
	if s := v.Get("severity_min"); s != "" {
		if anomaly.SeverityRank(s) < 0 {
			return q, fmt.Errorf("severity_min=%q: want one of %s", s, strings.Join(anomaly.Severities, ", "))
		}
		q.SeverityMin = s
	}
	if s := v.Get("status"); s != "" {
		if !anomaly.ValidStatus(s) {
			return q, fmt.Errorf("status=%q: want new, in_progress, suppressed or resolved", s)
		}
		q.Status = s
	}
	if s := v.Get("technique"); s != "" {
		if !techniqueRE.MatchString(s) {
			return q, fmt.Errorf("technique=%q: want an ATT&CK technique id such as T1611 or T1611.001", s)
		}
		q.Technique = s
	}
	q.Host, q.VM, q.Detector = v.Get("host"), v.Get("vm"), v.Get("detector")
	switch s := v.Get("revisions"); s {
	case "", "latest":
	case "all":
		q.Revisions = true
	default:
		return q, fmt.Errorf("revisions=%q: want latest (the newest revision of each anomaly) or all (every stored revision)", s)
	}
	var err error
	if q.Limit, err = parseLimit(v, DefaultLimit, MaxLimit); err != nil {
		return q, err
	}
	if s := v.Get("cursor"); s != "" {
		c, err := decodeCursor(s)
		if err != nil {
			return q, fmt.Errorf("cursor: %w; pass next_cursor from a previous page unchanged", err)
		}
		q.After = c
	}
	return q, nil
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	q, err := parseQuery(v)
	if err != nil {
		problem(w, http.StatusBadRequest, "invalid query", err.Error())
		return
	}
	format, err := parseFormat(v)
	if err != nil {
		problem(w, http.StatusBadRequest, "invalid query", err.Error())
		return
	}
	recs, more, err := s.cfg.Store.List(r.Context(), q)
	if err != nil {
		s.storeError(w, "listing anomalies", err)
		return
	}
	resp := ListResponse{Data: make([]any, 0, len(recs)), HasMore: more}
	for _, a := range recs {
		resp.Data = append(resp.Data, renderAs(format, a))
	}
	if len(recs) > 0 {
		// The cursor is given even on the last page, so a poller can
		// resume from it later; has_more says whether to follow it now.
		last := recs[len(recs)-1]
		resp.NextCursor = encodeCursor(Cursor{UpdatedAt: last.UpdatedAt.UnixNano(), ID: last.ID})
	}
	if more {
		next := *r.URL
		nv := next.Query()
		nv.Set("cursor", resp.NextCursor)
		next.RawQuery = nv.Encode()
		w.Header().Set("Link", fmt.Sprintf("<%s>; rel=\"next\"", next.RequestURI()))
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	format, err := parseFormat(r.URL.Query())
	if err != nil {
		problem(w, http.StatusBadRequest, "invalid query", err.Error())
		return
	}
	a, err := s.cfg.Store.Get(r.Context(), r.PathValue("id"))
	if errors.Is(err, ErrNotFound) {
		problem(w, http.StatusNotFound, "not found", "no anomaly with id "+r.PathValue("id"))
		return
	}
	if err != nil {
		s.storeError(w, "reading the anomaly", err)
		return
	}
	w.Header().Set("ETag", a.ETag)
	if inm := r.Header.Get("If-None-Match"); inm != "" && strings.TrimPrefix(inm, "W/") == a.ETag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	writeJSON(w, http.StatusOK, renderAs(format, a))
}

// Bounds of analyst fields.
const (
	maxAssignee = 200
	maxNote     = 4000
)

func (s *Server) patch(w http.ResponseWriter, r *http.Request) {
	ifMatch := r.Header.Get("If-Match")
	if ifMatch == "" {
		problem(w, http.StatusPreconditionRequired, "If-Match required",
			"send If-Match with the ETag of a GET of this anomaly, so a change made meanwhile is not overwritten")
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") && !strings.HasPrefix(ct, "application/merge-patch+json") {
		problem(w, http.StatusUnsupportedMediaType, "unsupported media type", "send the patch as application/json")
		return
	}
	var p Patch
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			problem(w, http.StatusRequestEntityTooLarge, "body too large", fmt.Sprintf("a patch is at most %d bytes", tooBig.Limit))
			return
		}
		problem(w, http.StatusBadRequest, "invalid patch", "want a JSON object with any of status, assignee, note, verdict: "+err.Error())
		return
	}
	if err := validatePatch(p); err != nil {
		problem(w, http.StatusUnprocessableEntity, "invalid patch", err.Error())
		return
	}
	a, err := s.cfg.Store.Patch(r.Context(), r.PathValue("id"), p, ifMatch)
	switch {
	case errors.Is(err, ErrNotFound):
		problem(w, http.StatusNotFound, "not found", "no anomaly with id "+r.PathValue("id"))
		return
	case errors.Is(err, ErrStale):
		w.Header().Set("ETag", a.ETag)
		problem(w, http.StatusPreconditionFailed, "stale ETag",
			"the anomaly changed since you read it (now "+a.ETag+"); GET it again, then retry with the new ETag")
		return
	case err != nil:
		s.storeError(w, "updating the anomaly", err)
		return
	}
	w.Header().Set("ETag", a.ETag)
	writeJSON(w, http.StatusOK, canonical{a.Record, a.SuppressedBy})
}

func validatePatch(p Patch) error {
	if p.Status == nil && p.Assignee == nil && p.Note == nil && p.Verdict == nil {
		return errors.New("the patch changes nothing: give status, assignee, note or verdict")
	}
	if p.Status != nil && !anomaly.ValidStatus(*p.Status) {
		return fmt.Errorf("status %q: want new, in_progress, suppressed or resolved", *p.Status)
	}
	if p.Verdict != nil {
		switch *p.Verdict {
		case "", anomaly.VerdictTruePositive, anomaly.VerdictFalsePositive:
		default:
			return fmt.Errorf("verdict %q: want true_positive, false_positive or \"\" to clear it", *p.Verdict)
		}
	}
	if p.Assignee != nil && len(*p.Assignee) > maxAssignee {
		return fmt.Errorf("assignee: at most %d bytes", maxAssignee)
	}
	if p.Note != nil && len(*p.Note) > maxNote {
		return fmt.Errorf("note: at most %d bytes", maxNote)
	}
	return nil
}

func (s *Server) vms(w http.ResponseWriter, r *http.Request) {
	limit, err := parseLimit(r.URL.Query(), MaxVMLimit, MaxVMLimit)
	if err != nil {
		problem(w, http.StatusBadRequest, "invalid query", err.Error())
		return
	}
	vms, err := s.cfg.Store.VMs(r.Context(), limit)
	if err != nil {
		s.storeError(w, "listing VMs", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": vms})
}

func (s *Server) scores(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	var since, until time.Time
	if err := parseTime(v, "since", &since); err != nil {
		problem(w, http.StatusBadRequest, "invalid query", err.Error())
		return
	}
	if err := parseTime(v, "until", &until); err != nil {
		problem(w, http.StatusBadRequest, "invalid query", err.Error())
		return
	}
	limit, err := parseLimit(v, 1000, MaxVMLimit)
	if err != nil {
		problem(w, http.StatusBadRequest, "invalid query", err.Error())
		return
	}
	pts, err := s.cfg.Store.Scores(r.Context(), r.PathValue("id"), since, until, limit)
	if err != nil {
		s.storeError(w, "reading scores", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"vm_id": r.PathValue("id"), "data": pts})
}

func (s *Server) detectors(w http.ResponseWriter, r *http.Request) {
	ds, err := s.cfg.Store.Detectors(r.Context())
	if err != nil {
		s.storeError(w, "listing detectors", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": ds})
}

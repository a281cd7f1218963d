package api

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/escapement/escapement/anomaly"
)

// MaxLimit bounds the page size of a listing; DefaultLimit is used when the
// request gives none.
const (
	MaxLimit     = 1000
	DefaultLimit = 100
)

// Server is the HTTP API over a Store.
type Server struct {
	store   Store
	metrics http.Handler
	log     *slog.Logger
	ready   atomic.Bool
}

// NewServer returns an API server. metrics serves /metrics (nil: 404).
func NewServer(store Store, metrics http.Handler, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{store: store, metrics: metrics, log: log}
}

// SetReady flips /readyz; a stage sets it once its inputs are connected.
func (s *Server) SetReady(ok bool) { s.ready.Store(ok) }

// Handler returns the routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/anomalies", s.list)
	mux.HandleFunc("GET /api/v1/anomalies/{id}", s.get)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !s.ready.Load() {
			problem(w, http.StatusServiceUnavailable, "not ready", "the anomaly feed is not connected yet")
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	if s.metrics != nil {
		mux.Handle("GET /metrics", s.metrics)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		problem(w, http.StatusNotFound, "not found", "no endpoint "+r.Method+" "+r.URL.Path+"; see docs/api.md")
	})
	return mux
}

// ListResponse is the body of GET /api/v1/anomalies.
type ListResponse struct {
	Data       []anomaly.Record `json:"data"`
	NextCursor string           `json:"next_cursor,omitempty"`
	HasMore    bool             `json:"has_more"`
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(r.URL.Query())
	if err != nil {
		problem(w, http.StatusBadRequest, "invalid query", err.Error())
		return
	}
	recs, more, err := s.store.List(q)
	if err != nil {
		s.log.Error("list anomalies", "err", err)
		problem(w, http.StatusInternalServerError, "store error", "listing anomalies failed; see the server log")
		return
	}
	resp := ListResponse{Data: recs, HasMore: more}
	if resp.Data == nil {
		resp.Data = []anomaly.Record{}
	}
	if more && len(recs) > 0 {
		last := recs[len(recs)-1]
		resp.NextCursor = encodeCursor(Cursor{UpdatedAt: last.UpdatedAt, ID: last.ID})
		next := *r.URL
		v := next.Query()
		v.Set("cursor", resp.NextCursor)
		next.RawQuery = v.Encode()
		w.Header().Set("Link", fmt.Sprintf("<%s>; rel=\"next\"", next.RequestURI()))
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	rec, ok, err := s.store.Get(r.PathValue("id"))
	if err != nil {
		s.log.Error("get anomaly", "err", err)
		problem(w, http.StatusInternalServerError, "store error", "reading the anomaly failed; see the server log")
		return
	}
	if !ok {
		problem(w, http.StatusNotFound, "not found", "no anomaly with id "+r.PathValue("id"))
		return
	}
	etag := fmt.Sprintf("%q", fmt.Sprintf("%s-%d", rec.ID, rec.Revision))
	w.Header().Set("ETag", etag)
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	writeJSON(w, http.StatusOK, rec)
}

func parseQuery(v url.Values) (Query, error) {
	q := Query{Limit: DefaultLimit}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &q.Since}, {"until", &q.Until}, {"updated_since", &q.UpdatedSince}} {
		if s := v.Get(p.name); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return q, fmt.Errorf("%s=%q: want an RFC 3339 time such as 2026-01-02T15:04:05Z", p.name, s)
			}
			*p.dst = t
		}
	}
	if s := v.Get("severity_min"); s != "" {
		if anomaly.SeverityRank(s) < 0 {
			return q, fmt.Errorf("severity_min=%q: want one of %s", s, strings.Join(anomaly.Severities, ", "))
		}
		q.SeverityMin = s
	}
	if s := v.Get("status"); s != "" {
		switch s {
		case anomaly.StatusNew, anomaly.StatusInProgress, anomaly.StatusSuppressed, anomaly.StatusResolved:
		default:
			return q, fmt.Errorf("status=%q: want new, in_progress, suppressed or resolved", s)
		}
		q.Status = s
	}
	q.Host, q.VM = v.Get("host"), v.Get("vm")
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLimit {
			return q, fmt.Errorf("limit=%q: want an integer from 1 to %d", s, MaxLimit)
		}
		q.Limit = n
	}
	if s := v.Get("cursor"); s != "" {
		c, err := decodeCursor(s)
		if err != nil {
			return q, fmt.Errorf("cursor: %v; pass next_cursor from a previous page unchanged", err)
		}
		q.After = c
	}
	return q, nil
}

func encodeCursor(c Cursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(c.UpdatedAt.UTC().Format(time.RFC3339Nano) + "|" + c.ID))
}

func decodeCursor(s string) (Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, fmt.Errorf("not a cursor")
	}
	ts, id, ok := strings.Cut(string(b), "|")
	if !ok {
		return Cursor{}, fmt.Errorf("not a cursor")
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return Cursor{}, fmt.Errorf("not a cursor")
	}
	return Cursor{UpdatedAt: t, ID: id}, nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// problem writes an RFC 9457 problem document.
func problem(w http.ResponseWriter, code int, title, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"type": "about:blank", "title": title, "status": code, "detail": detail,
	})
}

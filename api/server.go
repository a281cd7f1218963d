package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/escapement/escapement/api/ui"
)

// Limits of the API.
const (
	MaxLimit     = 1000  // page size of a listing
	DefaultLimit = 100   // page size when the request gives none
	MaxVMLimit   = 10000 // rows of /vms and /vms/{id}/scores
	// DefaultMaxBody bounds a request body (PATCH) unless configured.
	DefaultMaxBody = 64 << 10
	// DefaultRateLimit is requests per second per token unless configured.
	DefaultRateLimit = 50
)

// ServerConfig configures a Server.
type ServerConfig struct {
	Store Store
	// Metrics serves /metrics without a token (nil: 404).
	Metrics http.Handler
	// Tokens grant access to /api. Without tokens LocalOnly must be set.
	Tokens *Tokens
	// LocalOnly answers /api without a token, to loopback clients only.
	LocalOnly bool
	// RateLimit is requests per second per token (0: 50) with Burst (0: 2×rate).
	RateLimit float64
	Burst     int
	// MaxBody bounds request bodies in bytes (0: DefaultMaxBody).
	MaxBody int64
}

// Server is the HTTP API over a Store.
type Server struct {
	cfg     ServerConfig
	log     *slog.Logger
	ready   atomic.Bool
	limiter *limiter
	reqs    *prometheus.CounterVec
}

// NewServer returns an API server; it refuses a configuration in which /api
// would answer without a token outside local-only mode.
func NewServer(cfg ServerConfig, log *slog.Logger, reg prometheus.Registerer) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Store == nil {
		return nil, errors.New("api: no store")
	}
	if !cfg.LocalOnly && cfg.Tokens.Len() == 0 {
		return nil, errors.New("the API has no tokens: give --api-tokens FILE or ESCAPEMENT_API_TOKENS (see docs/api.md), or --local-only to answer loopback clients without a token")
	}
	if cfg.RateLimit <= 0 {
		cfg.RateLimit = DefaultRateLimit
	}
	if cfg.Burst <= 0 {
		cfg.Burst = int(2*cfg.RateLimit) + 1
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	s := &Server{cfg: cfg, log: log, limiter: newLimiter(cfg.RateLimit, cfg.Burst, time.Now)}
	s.reqs = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "escapement", Subsystem: "api",
		Name: "requests_total", Help: "API requests by route and status code."}, []string{"route", "code"})
	if reg != nil {
		reg.MustRegister(s.reqs)
	}
	return s, nil
}

// SetReady flips /readyz; a stage sets it once its inputs are connected.
func (s *Server) SetReady(ok bool) { s.ready.Store(ok) }

// route is one endpoint; scope "" is open to all.
type route struct {
	method, path string
	scope        Scope
	h            http.HandlerFunc
}

func (s *Server) routes() []route {
	rs := []route{
		{"GET", "/api/v1/anomalies", ScopeRead, s.list},
		{"GET", "/api/v1/anomalies/{id}", ScopeRead, s.get},
		{"PATCH", "/api/v1/anomalies/{id}", ScopeWrite, s.patch},
		{"GET", "/api/v1/vms", ScopeRead, s.vms},
		{"GET", "/api/v1/vms/{id}/scores", ScopeRead, s.scores},
		{"GET", "/api/v1/detectors", ScopeRead, s.detectors},
		{"GET", "/api/v1/suppressions", ScopeRead, s.listSuppressions},
		{"POST", "/api/v1/suppressions", ScopeWrite, s.addSuppression},
		{"DELETE", "/api/v1/suppressions/{id}", ScopeWrite, s.deleteSuppression},
		{"GET", "/api/v1/openapi.json", "", serveOpenAPI},
		{"GET", "/healthz", "", func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		}},
		{"GET", "/readyz", "", func(w http.ResponseWriter, _ *http.Request) {
			if !s.ready.Load() {
				problem(w, http.StatusServiceUnavailable, "not ready", "the anomaly feed is not connected yet")
				return
			}
			writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
		}},
	}
	if s.cfg.Metrics != nil {
		rs = append(rs, route{"GET", "/metrics", "", s.cfg.Metrics.ServeHTTP})
	}
	return rs
}

// Handler returns the routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range s.routes() {
		mux.Handle(rt.method+" "+rt.path, s.wrap(rt))
	}
	mux.Handle("GET "+ui.Prefix, ui.Handler()) // the triage page (docs/ui.md): static files, outside /api/v1 and its OpenAPI document
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		problem(w, http.StatusNotFound, "not found", "no endpoint "+r.Method+" "+r.URL.Path+"; see /api/v1/openapi.json or docs/api.md")
	})
	return mux
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// wrap applies authentication, the rate limit and the body limit.
func (s *Server) wrap(rt route) http.Handler {
	label := rt.method + " " + rt.path
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		defer func() { s.reqs.WithLabelValues(label, strconv.Itoa(sw.code)).Inc() }()
		if rt.scope != "" {
			key, ok := s.authorize(sw, r, rt.scope)
			if !ok {
				return
			}
			if wait, ok := s.limiter.allow(key); !ok {
				sw.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
				problem(sw, http.StatusTooManyRequests, "rate limited",
					fmt.Sprintf("this token may make %g requests per second (burst %d); retry after the Retry-After seconds", s.cfg.RateLimit, s.cfg.Burst))
				return
			}
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(sw, r.Body, s.cfg.MaxBody)
		}
		rt.h(sw, r)
	})
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

func (s *Server) storeError(w http.ResponseWriter, what string, err error) {
	s.log.Error("anomaly store", "op", what, "err", err)
	problem(w, http.StatusInternalServerError, "store error", what+" failed; see the server log")
}

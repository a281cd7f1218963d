package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// requester names who made r: the token's name, or "local" in local-only
// mode without a token.
func (s *Server) requester(r *http.Request) string {
	if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		if tok, ok := s.cfg.Tokens.Lookup(strings.TrimSpace(bearer)); ok {
			return tok.Name
		}
	}
	return "local"
}

func (s *Server) listSuppressions(w http.ResponseWriter, r *http.Request) {
	var all bool
	switch v := r.URL.Query().Get("expired"); v {
	case "", "false":
	case "true":
		all = true
	default:
		problem(w, http.StatusBadRequest, "invalid query", fmt.Sprintf("expired=%q: want true (include expired rules) or false", v))
		return
	}
	rules, err := s.cfg.Store.Suppressions(r.Context(), all)
	if err != nil {
		s.storeError(w, "listing suppression rules", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": rules})
}

// suppressionRequest is the body of POST /api/v1/suppressions.
type suppressionRequest struct {
	VM        string    `json:"vm"`
	Host      string    `json:"host"`
	Detector  string    `json:"detector"`
	Feature   string    `json:"feature"`
	Author    string    `json:"author"`
	Reason    string    `json:"reason"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (s *Server) addSuppression(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		problem(w, http.StatusUnsupportedMediaType, "unsupported media type", "send the rule as application/json")
		return
	}
	var req suppressionRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			problem(w, http.StatusRequestEntityTooLarge, "body too large", fmt.Sprintf("a rule is at most %d bytes", tooBig.Limit))
			return
		}
		problem(w, http.StatusBadRequest, "invalid rule",
			"want a JSON object with any of vm, host, detector, feature, and expires_at (RFC 3339), author, reason: "+err.Error())
		return
	}
	rule := Suppression{VM: req.VM, Host: req.Host, Detector: req.Detector, Feature: req.Feature,
		Author: req.Author, Reason: req.Reason, ExpiresAt: req.ExpiresAt}
	if rule.Author == "" {
		rule.Author = s.requester(r)
	}
	if err := rule.validate(time.Now()); err != nil {
		problem(w, http.StatusUnprocessableEntity, "invalid rule", err.Error())
		return
	}
	rule, err := s.cfg.Store.AddSuppression(r.Context(), rule)
	if err != nil {
		s.storeError(w, "storing the suppression rule", err)
		return
	}
	w.Header().Set("Location", "/api/v1/suppressions/"+rule.ID)
	writeJSON(w, http.StatusCreated, rule)
}

func (s *Server) deleteSuppression(w http.ResponseWriter, r *http.Request) {
	err := s.cfg.Store.DeleteSuppression(r.Context(), r.PathValue("id"))
	if errors.Is(err, ErrRuleNotFound) {
		problem(w, http.StatusNotFound, "not found", "no suppression rule with id "+r.PathValue("id"))
		return
	}
	if err != nil {
		s.storeError(w, "deleting the suppression rule", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

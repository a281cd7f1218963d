package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
)

// Scope is what a token may do: read lists and gets; write also patches.
type Scope string

// Scopes.
const (
	ScopeRead  Scope = "read"
	ScopeWrite Scope = "write"
)

// Token is a configured API token, known only by its SHA-256.
type Token struct {
	Name   string
	Hash   [sha256.Size]byte
	Scopes []Scope
}

// Has reports whether t grants sc; write implies read.
func (t Token) Has(sc Scope) bool {
	for _, g := range t.Scopes {
		if g == sc || (g == ScopeWrite && sc == ScopeRead) {
			return true
		}
	}
	return false
}

// Tokens are the API's bearer tokens, by hash.
type Tokens struct{ byHash map[[sha256.Size]byte]Token }

// HashToken returns the hex SHA-256 of a token, as token files hold it
// (the same as `printf %s "$TOKEN" | sha256sum`).
func HashToken(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

// ParseTokens reads entries NAME:SCOPES:SHA256HEX, one per line or separated
// by ';', where SCOPES is read, write or read,write; '#' starts a comment.
func ParseTokens(text string) (*Tokens, error) {
	t := &Tokens{byHash: map[[sha256.Size]byte]Token{}}
	for n, line := range strings.FieldsFunc(text, func(r rune) bool { return r == '\n' || r == ';' }) {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		parts := strings.Split(line, ":")
		if len(parts) != 3 {
			return nil, fmt.Errorf("token entry %d: want NAME:SCOPES:SHA256HEX (e.g. siem:read:%s)", n+1, HashToken("example"))
		}
		var tok Token
		tok.Name = parts[0]
		b, err := hex.DecodeString(parts[2])
		if err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("token entry %d (%s): the third field must be the 64 hex digits of the token's SHA-256 (printf %%s \"$TOKEN\" | sha256sum), never the token itself", n+1, tok.Name)
		}
		copy(tok.Hash[:], b)
		for _, sc := range strings.Split(parts[1], ",") {
			switch Scope(strings.TrimSpace(sc)) {
			case ScopeRead, ScopeWrite:
				tok.Scopes = append(tok.Scopes, Scope(strings.TrimSpace(sc)))
			default:
				return nil, fmt.Errorf("token entry %d (%s): scope %q: want read, write or read,write", n+1, tok.Name, sc)
			}
		}
		t.byHash[tok.Hash] = tok
	}
	return t, nil
}

// LoadTokens reads tokens from file (if not empty) and from the value of the
// ESCAPEMENT_API_TOKENS environment variable (if set), merged.
func LoadTokens(file string) (*Tokens, error) {
	var text string
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--api-tokens: %w", err)
		}
		text = string(b)
	}
	if env := os.Getenv("ESCAPEMENT_API_TOKENS"); env != "" {
		text += "\n" + env
	}
	t, err := ParseTokens(text)
	if err != nil {
		return nil, fmt.Errorf("API tokens (--api-tokens or ESCAPEMENT_API_TOKENS): %w", err)
	}
	return t, nil
}

// Len is the number of tokens; a nil *Tokens has none.
func (t *Tokens) Len() int {
	if t == nil {
		return 0
	}
	return len(t.byHash)
}

// Lookup returns the token whose hash matches bearer.
func (t *Tokens) Lookup(bearer string) (Token, bool) {
	if t == nil {
		return Token{}, false
	}
	h := sha256.Sum256([]byte(bearer))
	tok, ok := t.byHash[h]
	if !ok || subtle.ConstantTimeCompare(tok.Hash[:], h[:]) != 1 {
		return Token{}, false
	}
	return tok, true
}

// authorize checks the request's bearer token (or, in local-only mode, that
// the client is on loopback) and returns the rate-limit key.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, need Scope) (string, bool) {
	h := r.Header.Get("Authorization")
	if h == "" && s.cfg.LocalOnly {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			problem(w, http.StatusForbidden, "local-only", "this server answers without a token only to loopback clients; ask its operator for a token")
			return "", false
		}
		return "local", true
	}
	bearer, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || bearer == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="escapement"`)
		problem(w, http.StatusUnauthorized, "missing token", "send Authorization: Bearer <token>; tokens are configured with --api-tokens or ESCAPEMENT_API_TOKENS")
		return "", false
	}
	tok, ok := s.cfg.Tokens.Lookup(strings.TrimSpace(bearer))
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="escapement", error="invalid_token"`)
		problem(w, http.StatusUnauthorized, "invalid token", "the bearer token is not configured on this server; check it or ask its operator")
		return "", false
	}
	if !tok.Has(need) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="escapement", error="insufficient_scope", scope="`+string(need)+`"`)
		problem(w, http.StatusForbidden, "insufficient scope", "token "+tok.Name+" lacks the "+string(need)+" scope")
		return "", false
	}
	return "token:" + tok.Name + ":" + hex.EncodeToString(tok.Hash[:4]), true
}

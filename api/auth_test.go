package api

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseTokens(t *testing.T) {
	h := HashToken("s3cret")
	for _, tc := range []struct {
		text string
		n    int
		bad  bool
	}{
		{"", 0, false},
		{"# comment only\n", 0, false},
		{"siem:read:" + h, 1, false},
		{"siem:read:" + h + "; ui:read,write:" + HashToken("other") + " # analysts", 2, false},
		{"siem:read:s3cret", 0, true},             // a token in clear
		{"siem:admin:" + h, 0, true},              // unknown scope
		{"siem:" + h, 0, true},                    // missing field
		{"siem:read:" + h[:60] + "zzzz", 0, true}, // not hex
	} {
		toks, err := ParseTokens(tc.text)
		if tc.bad {
			require.Error(t, err, tc.text)
			continue
		}
		require.NoError(t, err, tc.text)
		require.Equal(t, tc.n, toks.Len(), tc.text)
	}
	t.Setenv("ESCAPEMENT_API_TOKENS", "env:write:"+h)
	toks, err := LoadTokens("")
	require.NoError(t, err)
	tok, ok := toks.Lookup("s3cret")
	require.True(t, ok)
	require.True(t, tok.Has(ScopeRead), "write implies read")
	_, ok = toks.Lookup("wrong")
	require.False(t, ok)
}

func TestAuthScopesAndLocalOnly(t *testing.T) {
	s := openTestStore(t)
	toks, err := ParseTokens("reader:read:" + HashToken("r-token") + "\nwriter:write:" + HashToken("w-token"))
	require.NoError(t, err)
	_, err = NewServer(ServerConfig{Store: s}, nil, nil)
	require.Error(t, err, "no tokens and not local-only: refuse to start")

	srv, err := NewServer(ServerConfig{Store: s, Tokens: toks, RateLimit: 1e6}, nil, nil)
	require.NoError(t, err)
	h := srv.Handler()
	for _, tc := range []struct {
		name, method, path, auth string
		code                     int
	}{
		{"no token", "GET", "/api/v1/anomalies", "", 401},
		{"unknown token", "GET", "/api/v1/anomalies", "Bearer nope", 401},
		{"basic auth", "GET", "/api/v1/anomalies", "Basic eDp5", 401},
		{"reader lists", "GET", "/api/v1/anomalies", "Bearer r-token", 200},
		{"reader cannot patch", "PATCH", "/api/v1/anomalies/a", "Bearer r-token", 403},
		{"writer reaches the handler", "PATCH", "/api/v1/anomalies/a", "Bearer w-token", 428},
		{"health is open", "GET", "/healthz", "", 200},
		{"openapi is open", "GET", "/api/v1/openapi.json", "", 200},
	} {
		hdr := []string{}
		if tc.auth != "" {
			hdr = []string{"Authorization", tc.auth}
		}
		w := do(h, tc.method, tc.path, "", hdr...)
		require.Equal(t, tc.code, w.Code, tc.name)
		if tc.code == 401 {
			require.Contains(t, w.Header().Get("WWW-Authenticate"), "Bearer")
		}
	}

	local := localServer(t, s)
	require.Equal(t, 200, do(local, "GET", "/api/v1/anomalies", "").Code)
	req, _ := http.NewRequest("GET", "/api/v1/anomalies", nil)
	req.RemoteAddr = "192.0.2.7:4000"
	w := &recorder{header: http.Header{}}
	local.ServeHTTP(w, req)
	require.Equal(t, 403, w.code, "local-only answers loopback clients only")
}

type recorder struct {
	header http.Header
	code   int
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *recorder) WriteHeader(c int)           { r.code = c }

func TestRateLimitPerToken(t *testing.T) {
	s := openTestStore(t)
	toks, err := ParseTokens("a:read:" + HashToken("ta") + "\nb:read:" + HashToken("tb"))
	require.NoError(t, err)
	srv, err := NewServer(ServerConfig{Store: s, Tokens: toks, RateLimit: 0.5, Burst: 3}, nil, nil)
	require.NoError(t, err)
	now := time.Unix(100, 0)
	srv.limiter.now = func() time.Time { return now }
	h := srv.Handler()
	get := func(tok string) (int, string) {
		w := do(h, "GET", "/api/v1/detectors", "", "Authorization", "Bearer "+tok)
		return w.Code, w.Header().Get("Retry-After")
	}
	for i := 0; i < 3; i++ {
		code, _ := get("ta")
		require.Equal(t, 200, code, "within the burst")
	}
	code, retry := get("ta")
	require.Equal(t, 429, code)
	secs, err := strconv.Atoi(retry)
	require.NoError(t, err)
	require.Equal(t, 2, secs, "one token refills in 2 s at 0.5/s")
	code, _ = get("tb")
	require.Equal(t, 200, code, "another token has its own bucket")
	now = now.Add(2 * time.Second)
	code, _ = get("ta")
	require.Equal(t, 200, code, "refilled")
}

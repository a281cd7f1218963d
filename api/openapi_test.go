package api

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestOpenAPIDocumentsEveryRoute checks the document against the routes the
// mux serves, both ways, and that each operation's security matches the
// route's scope.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	var doc struct {
		OpenAPI  string                                `json:"openapi"`
		Security []map[string][]string                 `json:"security"`
		Paths    map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(openAPI, &doc))
	require.True(t, strings.HasPrefix(doc.OpenAPI, "3."))
	require.NotEmpty(t, doc.Security, "the default is bearer auth")

	srv, err := NewServer(ServerConfig{Store: openTestStore(t), LocalOnly: true, Metrics: http.NotFoundHandler()}, nil, nil)
	require.NoError(t, err)
	var served, documented []string
	open := map[string]bool{}
	for _, r := range srv.routes() {
		key := strings.ToLower(r.method) + " " + r.path
		served = append(served, key)
		open[key] = r.scope == ""
	}
	for path, ops := range doc.Paths {
		for method, raw := range ops {
			key := method + " " + path
			documented = append(documented, key)
			var op struct {
				Security *[]any         `json:"security"`
				Resp     map[string]any `json:"responses"`
			}
			require.NoError(t, json.Unmarshal(raw, &op), key)
			require.NotEmpty(t, op.Resp, key)
			docOpen := op.Security != nil && len(*op.Security) == 0
			require.Equal(t, open[key], docOpen, "%s: open in the document iff served without a token", key)
			if !docOpen {
				require.Contains(t, op.Resp, "401", key)
				require.Contains(t, op.Resp, "429", key)
			}
		}
	}
	sort.Strings(served)
	sort.Strings(documented)
	require.Equal(t, served, documented)

	w := do(srv.Handler(), "GET", "/api/v1/openapi.json", "")
	require.Equal(t, 200, w.Code)
	require.JSONEq(t, string(openAPI), w.Body.String())
}

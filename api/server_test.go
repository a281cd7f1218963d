package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/anomaly"
)

func localServer(t testing.TB, s Store) http.Handler {
	t.Helper()
	srv, err := NewServer(ServerConfig{Store: s, LocalOnly: true, RateLimit: 1e6}, nil, nil)
	require.NoError(t, err)
	return srv.Handler()
}

// do serves one request from a loopback client.
func do(h http.Handler, method, target, body string, hdr ...string) *httptest.ResponseRecorder {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, rd)
	req.RemoteAddr = "127.0.0.1:5555"
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

type listBody struct {
	Data       []anomaly.Record `json:"data"`
	NextCursor string           `json:"next_cursor"`
	HasMore    bool             `json:"has_more"`
}

func TestListPagesWithoutSkipOrRepeat(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	t0 := time.Unix(1000, 0).UTC()
	for i := 0; i < 25; i++ {
		_, err := s.Upsert(ctx, rec(fmt.Sprintf("id%02d", i), 1, anomaly.Severities[i%5], t0))
		require.NoError(t, err)
	}
	srv := httptest.NewServer(localServer(t, s))
	defer srv.Close()
	seen := map[string]bool{}
	next := srv.URL + "/api/v1/anomalies?limit=4"
	pages := 0
	for next != "" {
		resp, err := http.Get(next)
		require.NoError(t, err)
		var body listBody
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		resp.Body.Close()
		for _, r := range body.Data {
			require.False(t, seen[r.ID], "repeated %s", r.ID)
			seen[r.ID] = true
		}
		next = ""
		if body.HasMore {
			link := resp.Header.Get("Link")
			require.Contains(t, link, `rel="next"`)
			next = srv.URL + strings.TrimPrefix(strings.Split(link, ">")[0], "<")
		} else {
			require.Empty(t, resp.Header.Get("Link"))
		}
		pages++
	}
	require.Len(t, seen, 25)
	require.Equal(t, 7, pages)
}

func TestListFiltersAndErrors(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	t0 := time.Unix(1000, 0).UTC()
	a := rec("a", 1, "low", t0)
	b := rec("b", 1, "critical", t0.Add(time.Hour))
	b.Host = "h2"
	b.Attack = []anomaly.Attack{{TacticID: "TA0004", TechniqueID: "T1068"}}
	for _, r := range []anomaly.Record{a, b} {
		_, err := s.Upsert(ctx, r)
		require.NoError(t, err)
	}
	h := localServer(t, s)
	for _, tc := range []struct {
		query string
		code  int
		ids   []string
	}{
		{"", 200, []string{"a", "b"}},
		{"severity_min=high", 200, []string{"b"}},
		{"vm=vm-a", 200, []string{"a"}},
		{"host=h2", 200, []string{"b"}},
		{"technique=T1611", 200, []string{"a"}},
		{"technique=T1068", 200, []string{"b"}},
		{"status=new", 200, []string{"a", "b"}},
		{"status=resolved", 200, nil},
		{"detector=ens", 200, []string{"a", "b"}},
		{"since=1970-01-01T00:30:00Z", 200, []string{"b"}},
		{"until=1970-01-01T00:30:00Z", 200, []string{"a"}},
		{"revisions=all", 200, []string{"a", "b"}},
		{"format=canonical", 200, []string{"a", "b"}},
		{"severity_min=huge", 400, nil},
		{"since=yesterday", 400, nil},
		{"limit=0", 400, nil},
		{"limit=1001", 400, nil},
		{"cursor=@@", 400, nil},
		{"technique=1611", 400, nil},
		{"status=open", 400, nil},
		{"format=xml", 400, nil},
		{"revisions=some", 400, nil},
	} {
		w := do(h, "GET", "/api/v1/anomalies?"+tc.query, "")
		require.Equal(t, tc.code, w.Code, tc.query)
		if tc.code != 200 {
			require.Equal(t, "application/problem+json", w.Header().Get("Content-Type"))
			var p map[string]any
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &p))
			require.EqualValues(t, tc.code, p["status"])
			require.NotEmpty(t, p["detail"])
			continue
		}
		var body listBody
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body))
		var ids []string
		for _, r := range body.Data {
			ids = append(ids, r.ID)
		}
		require.Equal(t, tc.ids, ids, tc.query)
	}
}

func TestListAndGetRenderFormats(t *testing.T) {
	s := openTestStore(t)
	_, err := s.Upsert(context.Background(), rec("a", 1, "high", time.Unix(1000, 0).UTC()))
	require.NoError(t, err)
	h := localServer(t, s)
	for _, tc := range []struct {
		format string
		check  func(map[string]any)
	}{
		{"ocsf", func(m map[string]any) {
			require.EqualValues(t, 2004, m["class_uid"])
			require.EqualValues(t, 200401, m["type_uid"])
		}},
		{"ecs", func(m map[string]any) {
			require.Equal(t, "alert", m["event"].(map[string]any)["kind"])
		}},
	} {
		w := do(h, "GET", "/api/v1/anomalies?format="+tc.format, "")
		require.Equal(t, 200, w.Code)
		var body struct{ Data []map[string]any }
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body))
		require.Len(t, body.Data, 1)
		tc.check(body.Data[0])
		w = do(h, "GET", "/api/v1/anomalies/a?format="+tc.format, "")
		require.Equal(t, 200, w.Code)
		var one map[string]any
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &one))
		tc.check(one)
	}
}

func TestGetWithETag(t *testing.T) {
	s := openTestStore(t)
	_, err := s.Upsert(context.Background(), rec("a", 2, "low", time.Unix(1000, 0).UTC()))
	require.NoError(t, err)
	h := localServer(t, s)
	w := do(h, "GET", "/api/v1/anomalies/a", "")
	require.Equal(t, 200, w.Code)
	etag := w.Header().Get("ETag")
	require.NotEmpty(t, etag)
	var got anomaly.Record
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
	require.Equal(t, "/api/v1/anomalies/a", got.Links.Self)
	require.Equal(t, 304, do(h, "GET", "/api/v1/anomalies/a", "", "If-None-Match", etag).Code)
	require.Equal(t, 404, do(h, "GET", "/api/v1/anomalies/zzz", "").Code)
}

func TestPatch(t *testing.T) {
	s := openTestStore(t)
	_, err := s.Upsert(context.Background(), rec("a", 1, "low", time.Unix(1000, 0).UTC()))
	require.NoError(t, err)
	h := localServer(t, s)
	etag := do(h, "GET", "/api/v1/anomalies/a", "").Header().Get("ETag")
	for _, tc := range []struct {
		name, body, ifMatch string
		code                int
	}{
		{"no If-Match", `{"status":"resolved"}`, "", 428},
		{"unknown field", `{"colour":"red"}`, etag, 400},
		{"not JSON", `status=resolved`, etag, 400},
		{"bad status", `{"status":"closed"}`, etag, 422},
		{"bad verdict", `{"verdict":"maybe"}`, etag, 422},
		{"empty patch", `{}`, etag, 422},
		{"too big", `{"note":"` + strings.Repeat("x", DefaultMaxBody) + `"}`, etag, 413},
		{"long note", `{"note":"` + strings.Repeat("x", maxNote+1) + `"}`, etag, 422},
		{"stale", `{"status":"resolved"}`, `"0000"`, 412},
		{"missing anomaly", `{"status":"resolved"}`, etag, 404},
	} {
		target := "/api/v1/anomalies/a"
		if tc.name == "missing anomaly" {
			target = "/api/v1/anomalies/zzz"
		}
		hdr := []string{"Content-Type", "application/json"}
		if tc.ifMatch != "" {
			hdr = append(hdr, "If-Match", tc.ifMatch)
		}
		w := do(h, "PATCH", target, tc.body, hdr...)
		require.Equal(t, tc.code, w.Code, tc.name+": "+w.Body.String())
		require.Equal(t, "application/problem+json", w.Header().Get("Content-Type"), tc.name)
	}
	w := do(h, "PATCH", "/api/v1/anomalies/a", `{"status":"resolved","assignee":"bob","verdict":"false_positive","note":"backup job"}`, "If-Match", etag)
	require.Equal(t, 200, w.Code, w.Body.String())
	var got anomaly.Record
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
	require.Equal(t, anomaly.StatusResolved, got.Status)
	require.Equal(t, "bob", got.Assignee)
	require.Equal(t, anomaly.VerdictFalsePositive, got.Verdict)
	require.NotEqual(t, etag, w.Header().Get("ETag"))
	require.Equal(t, 412, do(h, "PATCH", "/api/v1/anomalies/a", `{"note":"again"}`, "If-Match", etag).Code, "the old ETag is stale now")
}

func TestVMsScoresDetectorsEndpoints(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	t0 := time.Unix(1000, 0).UTC()
	for _, r := range []anomaly.Record{rec("a", 1, "low", t0), rec("a", 2, "high", t0), rec("b", 1, "medium", t0)} {
		_, err := s.Upsert(ctx, r)
		require.NoError(t, err)
	}
	h := localServer(t, s)
	w := do(h, "GET", "/api/v1/vms", "")
	require.Equal(t, 200, w.Code)
	var vms struct{ Data []VMRisk }
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &vms))
	require.Len(t, vms.Data, 2)
	require.Equal(t, "vm-a", vms.Data[0].VMID)
	require.Equal(t, "high", vms.Data[0].Severity)

	w = do(h, "GET", "/api/v1/vms/vm-a/scores", "")
	require.Equal(t, 200, w.Code)
	var sc struct {
		VMID string `json:"vm_id"`
		Data []ScorePoint
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &sc))
	require.Equal(t, "vm-a", sc.VMID)
	require.Len(t, sc.Data, 2)
	require.Equal(t, 400, do(h, "GET", "/api/v1/vms/vm-a/scores?since=x", "").Code)
	require.Equal(t, 400, do(h, "GET", "/api/v1/vms?limit=-1", "").Code)

	w = do(h, "GET", "/api/v1/detectors", "")
	require.Equal(t, 200, w.Code)
	var ds struct{ Data []DetectorInfo }
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &ds))
	require.Len(t, ds.Data, 1)
	require.Equal(t, "ensemble", ds.Data[0].Name)
	require.Equal(t, 2, ds.Data[0].Anomalies)
}

func TestUnknownRouteIsProblem(t *testing.T) {
	h := localServer(t, openTestStore(t))
	w := do(h, "GET", "/api/v2/nothing", "")
	require.Equal(t, 404, w.Code)
	require.Equal(t, "application/problem+json", w.Header().Get("Content-Type"))
	require.Equal(t, 404, do(h, "DELETE", "/api/v1/anomalies/a", "").Code, "no DELETE endpoint")
	require.Equal(t, 200, do(h, "GET", "/healthz", "").Code)
	require.Equal(t, 503, do(h, "GET", "/readyz", "").Code)
}

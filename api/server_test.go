package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/anomaly"
)

func rec(id string, rev int, sev string, at time.Time) anomaly.Record {
	return anomaly.Record{ID: id, Revision: rev, Severity: sev, Status: anomaly.StatusNew,
		UpdatedAt: at, FirstSeen: at, LastSeen: at, VM: anomaly.VM{ID: "vm-" + id}, Host: "h1"}
}

func TestStoreCollapsesDuplicates(t *testing.T) {
	s := NewMemStore(0)
	t0 := time.Unix(1000, 0).UTC()
	ok, _ := s.Upsert(rec("a", 1, "low", t0))
	require.True(t, ok)
	ok, _ = s.Upsert(rec("a", 1, "low", t0))
	require.False(t, ok, "same revision again is a duplicate")
	ok, _ = s.Upsert(rec("a", 3, "high", t0.Add(time.Second)))
	require.True(t, ok)
	ok, _ = s.Upsert(rec("a", 2, "medium", t0))
	require.False(t, ok, "an older revision never replaces a newer one")
	got, _, _ := s.Get("a")
	require.Equal(t, 3, got.Revision)
}

func TestListPagesWithoutSkipOrRepeat(t *testing.T) {
	s := NewMemStore(0)
	t0 := time.Unix(1000, 0).UTC()
	for i := 0; i < 25; i++ {
		// several records share an updated_at so the id breaks ties
		_, _ = s.Upsert(rec(fmt.Sprintf("id%02d", i), 1, anomaly.Severities[i%5], t0.Add(time.Duration(i/3)*time.Second)))
	}
	srv := httptest.NewServer(NewServer(s, nil, nil).Handler())
	defer srv.Close()
	seen := map[string]bool{}
	next := srv.URL + "/api/v1/anomalies?limit=4"
	pages := 0
	for next != "" {
		resp, err := http.Get(next)
		require.NoError(t, err)
		var body ListResponse
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		resp.Body.Close()
		for _, r := range body.Data {
			require.False(t, seen[r.ID], "repeated %s", r.ID)
			seen[r.ID] = true
		}
		next = ""
		if body.HasMore {
			require.NotEmpty(t, resp.Header.Get("Link"))
			next = srv.URL + "/api/v1/anomalies?limit=4&cursor=" + body.NextCursor
		}
		pages++
	}
	require.Len(t, seen, 25)
	require.Equal(t, 7, pages)
}

func TestListFiltersAndErrors(t *testing.T) {
	s := NewMemStore(0)
	t0 := time.Unix(1000, 0).UTC()
	_, _ = s.Upsert(rec("a", 1, "low", t0))
	_, _ = s.Upsert(rec("b", 1, "critical", t0))
	h := NewServer(s, nil, nil).Handler()
	for _, tc := range []struct {
		query string
		code  int
		ids   []string
	}{
		{"", 200, []string{"a", "b"}},
		{"severity_min=high", 200, []string{"b"}},
		{"vm=vm-a", 200, []string{"a"}},
		{"severity_min=huge", 400, nil},
		{"since=yesterday", 400, nil},
		{"limit=0", 400, nil},
		{"cursor=@@", 400, nil},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/api/v1/anomalies?"+tc.query, nil))
		require.Equal(t, tc.code, w.Code, tc.query)
		if tc.code != 200 {
			require.Equal(t, "application/problem+json", w.Header().Get("Content-Type"))
			continue
		}
		var body ListResponse
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body))
		var ids []string
		for _, r := range body.Data {
			ids = append(ids, r.ID)
		}
		require.Equal(t, tc.ids, ids, tc.query)
	}
}

func TestGetWithETag(t *testing.T) {
	s := NewMemStore(0)
	_, _ = s.Upsert(rec("a", 2, "low", time.Unix(1000, 0).UTC()))
	h := NewServer(s, nil, nil).Handler()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/api/v1/anomalies/a", nil))
	require.Equal(t, 200, w.Code)
	etag := w.Header().Get("ETag")
	require.NotEmpty(t, etag)
	req := httptest.NewRequest("GET", "/api/v1/anomalies/a", nil)
	req.Header.Set("If-None-Match", etag)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, req)
	require.Equal(t, 304, w.Code)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/api/v1/anomalies/zzz", nil))
	require.Equal(t, 404, w.Code)
}

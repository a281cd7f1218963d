package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/anomaly"
	"github.com/escapement/escapement/transport"
)

func featRec(id string, rev int, feats ...string) anomaly.Record {
	r := rec(id, rev, "high", time.Unix(1000, 0).UTC())
	for i, f := range feats {
		r.Anomaly.Features = append(r.Anomaly.Features, anomaly.Feature{Name: f, Observed: float64(10 - i)})
	}
	r.Anomaly.Detectors = []string{"iforest", "zmax"}
	return r
}

func TestSuppressionMatches(t *testing.T) {
	r := featRec("a", 1, "f1", "f2", "f3", "f4", "f5", "f6")
	for _, tc := range []struct {
		rule Suppression
		want bool
	}{
		{Suppression{VM: "vm-a"}, true},
		{Suppression{VM: "vm-b"}, false},
		{Suppression{Host: "h1"}, true},
		{Suppression{Host: "h2"}, false},
		{Suppression{Detector: "ens"}, true},
		{Suppression{Detector: "zmax"}, true}, // an ensemble member that fired
		{Suppression{Detector: "lof"}, false},
		{Suppression{Feature: "f5"}, true},
		{Suppression{Feature: "f6"}, false}, // not among the top TopFeatures
		{Suppression{VM: "vm-a", Host: "h1", Feature: "f1"}, true},
		{Suppression{VM: "vm-a", Host: "h2"}, false}, // every set field must match
	} {
		require.Equal(t, tc.want, tc.rule.Matches(&r), "%+v", tc.rule)
	}
}

func TestIngestMarksSuppressedUntilExpiry(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	now := time.Unix(5000, 0)
	s.now = func() time.Time { return now }
	rule, err := s.AddSuppression(ctx, Suppression{VM: "vm-a", Author: "alice", ExpiresAt: now.Add(time.Hour)})
	require.NoError(t, err)
	require.NotEmpty(t, rule.ID)

	in, err := s.Ingest(ctx, featRec("a", 1))
	require.NoError(t, err)
	require.True(t, in.Stored)
	require.Equal(t, rule.ID, in.SuppressedBy)
	require.Equal(t, anomaly.StatusSuppressed, in.Record.Status)
	got, err := s.Get(ctx, "a")
	require.NoError(t, err)
	require.Equal(t, anomaly.StatusSuppressed, got.Status)
	require.Equal(t, rule.ID, got.SuppressedBy)

	in, err = s.Ingest(ctx, featRec("b", 1)) // another VM
	require.NoError(t, err)
	require.Empty(t, in.SuppressedBy)
	require.Equal(t, anomaly.StatusNew, in.Record.Status)

	in, err = s.Ingest(ctx, featRec("a", 1)) // a duplicate is not stored again
	require.NoError(t, err)
	require.False(t, in.Stored)

	now = now.Add(2 * time.Hour) // the rule has expired
	in, err = s.Ingest(ctx, featRec("a", 2))
	require.NoError(t, err)
	require.Empty(t, in.SuppressedBy)
	got, err = s.Get(ctx, "a")
	require.NoError(t, err)
	require.Equal(t, anomaly.StatusNew, got.Status)
	require.Empty(t, got.SuppressedBy)

	active, err := s.Suppressions(ctx, false)
	require.NoError(t, err)
	require.Empty(t, active)
	all, err := s.Suppressions(ctx, true)
	require.NoError(t, err)
	require.Len(t, all, 1)
	require.NoError(t, s.DeleteSuppression(ctx, rule.ID))
	require.ErrorIs(t, s.DeleteSuppression(ctx, rule.ID), ErrRuleNotFound)
}

type fakeDelivery struct{ m *transport.Message }

func (d fakeDelivery) Message() *transport.Message { return d.m }
func (fakeDelivery) Retain()                       {}
func (fakeDelivery) Release()                      {}

func TestFeedPassesSuppressedRecordsMarked(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	_, err := s.AddSuppression(ctx, Suppression{Feature: "noisy", Author: "bob", ExpiresAt: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	var got []anomaly.Record
	f := NewFeed(FeedConfig{Store: s, DeadLetter: func(context.Context, *transport.Message, error) error { return nil },
		OnStored: func(r anomaly.Record) { got = append(got, r) }}, nil, nil)
	for _, r := range []anomaly.Record{featRec("x", 1, "noisy"), featRec("y", 1, "quiet")} {
		b, err := json.Marshal(r)
		require.NoError(t, err)
		require.NoError(t, f.Handle(ctx, fakeDelivery{&transport.Message{Topic: anomaly.Topic, Value: b}}))
	}
	require.Len(t, got, 2)
	require.Equal(t, anomaly.StatusSuppressed, got[0].Status)
	require.Equal(t, anomaly.StatusNew, got[1].Status)
}

func TestSuppressionEndpoints(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	toks, err := ParseTokens("reader:read:" + HashToken("r-tok") + "\nsoc:read,write:" + HashToken("w-tok"))
	require.NoError(t, err)
	srv, err := NewServer(ServerConfig{Store: s, Tokens: toks, RateLimit: 1e6}, nil, nil)
	require.NoError(t, err)
	h := srv.Handler()
	exp := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	rd, wr := []string{"Authorization", "Bearer r-tok"}, []string{"Authorization", "Bearer w-tok", "Content-Type", "application/json"}

	body := fmt.Sprintf(`{"host":"h1","reason":"maintenance","expires_at":%q}`, exp)
	require.Equal(t, http.StatusForbidden, do(h, "POST", "/api/v1/suppressions", body, rd...).Code, "read scope cannot add")
	for _, bad := range []struct {
		body string
		code int
	}{
		{`{"expires_at":"` + exp + `"}`, 422},                   // no match field
		{`{"vm":"v"}`, 422},                                     // no expiry
		{`{"vm":"v","expires_at":"2000-01-01T00:00:00Z"}`, 422}, // past
		{`{"vm":"v","expires_at":"soon"}`, 400},
		{`{"vm":"v","colour":"red"}`, 400},
	} {
		w := do(h, "POST", "/api/v1/suppressions", bad.body, wr...)
		require.Equal(t, bad.code, w.Code, bad.body)
		require.Equal(t, "application/problem+json", w.Header().Get("Content-Type"))
	}
	w := do(h, "POST", "/api/v1/suppressions", body, wr...)
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	var rule Suppression
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &rule))
	require.Equal(t, "soc", rule.Author, "author defaults to the token name")
	require.Equal(t, "/api/v1/suppressions/"+rule.ID, w.Header().Get("Location"))

	w = do(h, "GET", "/api/v1/suppressions", "", rd...)
	require.Equal(t, http.StatusOK, w.Code)
	var list struct{ Data []Suppression }
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &list))
	require.Len(t, list.Data, 1)
	require.Equal(t, rule.ID, list.Data[0].ID)

	_, err = s.Upsert(ctx, featRec("a", 1))
	require.NoError(t, err)
	w = do(h, "GET", "/api/v1/anomalies/a", "", rd...)
	var got struct {
		Status       string `json:"status"`
		SuppressedBy string `json:"suppressed_by"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
	require.Equal(t, anomaly.StatusSuppressed, got.Status)
	require.Equal(t, rule.ID, got.SuppressedBy)
	w = do(h, "GET", "/api/v1/anomalies?status=suppressed", "", rd...)
	require.Contains(t, w.Body.String(), `"suppressed_by":"`+rule.ID+`"`)

	require.Equal(t, http.StatusForbidden, do(h, "DELETE", "/api/v1/suppressions/"+rule.ID, "", rd...).Code)
	require.Equal(t, http.StatusNoContent, do(h, "DELETE", "/api/v1/suppressions/"+rule.ID, "", wr...).Code)
	require.Equal(t, http.StatusNotFound, do(h, "DELETE", "/api/v1/suppressions/"+rule.ID, "", wr...).Code)
}

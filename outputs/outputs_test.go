package outputs

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/anomaly"
)

func rec(id string, rev int, sev string) anomaly.Record {
	at := time.Unix(1_700_000_000, int64(rev)*1e6).UTC()
	return anomaly.Record{ID: id, Revision: rev, Status: anomaly.StatusNew, Severity: sev, UpdatedAt: at, FirstSeen: at, LastSeen: at,
		Title: "VM exit storm", Host: "kvm-01", VM: anomaly.VM{ID: "vm-" + id}, RiskScore: 80,
		Detector: anomaly.Detector{ID: "ens", Name: "ensemble", Version: "v1"}, Attack: []anomaly.Attack{anomaly.EscapeToHost}}
}

// receiver counts the (id, revision) pairs it accepted.
type receiver struct {
	mu   sync.Mutex
	got  map[string]int
	down bool // answer 503
}

func newReceiver() *receiver { return &receiver{got: map[string]int{}} }

func (r *receiver) take(id string, rev int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got[fmt.Sprintf("%s/%d", id, rev)]++
}

func (r *receiver) snapshot() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for k, v := range r.got {
		out[k] = v
	}
	return out
}

func (r *receiver) setDown(d bool) {
	r.mu.Lock()
	r.down = d
	r.mu.Unlock()
}

// hecHandler is a Splunk HEC receiver.
func (r *receiver) hecHandler(t *testing.T, token string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		down := r.down
		r.mu.Unlock()
		if down {
			http.Error(w, `{"text":"Server is busy","code":9}`, http.StatusServiceUnavailable)
			return
		}
		if req.Method != http.MethodPost || req.URL.Path != HECPath {
			http.Error(w, "wrong endpoint", http.StatusNotFound)
			return
		}
		if req.Header.Get("Authorization") != "Splunk "+token {
			http.Error(w, `{"text":"Invalid token","code":4}`, http.StatusForbidden)
			return
		}
		var ev struct {
			Time       *float64        `json:"time"`
			Host       string          `json:"host"`
			Source     string          `json:"source"`
			Sourcetype string          `json:"sourcetype"`
			Event      *anomaly.Record `json:"event"`
		}
		if err := json.NewDecoder(req.Body).Decode(&ev); err != nil || ev.Time == nil || ev.Event == nil || ev.Host == "" || ev.Source == "" || ev.Sourcetype == "" {
			t.Errorf("bad HEC envelope: %v %+v", err, ev)
			http.Error(w, `{"text":"Invalid data format","code":6}`, http.StatusBadRequest)
			return
		}
		r.take(ev.Event.ID, ev.Event.Revision)
		_, _ = io.WriteString(w, `{"text":"Success","code":0}`)
	})
}

func (r *receiver) webhookHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var got anomaly.Record
		if err := json.NewDecoder(req.Body).Decode(&got); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if req.Header.Get("Idempotency-Key") != fmt.Sprintf("%s/%d", got.ID, got.Revision) {
			http.Error(w, "bad idempotency key", http.StatusBadRequest)
			return
		}
		r.take(got.ID, got.Revision)
		w.WriteHeader(http.StatusAccepted)
	})
}

func runDispatcher(t *testing.T, d *Dispatcher) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	return func() {
		cancel()
		require.NoError(t, <-done)
	}
}

func fastConfig(dir string, targets ...Target) Config {
	return Config{SpoolDir: dir, Targets: targets, MinBackoff: 5 * time.Millisecond, MaxBackoff: 40 * time.Millisecond, SendTimeout: 2 * time.Second}
}

func TestHECEnvelopeAndSeverityFilter(t *testing.T) {
	rcv := newReceiver()
	srv := httptest.NewServer(rcv.hecHandler(t, "s3cret"))
	defer srv.Close()
	hec, err := NewHEC(HECConfig{URL: srv.URL, Token: "s3cret"})
	require.NoError(t, err)
	d, err := New(fastConfig(t.TempDir(), Target{Output: hec, MinSeverity: "high"}), nil, nil)
	require.NoError(t, err)
	defer d.Close()
	stop := runDispatcher(t, d)
	defer stop()

	ctx := context.Background()
	suppressed := rec("s", 1, "critical")
	suppressed.Status = anomaly.StatusSuppressed
	for _, r := range []anomaly.Record{rec("a", 1, "low"), rec("b", 1, "high"), rec("c", 1, "critical"), rec("d", 1, "medium"), suppressed} {
		require.NoError(t, d.Enqueue(ctx, r))
	}
	require.Eventually(t, func() bool { return len(rcv.snapshot()) == 2 }, 5*time.Second, 5*time.Millisecond)
	time.Sleep(50 * time.Millisecond) // nothing else arrives
	require.Equal(t, map[string]int{"b/1": 1, "c/1": 1}, rcv.snapshot())
}

func TestHECRejectsBadToken(t *testing.T) {
	rcv := newReceiver()
	srv := httptest.NewServer(rcv.hecHandler(t, "right"))
	defer srv.Close()
	hec, err := NewHEC(HECConfig{URL: srv.URL, Token: "wrong"})
	require.NoError(t, err)
	err = hec.Send(context.Background(), rec("a", 1, "high"))
	require.ErrorContains(t, err, "403")
	_, err = NewHEC(HECConfig{URL: "splunk:8088", Token: "x"})
	require.Error(t, err)
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// TestOutageAndRestartLosesNothingSendsOnce: the webhook receiver is not
// listening and HEC answers 503 while records arrive; the process (the
// dispatcher) restarts on the same spool; the receivers come back. Every
// (id, revision) arrives exactly once at each, including duplicates handed
// over before and after delivery.
func TestOutageAndRestartLosesNothingSendsOnce(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	hecRcv, hookRcv := newReceiver(), newReceiver()
	hecRcv.setDown(true)
	hecSrv := httptest.NewServer(hecRcv.hecHandler(t, "tok"))
	defer hecSrv.Close()
	hookAddr := freeAddr(t)

	targets := func() []Target {
		hec, err := NewHEC(HECConfig{URL: hecSrv.URL, Token: "tok"})
		require.NoError(t, err)
		hook, err := NewWebhook(WebhookConfig{URL: "http://" + hookAddr + "/hook"})
		require.NoError(t, err)
		return []Target{{Output: hec}, {Output: hook}}
	}
	want := map[string]int{}
	var all []anomaly.Record
	for i := range 20 {
		r := rec(fmt.Sprintf("a%02d", i%10), i/10+1, anomaly.Severities[i%5])
		all = append(all, r)
		want[fmt.Sprintf("%s/%d", r.ID, r.Revision)] = 1
	}

	d1, err := New(fastConfig(dir, targets()...), nil, nil)
	require.NoError(t, err)
	stop := runDispatcher(t, d1)
	for _, r := range all[:15] {
		require.NoError(t, d1.Enqueue(ctx, r))
		require.NoError(t, d1.Enqueue(ctx, r)) // a topic duplicate
	}
	time.Sleep(100 * time.Millisecond) // several failed attempts with backoff
	n, err := d1.Pending(ctx, "webhook")
	require.NoError(t, err)
	require.Equal(t, 15, n)
	stop()
	require.NoError(t, d1.Close())
	require.Empty(t, hecRcv.snapshot())

	// Restart on the same spool; the receivers come back.
	d2, err := New(fastConfig(dir, targets()...), nil, nil)
	require.NoError(t, err)
	defer d2.Close()
	for _, r := range all[10:] { // overlaps what the first process spooled
		require.NoError(t, d2.Enqueue(ctx, r))
	}
	ln, err := net.Listen("tcp", hookAddr)
	require.NoError(t, err)
	hookSrv := &http.Server{Handler: hookRcv.webhookHandler(), ReadHeaderTimeout: time.Second}
	go func() { _ = hookSrv.Serve(ln) }()
	defer hookSrv.Close()
	hecRcv.setDown(false)
	stop = runDispatcher(t, d2)
	defer stop()
	for _, rc := range []*receiver{hecRcv, hookRcv} {
		require.Eventually(t, func() bool { return len(rc.snapshot()) == len(want) }, 10*time.Second, 10*time.Millisecond)
	}
	for _, r := range all { // handed over again after delivery: not sent again
		require.NoError(t, d2.Enqueue(ctx, r))
	}
	time.Sleep(100 * time.Millisecond)
	require.Equal(t, want, hecRcv.snapshot())
	require.Equal(t, want, hookRcv.snapshot())
	for _, o := range []string{"hec", "webhook"} {
		n, err := d2.Pending(ctx, o)
		require.NoError(t, err)
		require.Zero(t, n, o)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	hook, err := NewWebhook(WebhookConfig{URL: "http://127.0.0.1:1/"})
	require.NoError(t, err)
	_, err = New(Config{SpoolDir: t.TempDir(), Targets: []Target{{Output: hook, MinSeverity: "urgent"}}}, nil, nil)
	require.ErrorContains(t, err, "urgent")
	_, err = New(Config{SpoolDir: t.TempDir(), Targets: []Target{{Output: hook}, {Output: hook}}}, nil, nil)
	require.ErrorContains(t, err, "two outputs")
	_, err = New(Config{Targets: []Target{{Output: hook}}}, nil, nil)
	require.ErrorContains(t, err, "--spool-dir")
	_, err = NewWebhook(WebhookConfig{URL: "ftp://x"})
	require.Error(t, err)
}

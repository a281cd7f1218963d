package ui_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/anomaly"
	"github.com/escapement/escapement/api"
	"github.com/escapement/escapement/api/ui"
)

func TestHandlerServesTheEmbeddedPage(t *testing.T) {
	h := ui.Handler()
	for _, tc := range []struct {
		path, ctype, contains string
		code                  int
	}{
		{"/ui/", "text/html", `<script src="app.js"`, 200},
		{"/ui/app.js", "javascript", "If-Match", 200},
		{"/ui/style.css", "text/css", ".sev-critical", 200},
		{"/ui/missing.js", "", "", 404},
		{"/ui/static/app.js", "", "", 404},
		{"/other", "", "", 404},
	} {
		t.Run(tc.path, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("GET", tc.path, nil))
			require.Equal(t, tc.code, w.Code)
			if tc.code != 200 {
				return
			}
			require.Contains(t, w.Header().Get("Content-Type"), tc.ctype)
			require.Contains(t, w.Header().Get("Content-Security-Policy"), "script-src 'self'")
			require.Contains(t, w.Body.String(), tc.contains)
		})
	}
}

// record builds revision rev of an anomaly of vm seen at t0 + rev minutes.
func record(id string, rev int, vm, sev, title string, score float64, t0 time.Time) anomaly.Record {
	at := t0.Add(time.Duration(rev) * time.Minute)
	return anomaly.Record{
		ID: id, Revision: rev, Status: anomaly.StatusNew, CreatedAt: t0, UpdatedAt: at,
		FirstSeen: t0, LastSeen: at, Severity: sev, RiskScore: score * 10, Confidence: 0.9, Title: title,
		Detector: anomaly.Detector{ID: "ens-v3", Name: "ensemble", Version: "v3", Type: "ensemble"},
		Host:     "kvm-host-7", VM: anomaly.VM{ID: vm, Name: vm + "-web", VMM: "qemu"},
		Attack: []anomaly.Attack{anomaly.EscapeToHost},
		Anomaly: anomaly.Detail{Score: score, Threshold: 4.2, Windows: rev, Window: anomaly.Window{Start: t0, End: at},
			Detectors: []string{"iforest", "hst"}, Class: "device_emulation",
			Features: []anomaly.Feature{
				{Name: "exit.io_instruction.rate", Observed: 8123.5, Baseline: 412.25, Z: 9.7},
				{Name: "vmm.syscall.ioctl.rate", Observed: 3.5, Baseline: 120, Z: -4.1},
			}},
	}
}

func chromiumPath(t *testing.T) string {
	if p := os.Getenv("ESCAPEMENT_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium on PATH: install Debian's chromium (apt-get install chromium, or scripts/ci-deps) or set ESCAPEMENT_CHROMIUM to a Chrome binary to run the browser test")
	return ""
}

// TestPageInHeadlessChromium serves the API over a real SQLite store with the
// page, and drives headless Chromium through the fleet, the filters, an
// anomaly's detail, and triage with If-Match, stale ETag included.
func TestPageInHeadlessChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium; skipped with -short")
	}
	bin := chromiumPath(t)
	dir := t.TempDir()
	store, err := api.OpenSQLite(filepath.Join(dir, "anomalies.db"), nil, nil)
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	ctx := context.Background()
	t0 := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Second)
	recs := []anomaly.Record{
		record("a-crit", 1, "vm-0042", "high", "Port-I/O exit storm on vm-0042", 5.1, t0),
		record("a-crit", 2, "vm-0042", "high", "Port-I/O exit storm on vm-0042", 6.3, t0),
		record("a-crit", 3, "vm-0042", "critical", "Port-I/O exit storm on vm-0042", 8.8, t0),
		record("a-low", 1, "vm-0007", "low", "Unusual MMIO fault mix on vm-0007", 4.4, t0.Add(10*time.Minute)),
		record("a-med", 1, "vm-0099", "medium", "VMM ioctl burst on vm-0099", 5.0, t0.Add(20*time.Minute)),
	}
	for _, r := range recs {
		ok, err := store.Upsert(ctx, r)
		require.NoError(t, err)
		require.True(t, ok)
	}
	srv, err := api.NewServer(api.ServerConfig{Store: store, LocalOnly: true}, nil, nil)
	require.NoError(t, err)
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.UserDataDir(filepath.Join(dir, "chromium")), chromedp.WindowSize(1360, 1000),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-default-browser-check", true),
	}
	actx, cancelA := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelA()
	bctx, cancelB := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer cancelB()
	bctx, cancelT := context.WithTimeout(bctx, 90*time.Second)
	defer cancelT()

	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		require.NoError(t, chromedp.Do(bctx, steps...), what)
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(sel)))
		require.NoError(t, err, "reading the text of %s", sel)
		return s
	}
	count := func(sel string) int {
		t.Helper()
		n, err := chromedp.Run(bctx, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", sel)))
		require.NoError(t, err, "counting %s", sel)
		return n
	}
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }

	// Overview: fleet riskiest first with sparklines, every anomaly listed.
	do("loading the overview",
		chromedp.Navigate(ts.URL+"/ui/"),
		chromedp.WaitVisible(css(`#anomalies tbody tr[data-id="a-med"]`)),
		chromedp.WaitVisible(css(`#fleet tbody tr:nth-child(3) svg.spark polyline`)))
	fleet, list := text(`#fleet tbody`), text(`#anomalies tbody`)
	require.Equal(t, 3, count(`#fleet svg.spark polyline`), "one sparkline per VM")
	require.Equal(t, 3, count(`#anomalies tbody tr`), "the latest revision of each anomaly")
	for _, r := range recs {
		require.Contains(t, list, r.Title)
	}
	require.Less(t, strings.Index(fleet, "vm-0042"), strings.Index(fleet, "vm-0099"), "riskiest VM first:\n%s", fleet)
	require.Less(t, strings.Index(fleet, "vm-0099"), strings.Index(fleet, "vm-0007"), "riskiest VM first:\n%s", fleet)
	pts, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector('#fleet tr[data-vm="vm-0042"] polyline').getAttribute("points")`))
	require.NoError(t, err)
	require.Len(t, strings.Fields(pts), 3, "vm-0042's sparkline has a point per revision")

	// Filters: severity at least high leaves only the critical anomaly.
	do("filtering by severity",
		chromedp.SetValue(css(`#filters select[name="severity_min"]`), "high"),
		chromedp.Click(css(`#filters button[type="submit"]`)),
		chromedp.WaitNotPresent(css(`#anomalies tbody tr[data-id="a-low"]`)))
	require.Equal(t, 1, count(`#anomalies tbody tr`))
	hash, err := chromedp.Run(bctx, chromedp.Evaluate[string](`location.hash`))
	require.NoError(t, err)
	require.Equal(t, "#/?severity_min=high", hash)

	// Detail: explanation, detectors, timeline and revisions.
	do("opening the detail",
		chromedp.Click(css(`#anomalies tbody tr[data-id="a-crit"] a`)),
		chromedp.WaitVisible(css(`#detail table.features`)),
		chromedp.WaitVisible(css(`#timeline svg.timeline circle.mine`)),
		chromedp.WaitVisible(css(`#revisions tbody tr`)))
	detail := text(`#detail`)
	for _, want := range []string{"Port-I/O exit storm on vm-0042", "exit.io_instruction.rate", "8123.500", "412.250", "9.7", "-4.1",
		"iforest, hst", "device_emulation", "T1611", "ensemble v3", "8.800 / 4.200"} {
		require.Contains(t, detail, want)
	}
	require.Equal(t, 3, count(`#revisions tbody tr`), "one row per stored revision")
	require.Equal(t, 3, count(`#timeline circle.mine`), "the incident's points are marked on the timeline")

	// Resolve, then a false-positive verdict: each a PATCH with If-Match.
	before, err := store.Get(ctx, "a-crit")
	require.NoError(t, err)
	do("resolving",
		chromedp.Click(css(`#detail button[data-action="resolve"]`)),
		chromedp.WaitVisible(css(`#detail button.resolve.active`)),
		chromedp.Click(css(`#detail button[data-action="false-positive"]`)),
		chromedp.WaitVisible(css(`#detail button.fp.active`)))
	require.Equal(t, "resolved", text(`#detail-status`))
	require.Equal(t, "false positive", text(`#detail-verdict`))
	after, err := store.Get(ctx, "a-crit")
	require.NoError(t, err)
	require.Equal(t, anomaly.StatusResolved, after.Status)
	require.Equal(t, anomaly.VerdictFalsePositive, after.Verdict)
	require.NotEqual(t, before.ETag, after.ETag)

	// A change made behind the page's back: its If-Match is stale, the
	// store keeps the other change and the page reloads and says so.
	other, assignee := anomaly.StatusInProgress, "carol"
	_, err = store.Patch(ctx, "a-crit", api.Patch{Status: &other, Assignee: &assignee}, after.ETag)
	require.NoError(t, err)
	do("triage with a stale ETag",
		chromedp.Click(css(`#detail button[data-action="reopen"]`)),
		chromedp.WaitVisible(css(`#message.error`)))
	require.Contains(t, text(`#message`), "changed this anomaly meanwhile")
	require.Equal(t, "in progress", text(`#detail-status`), "the page shows the other change")
	now, err := store.Get(ctx, "a-crit")
	require.NoError(t, err)
	require.Equal(t, anomaly.StatusInProgress, now.Status, "a stale PATCH must not overwrite")

	// Screenshot of the detail, then of the overview.
	for _, shot := range []struct{ name, hash, wait string }{
		{"ui-detail.png", "#/anomaly/a-crit", `#timeline svg.timeline`},
		{"ui.png", "#/", `#fleet tbody tr:nth-child(3) svg.spark polyline`},
	} {
		do("loading "+shot.hash,
			chromedp.Navigate("about:blank"), // a fresh page, not a hash change of the last one
			chromedp.Navigate(ts.URL+"/ui/"+shot.hash),
			chromedp.WaitVisible(css(shot.wait)),
			chromedp.Sleep(200*time.Millisecond)) // let the sparklines' fetches settle
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		require.NoError(t, err, "screenshot %s", shot.name)
		require.True(t, len(png) > 1000 && string(png[1:4]) == "PNG", "a PNG screenshot")
		p := filepath.Join(dir, shot.name)
		require.NoError(t, os.WriteFile(p, png, 0o644))
		t.Logf("screenshot: %s (%d bytes)", p, len(png))
		if out := os.Getenv("ESCAPEMENT_UI_SCREENSHOT_DIR"); out != "" {
			require.NoError(t, os.WriteFile(filepath.Join(out, shot.name), png, 0o644), fmt.Sprintf("copying the screenshot to %s", out))
		}
	}
}

package report

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

func ptr(v float64) *float64 { return &v }

// samplePage is a small evaluation: two detectors and the ensemble, three VMs
// (one with a detected scenario and an incident, one with a placebo, one
// quiet), and a hostile label that must come out escaped.
func samplePage() Page {
	t0 := time.Date(2025, 3, 1, 4, 0, 0, 0, time.UTC)
	tl := func(label string, peak int) Timeline {
		t := Timeline{Label: label, Threshold: 5, From: t0, To: t0.Add(2000 * time.Second)}
		for i := range 2000 {
			t.Times = append(t.Times, t0.Add(time.Duration(i)*time.Second))
			s := 0.1 * float64(i%7)
			if i == peak {
				s = 40
			}
			t.Scores = append(t.Scores, s)
		}
		return t
	}
	a := tl("ds-1/vm-a", 500)
	a.Scenarios = []Span{{From: t0.Add(499 * time.Second), To: t0.Add(560 * time.Second), Label: "msr-probing (flood)", Hit: true}}
	a.Incidents = []Span{{From: t0.Add(500 * time.Second), To: t0.Add(502 * time.Second), Label: "incident 1"}}
	b := tl("ds-1/vm-b", -1)
	b.Scenarios = []Span{{From: t0.Add(900 * time.Second), To: t0.Add(960 * time.Second), Label: "boot-scan (placebo)", Benign: true}}
	c := tl(`ds-1/<script>alert("x")</script>`, -1)
	roc := []Point{{0, 0.3}, {0.01, 0.35}, {0.5, 0.7}, {1, 1}}
	pr := []Point{{0.1, 1}, {0.35, 0.9}, {1, 0.02}}
	det := func(name string, auc float64) Detector {
		return Detector{Name: name, ROCAUC: ptr(auc), PRAUC: ptr(auc / 2), AtFPR: []Rate{{0.01, ptr(0.35)}, {0.001, nil}},
			Floods: [2]int{4, 4}, Stealthy: [2]int{0, 4}, FalseAlerts: 1, FalseAlertsPerVMDay: 0.5, ROC: roc, PR: pr}
	}
	return Page{
		Title: "Escapement evaluation", Generated: t0, Model: "93ef67bd65825fcd", Datasets: []string{"/tmp/ds-1"},
		Summary:   []Row{{"VMs, VM-days, windows", "3, 0.07, 6000"}, {"false alerts", "1 = 0.50 per VM-day"}},
		Detectors: []Detector{det("iforest", 0.7), det("zmax", 0.67), det("ensemble", 0.68)},
		Classes:   []Class{{Name: "msr-probing", Flood: [2]int{1, 1}}},
		Timelines: []Timeline{a, b, c}, Hidden: 5, Note: "3 of 8 VMs",
	}
}

func render(t *testing.T, p Page) string {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, Write(&buf, p))
	return buf.String()
}

func TestWriteStructure(t *testing.T) {
	page := render(t, samplePage())
	count := func(s string) int { return strings.Count(page, s) }
	require.Equal(t, 1, count(`data-chart="roc"`))
	require.Equal(t, 1, count(`data-chart="pr"`))
	require.Equal(t, 1, count(`data-chart="roc-log"`))
	require.Equal(t, 2, count(`class="fpr-mark"`))
	require.Equal(t, 3, count(`data-chart="timeline"`))
	for _, d := range []string{"iforest", "zmax", "ensemble"} {
		require.Equal(t, 3, count(`<polyline class="series" data-detector="`+d+`"`), "two ROC and a PR curve for %s", d)
		require.Contains(t, page, `<tr data-detector="`+d+`"`)
	}
	require.Equal(t, 3, count(`<polyline class="score"`))
	require.Equal(t, 3, count(`<line class="threshold"`))
	require.Equal(t, 1, count(`class="scenario hit"`))
	require.Equal(t, 1, count(`class="placebo"`))
	require.Equal(t, 1, count(`class="incident"`))
	require.Contains(t, page, "5 more VMs not shown")
	require.Contains(t, page, `<td>0.350</td><td>–</td>`, "a missing rate is a dash")

	// Self-contained: nothing is fetched.
	for _, re := range []string{`(?i)\bsrc=`, `(?i)<link\b`, `(?i)https?://`, `(?i)@import`, `(?i)url\(`} {
		require.NotRegexp(t, regexp.MustCompile(re), page)
	}
	// Caller strings are escaped, in text and in attributes.
	require.NotContains(t, page, `<script>alert`)
	require.Contains(t, page, `&lt;script&gt;alert`)
	require.Equal(t, 1, count("<script>"), "the page's own script only")

	// The score line is bucketed to the chart width, keeping the peak: the
	// highest point of vm-a sits at the top of the axis.
	m := regexp.MustCompile(`<polyline class="score" points="([^"]*)"`).FindStringSubmatch(page)
	require.NotNil(t, m)
	pts := strings.Fields(m[1])
	require.Len(t, pts, timelineBuckets)
	require.Contains(t, pts, findPoint(pts, "6.0"), "the flood's peak reaches the top of the chart")
}

// findPoint returns the first "x,y" point whose y is y.
func findPoint(pts []string, y string) string {
	for _, p := range pts {
		if strings.HasSuffix(p, ","+y) {
			return p
		}
	}
	return "no point at y=" + y
}

func TestWriteRejectsRaggedTimeline(t *testing.T) {
	p := samplePage()
	p.Timelines[0].Times = p.Timelines[0].Times[:10]
	require.ErrorContains(t, Write(&bytes.Buffer{}, p), "10 times and 2000 scores")
}

func chromium(t *testing.T) string {
	if p := os.Getenv("ESCAPEMENT_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium on PATH: install Debian's chromium (scripts/ci-deps) or set ESCAPEMENT_CHROMIUM to run the browser test")
	return ""
}

// TestPageInHeadlessChromium opens the page from a file, with no server and
// no network, and checks that it loads without console errors, that the
// charts are laid out, and that the legend and the VM filter work.
func TestPageInHeadlessChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium; skipped with -short")
	}
	bin := chromium(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "report.html")
	require.NoError(t, os.WriteFile(file, []byte(render(t, samplePage())), 0o644))

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.UserDataDir(filepath.Join(dir, "chromium")), chromedp.WindowSize(1300, 1000),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-default-browser-check", true),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	bctx, cancelB := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer cancelB()
	bctx, cancelT := context.WithTimeout(bctx, 60*time.Second)
	defer cancelT()
	require.NoError(t, chromedp.Do(bctx), "starting Chromium")

	cctx, stopConsole := context.WithCancel(bctx)
	defer stopConsole()
	messages := chromedp.Console(cctx)
	require.NoError(t, chromedp.Do(bctx,
		chromedp.Navigate("file://"+file),
		chromedp.WaitVisible(chromedp.CSS(`svg[data-chart="timeline"]`))))
	eval := func(js string) int {
		t.Helper()
		n, err := chromedp.Run(bctx, chromedp.Evaluate[int](js))
		require.NoError(t, err, js)
		return n
	}
	require.Equal(t, 6, eval(`document.querySelectorAll("svg[data-chart]").length`))
	require.Equal(t, 9, eval(`document.querySelectorAll("polyline.series").length`))
	// Laid out: every chart has a size on the page.
	require.Equal(t, 6, eval(`[...document.querySelectorAll("svg[data-chart]")].filter(s => s.getBoundingClientRect().width > 300).length`))

	// The legend hides a detector's curves; the filter hides VMs.
	require.NoError(t, chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`#legend span[data-detector="zmax"]`))))
	require.Equal(t, 3, eval(`[...document.querySelectorAll('polyline.series[data-detector="zmax"]')].filter(p => getComputedStyle(p).display === "none").length`), "both ROC charts and the PR chart")
	require.NoError(t, chromedp.Do(bctx, chromedp.SendKeys(chromedp.CSS(`#filter`), "placebo")))
	require.Equal(t, 1, eval(`[...document.querySelectorAll("#timelines .vm")].filter(v => v.style.display !== "none").length`))
	// The hostile label is text, not markup.
	require.Equal(t, 0, eval(`document.querySelectorAll("#timelines script").length`))

	// Everything logged up to a marker: no error, no exception.
	_, err := chromedp.Run(bctx, chromedp.Evaluate[any](`console.log("report-test-done")`))
	require.NoError(t, err)
	var problems []string
	for m, err := range messages {
		require.NoError(t, err)
		if m.Text == "report-test-done" {
			break
		}
		if m.IsException() || m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning {
			problems = append(problems, fmt.Sprint(m))
		}
	}
	require.Empty(t, problems, "console errors")
}

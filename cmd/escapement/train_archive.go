package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/escapement/escapement/anomaly"
	"github.com/escapement/escapement/api"
	"github.com/escapement/escapement/datasets"
	"github.com/escapement/escapement/datasets/archive"
	"github.com/escapement/escapement/features"
	"github.com/escapement/escapement/models"
	"github.com/escapement/escapement/models/defaultmodel"
	"github.com/escapement/escapement/training"
)

// archiveTrainFlags are the flags of train on an archive.
type archiveTrainFlags struct {
	since, until       string
	store, labels      string
	previous           string
	maxFit, maxHoldout int
}

func (f *archiveTrainFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.since, "since", "", "archive mode: first window start to read, an RFC 3339 `time` or a duration back from now (168h); empty = the oldest")
	fs.StringVar(&f.until, "until", "", "archive mode: read window starts before this RFC 3339 `time` or duration back from now (1h); empty = all")
	fs.StringVar(&f.store, "store", "", "anomaly store `file` (serve's anomalies.db): windows of incidents are left out, except those an analyst marked false_positive")
	fs.StringVar(&f.labels, "labels", "", "labels.json `file` of attack scenarios (vm_id, start, end) to leave out")
	fs.StringVar(&f.previous, "previous", "", "previous model `dir` the model card compares the data with (default: the built-in model)")
	fs.IntVar(&f.maxFit, "max-fit-rows", training.DefaultMaxFitRows, "archive mode: most windows kept (a seeded uniform sample) to fit on; bounds memory")
	fs.IntVar(&f.maxHoldout, "max-holdout-rows", training.DefaultMaxHoldoutRows, "archive mode: most held-out windows kept to calibrate on; bounds memory")
}

// parseWhen parses an RFC 3339 time or a duration before now.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time (2026-11-27T06:00:00Z) nor a duration back from now (72h)", s)
	}
	return t, nil
}

// exclusions gathers the spans to leave out from the store and a labels file.
func exclusions(store, labels string, stderr io.Writer) (*training.Exclusions, error) {
	var spans []training.Span
	if store != "" {
		incidents, err := api.ReadIncidentSpans(store)
		if err != nil {
			return nil, err
		}
		var tp, open, fp int
		for _, in := range incidents {
			switch in.Verdict {
			case anomaly.VerdictTruePositive:
				tp++
				spans = append(spans, training.Span{VMID: in.VMID, Start: in.FirstSeen, End: in.LastSeen, Reason: training.ReasonTruePositive, LeadWindows: training.DetectionWindows})
			case anomaly.VerdictFalsePositive:
				fp++ // benign by the analyst's word: keep, so the model learns it
			default:
				open++
				spans = append(spans, training.Span{VMID: in.VMID, Start: in.FirstSeen, End: in.LastSeen, Reason: training.ReasonIncident, LeadWindows: training.DetectionWindows})
			}
		}
		fmt.Fprintf(stderr, "store %s: %d incidents: %d true positive and %d without a verdict left out, %d false positive kept\n", store, len(incidents), tp, open, fp)
	}
	if labels != "" {
		b, err := os.ReadFile(labels)
		if err != nil {
			return nil, fmt.Errorf("labels: %w", err)
		}
		var ls []datasets.Label
		if err := json.Unmarshal(b, &ls); err != nil {
			return nil, fmt.Errorf("labels %s: %w (want a JSON array of {vm_id, start, end, placebo})", labels, err)
		}
		spans = append(spans, training.LabelSpans(ls)...)
		fmt.Fprintf(stderr, "labels %s: %d attack scenarios left out\n", labels, len(training.LabelSpans(ls)))
	}
	return training.NewExclusions(spans), nil
}

// loadPrevious loads the model the card compares with.
func loadPrevious(dir string) (*models.Artifact, error) {
	if dir == "" {
		return defaultmodel.Load(models.SchemaHash(features.Names()), features.Names())
	}
	return models.Load(dir, "", nil)
}

// trainArchive fits on an archive directory, streaming.
func trainArchive(dir, out string, af archiveTrainFlags, tc training.TrainConfig, stdout, stderr io.Writer) error {
	began := time.Now()
	since, err := parseWhen(af.since, began)
	if err != nil {
		return fmt.Errorf("--since: %w", err)
	}
	until, err := parseWhen(af.until, began)
	if err != nil {
		return fmt.Errorf("--until: %w", err)
	}
	if !since.IsZero() && !until.IsZero() && !since.Before(until) {
		return errors.New("--since must be before --until")
	}
	ex, err := exclusions(af.store, af.labels, stderr)
	if err != nil {
		return err
	}
	prev, err := loadPrevious(af.previous)
	if err != nil {
		fmt.Fprintf(stderr, "no drift comparison: %v\n", err)
		prev = nil
	}
	paths, err := archive.Files(dir, since, until)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return fmt.Errorf("archive %s has no files with window starts in [%s, %s): check --since/--until", dir, orOpen(since), orOpen(until))
	}
	bar := &progressBar{w: stderr, total: len(paths), began: began}
	var st datasets.ReadStats
	read := func(fn func([]string, []features.Row) error) error {
		for i, p := range paths {
			if err := archive.ReadFiles([]string{p}, since, until, datasets.ReadOptions{}, &st, fn); err != nil {
				return err
			}
			bar.files = i + 1
		}
		return nil
	}
	cfg := training.StreamConfig{
		Train:   tc,
		Sample:  training.SampleConfig{MaxFitRows: af.maxFit, MaxHoldoutRows: af.maxHoldout},
		Exclude: ex,
		Progress: func(r training.StreamReport) {
			bar.update(r, false)
		},
	}
	if prev != nil {
		cfg.Previous = prev.Drift
	}
	a, rep, err := training.StreamFit(read, features.Names(), cfg)
	if rep != nil {
		bar.update(*rep, true)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "read %d windows from %d files (%d row groups, %d skipped by their time range) in %s; left out %s; fitting on %d and calibrating on %d sampled windows\n",
		rep.Read, len(paths), st.RowGroups, st.SkippedRowGroups, rep.Elapsed.Round(time.Millisecond), excludedString(rep.Excluded),
		rep.Sample.KeptFit, rep.Sample.KeptHoldout)
	if err := a.Save(out); err != nil {
		return err
	}
	card := training.BuildCard(a, rep, dir, since, until, prev)
	if err := card.Write(out); err != nil {
		return err
	}
	if d := card.Drift; d != nil {
		fmt.Fprintf(stderr, "drift against model %s: max PSI %.3f, %d features moderate (0.1-0.25), %d major (>= 0.25); see %s\n",
			d.PreviousVersion, d.Max, d.Moderate, d.Major, training.CardMarkdown)
	} else {
		fmt.Fprintf(stderr, "no drift comparison: %s\n", card.DriftNote)
	}
	al := a.Manifest.Calibration.Alert
	fmt.Fprintf(stdout, "wrote model %s to %s in %s: %d windows read, threshold %.3f (%s tail, %s) for %.2g false incidents per VM-day; model card %s\n",
		a.Manifest.ModelVersion, out, time.Since(began).Round(time.Second), rep.Read, al.Threshold, al.Method, crossFitNote(al.CrossFitted), al.Budget, training.CardMarkdown)
	return nil
}

func orOpen(t time.Time) string {
	if t.IsZero() {
		return "open"
	}
	return t.Format(time.RFC3339)
}

func excludedString(m map[string]int64) string {
	if len(m) == 0 {
		return "no windows"
	}
	var parts []string
	for _, r := range []string{training.ReasonTruePositive, training.ReasonLabel, training.ReasonIncident} {
		if m[r] > 0 {
			parts = append(parts, fmt.Sprintf("%d windows (%s)", m[r], r))
		}
	}
	return strings.Join(parts, ", ")
}

// progressBar draws one self-overwriting line on stderr, at most every
// 200 ms.
type progressBar struct {
	w            io.Writer
	total, files int
	began, last  time.Time
}

func (b *progressBar) update(r training.StreamReport, final bool) {
	now := time.Now()
	if !final && now.Sub(b.last) < 200*time.Millisecond {
		return
	}
	b.last = now
	const width = 30
	done := width * b.files / max(b.total, 1)
	rate := float64(r.Read) / max(now.Sub(b.began).Seconds(), 1e-9)
	var ex int64
	for _, n := range r.Excluded {
		ex += n
	}
	fmt.Fprintf(b.w, "\r[%s%s] %d/%d files, %s windows (%s/s), %s left out, sample %s+%s",
		strings.Repeat("=", done), strings.Repeat(" ", width-done), b.files, b.total,
		human(float64(r.Read)), human(rate), human(float64(ex)), human(float64(r.Sample.KeptFit)), human(float64(r.Sample.KeptHoldout)))
	if final {
		fmt.Fprintln(b.w)
	}
}

// writeDatasetCard writes the model card of a model fitted in dataset mode:
// every benign row was fitted or held out, and the drift against the
// previous model is over all of them.
func writeDatasetCard(a *models.Artifact, rows []features.Row, info trainInfo, src, previous, out string, stderr io.Writer) error {
	tr := a.Manifest.Training
	rep := &training.StreamReport{
		Read:     int64(len(rows) + info.excluded),
		Excluded: map[string]int64{},
		Sample: training.SampleStats{Seen: int64(len(rows)), SeenFit: int64(tr.Rows), SeenHoldout: int64(tr.HoldoutRows),
			KeptFit: tr.Rows, KeptHoldout: tr.HoldoutRows},
		From: tr.From, To: tr.To, HoldoutBy: tr.HoldoutBy,
	}
	if info.excluded > 0 {
		rep.Excluded[training.ReasonLabel] = int64(info.excluded)
	}
	prev, err := loadPrevious(previous)
	if err != nil {
		fmt.Fprintf(stderr, "no drift comparison: %v\n", err)
		prev = nil
	}
	if prev != nil && prev.Drift != nil && slices.Equal(prev.Drift.Features, a.Manifest.FeatureNames) {
		c := prev.Drift.NewCounter()
		for i := range rows {
			c.Add(rows[i].Values)
		}
		rep.PreviousPSI = c.PSI()
	}
	return training.BuildCard(a, rep, src, time.Time{}, time.Time{}, prev).Write(out)
}

// Command bench-sklearn compares Escapement's detectors with scikit-learn's
// IsolationForest on the same feature vectors, in one run.
//
// It reads labelled datasets (escapement dataset generate), standardises
// every window with the default model's Standardizer (the vectors the
// detectors see), rounds them to float32 (what scikit-learn's trees compare
// against; both sides then score identical vectors), and writes them for
// Python. Both isolation forests are fitted on the same sample of benign
// windows with the same number of trees and subsample size; both score every
// window. It prints per-window ROC-AUC and PR-AUC of each (windows inside
// attack scenarios are positive), the scoring throughput of each of the
// default model's detectors and of both forests in vectors per CPU-second
// (per core), and our forest's throughput as a multiple of scikit-learn's.
//
// scikit-learn comes from Debian (apt-get install python3-sklearn); the
// script runs /usr/bin/python3 unless -python says otherwise.
//
// Usage (from the repository root):
//
//	go run ./scripts/bench-sklearn -data /tmp/eval30/ds-1
package main

import (
	_ "embed"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/escapement/escapement/datasets"
	"github.com/escapement/escapement/features"
	"github.com/escapement/escapement/models"
	"github.com/escapement/escapement/models/defaultmodel"
	"github.com/escapement/escapement/models/iforest"
	"github.com/escapement/escapement/training"
)

//go:embed iforest.py
var script []byte

func main() {
	data := flag.String("data", "", "comma-separated dataset `directories` (features.parquet, labels.json)")
	trainRows := flag.Int("train", 20000, "benign windows both forests are fitted on")
	trees := flag.Int("trees", iforest.DefaultTrees, "trees (t) of both forests")
	psi := flag.Int("psi", iforest.DefaultSubsample, "subsample size (ψ) of both forests")
	seed := flag.Uint64("seed", 1, "seed of the training sample and of both forests")
	python := flag.String("python", "/usr/bin/python3", "Python with scikit-learn (Debian python3-sklearn)")
	flag.Parse()
	if err := run(strings.Split(*data, ","), *trainRows, *trees, *psi, *seed, *python); err != nil {
		fmt.Fprintln(os.Stderr, "bench-sklearn:", err)
		os.Exit(1)
	}
}

func run(dirs []string, trainRows, trees, psi int, seed uint64, python string) error {
	if len(dirs) == 0 || dirs[0] == "" {
		return errors.New("-data DIR[,DIR] is required (make one with `escapement dataset generate`)")
	}
	model, err := defaultmodel.Load(models.SchemaHash(features.Names()), features.Names())
	if err != nil {
		return err
	}
	dim := model.Standardizer.Dim()
	var X [][]float64
	var labels []bool
	for _, dir := range dirs {
		ls, err := datasets.ReadLabels(dir)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		err = datasets.ReadFeatures(filepath.Join(dir, datasets.FeaturesFile), func(_ []string, rows []features.Row) error {
			for _, r := range rows {
				z := model.Standardizer.Transform(r.Values, nil)
				for j, v := range z {
					z[j] = float64(float32(v))
				}
				X = append(X, z)
				labels = append(labels, inside(r, ls))
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("read %s: %w", dir, err)
		}
	}
	var benign []int
	for i, l := range labels {
		if !l {
			benign = append(benign, i)
		}
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	rng.Shuffle(len(benign), func(i, j int) { benign[i], benign[j] = benign[j], benign[i] })
	train := make([][]float64, 0, trainRows)
	for _, i := range benign[:min(trainRows, len(benign))] {
		train = append(train, X[i])
	}
	fmt.Fprintf(os.Stderr, "%d windows (%d in attack scenarios), %d features; fitting on %d benign windows\n",
		len(X), len(X)-len(benign), dim, len(train))

	tmp, err := os.MkdirTemp("", "bench-sklearn-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	paths := map[string]string{}
	for _, f := range []string{"train.f32", "test.f32", "scores.f64", "iforest.py"} {
		paths[f] = filepath.Join(tmp, f)
	}
	if err := writeF32(paths["train.f32"], train); err != nil {
		return err
	}
	if err := writeF32(paths["test.f32"], X); err != nil {
		return err
	}
	if err := os.WriteFile(paths["iforest.py"], script, 0o644); err != nil {
		return err
	}

	type row struct {
		name          string
		scores        []float64
		fitCPU, score float64 // CPU seconds
	}
	var rows []row
	// Ours: a forest fitted on the same sample with the same t and ψ.
	ours := iforest.New(trees, psi)
	c0 := cpu()
	if err := ours.Fit(train, rand.New(rand.NewPCG(seed, 1))); err != nil {
		return err
	}
	fitCPU := cpu() - c0
	r := row{name: fmt.Sprintf("iforest (ours, t=%d, ψ=%d)", trees, psi), fitCPU: fitCPU}
	r.scores, r.score = scoreAll(ours.Score, X)
	rows = append(rows, r)

	// scikit-learn.
	cmd := exec.Command(python, paths["iforest.py"], paths["train.f32"], paths["test.f32"], fmt.Sprint(dim),
		fmt.Sprint(trees), fmt.Sprint(psi), fmt.Sprint(seed), paths["scores.f64"])
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=1", "OPENBLAS_NUM_THREADS=1", "MKL_NUM_THREADS=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("%s: %w (install scikit-learn: apt-get install python3-sklearn, or pass -python)", python, err)
	}
	var py struct {
		Version  string  `json:"version"`
		FitCPU   float64 `json:"fit_cpu_s"`
		ScoreCPU float64 `json:"score_cpu_s"`
		Rows     int     `json:"rows"`
	}
	if err := json.Unmarshal(out, &py); err != nil {
		return fmt.Errorf("reading the Python result %q: %w", out, err)
	}
	sk, err := readF64(paths["scores.f64"], len(X))
	if err != nil {
		return err
	}
	rows = append(rows, row{name: fmt.Sprintf("IsolationForest (scikit-learn %s, t=%d, ψ=%d)", py.Version, trees, psi), scores: sk, fitCPU: py.FitCPU, score: py.ScoreCPU})

	// The default model's detectors, alone, on the same vectors.
	for _, d := range model.Detectors {
		r := row{name: fmt.Sprintf("%s (default model %s)", d.Name(), model.Manifest.ModelVersion), fitCPU: math.NaN()}
		r.scores, r.score = scoreAll(d.Score, X)
		rows = append(rows, r)
	}

	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DETECTOR\tROC-AUC\tPR-AUC\tFIT CPU-S\tSCORE VECTORS/CPU-S")
	for _, r := range rows {
		fit := "-"
		if !math.IsNaN(r.fitCPU) {
			fit = fmt.Sprintf("%.2f", r.fitCPU)
		}
		fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%s\t%.0f\n", r.name, training.ROCAUC(r.scores, labels), training.PRAUC(r.scores, labels),
			fit, float64(len(X))/r.score)
	}
	tw.Flush()
	fmt.Printf("our forest scores %.1f× as many vectors per CPU-second as scikit-learn's (%d windows, %d features)\n",
		rows[1].score/rows[0].score, len(X), dim)
	return nil
}

// scoreAll scores every vector and returns the scores and the CPU seconds.
func scoreAll(score func([]float64) float64, X [][]float64) ([]float64, float64) {
	out := make([]float64, len(X))
	c0 := cpu()
	for i, x := range X {
		out[i] = score(x)
	}
	return out, cpu() - c0
}

// inside reports whether row r overlaps a non-placebo scenario of its VM.
func inside(r features.Row, ls []datasets.Label) bool {
	for _, l := range ls {
		if !l.Placebo && l.VMID == r.VMID && r.End > l.Start.UnixNano() && r.Start < l.End.UnixNano() {
			return true
		}
	}
	return false
}

func writeF32(path string, X [][]float64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	buf := make([]byte, 0, 4*len(X[0]))
	for _, x := range X {
		buf = buf[:0]
		for _, v := range x {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(float32(v)))
		}
		if _, err := f.Write(buf); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

func readF64(path string, n int) ([]float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) != 8*n {
		return nil, fmt.Errorf("%s: %d bytes, want %d scores", path, len(b), n)
	}
	out := make([]float64, n)
	for i := range out {
		out[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return out, nil
}

// cpu is the user+system CPU time of this process so far, in seconds.
func cpu() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return math.NaN()
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

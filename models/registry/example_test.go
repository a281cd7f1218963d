package registry_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/escapement/escapement/features"
	"github.com/escapement/escapement/models/registry"
	"github.com/escapement/escapement/training"
)

// A trained artifact is added, made champion, and found again by a scorer
// polling the pointer.
func Example() {
	tmp, _ := os.MkdirTemp("", "registry-example-")
	defer os.RemoveAll(tmp)

	// Train a tiny model (escapement train does this on real data).
	rng := rand.New(rand.NewPCG(1, 2))
	var rows []features.Row
	for v := range 4 {
		for i := range 200 {
			s := time.Date(2025, 1, 1, 0, 0, i, 0, time.UTC).UnixNano()
			rows = append(rows, features.Row{VMID: fmt.Sprint("vm-", v), Start: s, End: s + int64(time.Second),
				Values: []float64{100 * rng.ExpFloat64(), 10 * rng.ExpFloat64()}})
		}
	}
	a, err := training.Fit(rows, []string{"exit_io_rate", "exit_msr_rate"}, training.TrainConfig{Seed: 1, Trees: 10})
	if err != nil {
		panic(err)
	}
	if err := a.Save(filepath.Join(tmp, "candidate")); err != nil {
		panic(err)
	}

	reg, err := registry.Open(filepath.Join(tmp, "registry"), nil)
	if err != nil {
		panic(err)
	}
	m, err := reg.Add(filepath.Join(tmp, "candidate"), "", nil)
	if err != nil {
		panic(err)
	}
	// The gate (training/gate) would decide here; the first model has no
	// champion to beat.
	if err := reg.SetChampion("", registry.Entry{Actor: "example", Action: registry.ActionPromote, Version: m.ModelVersion, Reason: "first model"}); err != nil {
		panic(err)
	}
	champ, _ := reg.Champion()
	fmt.Println("champion is the candidate:", champ == m.ModelVersion)
	vs, _ := reg.List()
	fmt.Println(vs[0].Status, vs[0].LastAction, vs[0].Rows > 0)
	// Output:
	// champion is the candidate: true
	// champion promote true
}

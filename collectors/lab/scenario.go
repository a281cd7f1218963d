package lab

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// SpecForScenario turns a command-line scenario into a Spec: "NAME" runs
// workload NAME at its natural rate (attacks: flood), "NAME:flood" and
// "NAME:stealthy" choose the rate; a benign NAME with a rate is a placebo.
// The VM is named "lab-NAME-<rate>".
func SpecForScenario(scenario string, d time.Duration, seed uint64) (Spec, error) {
	name, rate, _ := strings.Cut(scenario, ":")
	w, err := Lookup(name)
	if err != nil {
		return Spec{}, err
	}
	if _, err := w.timingFor(rate, nil); err != nil && rate != RateNatural {
		return Spec{}, err
	}
	vm := "lab-" + name
	if rate != "" {
		vm += "-" + rate
	}
	return Spec{Name: vm, Workload: name, Rate: rate, Duration: d, Seed: seed}, nil
}

// WriteTruth writes the labels as a JSON array of scenarios, the form of
// sim.Fleet.WriteTruth and of a dataset's labels.json.
func (r PlanResult) WriteTruth(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	labels := r.Labels
	if labels == nil {
		labels = r.Labels[:0:0]
	}
	if err := enc.Encode(labels); err != nil {
		return fmt.Errorf("lab: write ground truth: %w", err)
	}
	return nil
}

package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/escapement/escapement/collectors/sim"
	"gopkg.in/yaml.v3"
)

// Plan is a lab run: VMs with opaque names, each with a base workload and
// windows in which it runs something else (an attack at a rate, or a
// benign workload at an attack's rate: a placebo). Written in YAML or JSON:
//
//	seed: 42
//	duration: 2m
//	vms:
//	  - name: vm-a
//	    workload: net-mmio
//	    windows:
//	      - {workload: venom-floppy-fifo, rate: flood, start: 30s, duration: 20s}
//	  - name: vm-b
//	    workload: disk-io
//	    windows:
//	      - {workload: console, rate: flood, start: 40s, duration: 20s}
type Plan struct {
	Seed     uint64   `yaml:"seed" json:"seed"`
	Duration Duration `yaml:"duration" json:"duration"`
	VMs      []PlanVM `yaml:"vms" json:"vms"`
}

// PlanVM is one VM of a plan.
type PlanVM struct {
	Name     string `yaml:"name" json:"name"`
	Workload string `yaml:"workload" json:"workload"` // benign base workload
	VCPUs    int    `yaml:"vcpus,omitempty" json:"vcpus,omitempty"`
	// VMM is what runs the VM: VMMLab ("" or "lab", the lab's own VMM,
	// Workload one of Workloads) or VMMQEMU ("qemu": qemu-system-x86_64,
	// Workload one of QEMUWorkloads; windows only on QEMUConsolePIT, only
	// QEMUAttacks at flood rate, started once the boot sector runs).
	VMM     string   `yaml:"vmm,omitempty" json:"vmm,omitempty"`
	Windows []Window `yaml:"windows,omitempty" json:"windows,omitempty"`
	// Level pins the natural intensity of the VM's benign workloads at this
	// point of their range, 0 (lowest) to 1 (highest), instead of drawing
	// it from the seed. A training plan sets VMs of a workload at 0 and 1 so
	// the model sees the whole range the workload can run at.
	Level *float64 `yaml:"level,omitempty" json:"level,omitempty"`
	// Settle, for a QEMU VM with windows, holds each window back until the
	// boot sector has run for at least this long (from its first line on
	// the serial port). The VM's first feature window comes before its
	// boot, so an attack held back by the grace a model gives a VM's first
	// windows (train --grace-windows N: settle N seconds or more with 1 s
	// windows) falls after that grace however slowly QEMU starts.
	Settle Duration `yaml:"settle,omitempty" json:"settle,omitempty"`
}

// Window is a stretch of a VM's run given to another workload.
type Window struct {
	Workload string   `yaml:"workload" json:"workload"`
	Rate     string   `yaml:"rate" json:"rate"` // flood or stealthy
	Start    Duration `yaml:"start" json:"start"`
	Duration Duration `yaml:"duration" json:"duration"`
}

// Duration is a time.Duration written as a Go duration string ("30s").
type Duration time.Duration

// UnmarshalYAML reads "30s" or a number of seconds.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error { return d.parse(n.Value) }

// UnmarshalJSON reads "30s" or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error { return d.parse(string(bytes.Trim(b, `"`))) }

// MarshalJSON writes a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) parse(s string) error {
	if v, err := time.ParseDuration(s); err == nil {
		*d = Duration(v)
		return nil
	}
	var secs float64
	if _, err := fmt.Sscanf(s, "%g", &secs); err != nil {
		return fmt.Errorf("lab: duration %q: write a Go duration such as 30s or 2m", s)
	}
	*d = Duration(secs * float64(time.Second))
	return nil
}

// LoadPlan reads and validates a plan file (YAML or JSON).
func LoadPlan(path string) (Plan, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Plan{}, fmt.Errorf("lab: read plan: %w", err)
	}
	return ParsePlan(b)
}

// ParsePlan decodes and validates a plan (YAML or JSON).
func ParsePlan(b []byte) (Plan, error) {
	var p Plan
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		return p, fmt.Errorf("lab: decode plan: %w", err)
	}
	return p, p.Validate()
}

// Validate checks names, workloads, rates and that every window lies inside
// the run without overlapping another of its VM.
func (p Plan) Validate() error {
	if p.Duration <= 0 {
		return errors.New("lab: plan duration must be positive")
	}
	if len(p.VMs) == 0 {
		return errors.New("lab: plan has no VMs: list at least one under vms")
	}
	seen := map[string]bool{}
	for _, v := range p.VMs {
		if !validName.MatchString(v.Name) || seen[v.Name] {
			return fmt.Errorf("lab: plan VM name %q is invalid or repeated: use unique names of letters, digits, '.', '_', '-'", v.Name)
		}
		seen[v.Name] = true
		if v.Level != nil && !(*v.Level >= 0 && *v.Level <= 1) {
			return fmt.Errorf("lab: VM %s: level %v: give a point of the workload's range from 0 (lowest) to 1 (highest), or leave it out to draw it from the seed", v.Name, *v.Level)
		}
		if v.Settle < 0 || (v.Settle > 0 && (v.VMM != VMMQEMU || len(v.Windows) == 0)) {
			return fmt.Errorf("lab: VM %s: settle %v: give a non-negative duration, and only to a QEMU VM with windows", v.Name, time.Duration(v.Settle))
		}
		if v.Level != nil && v.VMM == VMMQEMU {
			return fmt.Errorf("lab: VM %s: level applies to the lab's own workloads; QEMU guests run at their own pace: remove it", v.Name)
		}
		switch v.VMM {
		case "", VMMLab:
			base, err := Lookup(v.Workload)
			if err != nil {
				return fmt.Errorf("lab: VM %s: %w", v.Name, err)
			}
			if !base.Benign {
				return fmt.Errorf("lab: VM %s: base workload %s is an attack: give a benign base and put attacks in windows", v.Name, v.Workload)
			}
		case VMMQEMU:
			if err := validateQEMU(v); err != nil {
				return err
			}
		default:
			return fmt.Errorf("lab: VM %s: vmm %q: use lab or qemu", v.Name, v.VMM)
		}
		ws := append([]Window(nil), v.Windows...)
		sort.Slice(ws, func(i, j int) bool { return ws[i].Start < ws[j].Start })
		var end Duration
		for _, w := range ws {
			if v.VMM == VMMQEMU {
				if err := validateQEMUWindow(v, w); err != nil {
					return err
				}
			} else if _, err := Lookup(w.Workload); err != nil {
				return fmt.Errorf("lab: VM %s: %w", v.Name, err)
			}
			if w.Rate != RateFlood && w.Rate != RateStealthy {
				return fmt.Errorf("lab: VM %s window %s at %v: rate %q: use flood or stealthy", v.Name, w.Workload, time.Duration(w.Start), w.Rate)
			}
			if w.Duration <= 0 || w.Start < end || w.Start+w.Duration > p.Duration {
				return fmt.Errorf("lab: VM %s window %s at %v for %v overlaps another or leaves the run of %v",
					v.Name, w.Workload, time.Duration(w.Start), time.Duration(w.Duration), time.Duration(p.Duration))
			}
			end = w.Start + w.Duration
		}
	}
	return nil
}

// Groups maps each VM of the plan to its group, "VMM/base workload"
// ("lab/disk-io", "qemu/firmware"): what training stratifies its hold-out
// by (training.TrainConfig.Strata), so that VMs of one kind are both fitted
// and calibrated on.
func (p Plan) Groups() map[string]string {
	out := make(map[string]string, len(p.VMs))
	for _, v := range p.VMs {
		vmm := v.VMM
		if vmm == "" {
			vmm = VMMLab
		}
		out[v.Name] = vmm + "/" + v.Workload
	}
	return out
}

// slot is one phase of a VM with the label it produces, if any.
type slot struct {
	phase Phase
	label *sim.Scenario
}

// schedule turns a VM of the plan into its phases, with the ground-truth
// label of each window (times relative to the start are filled in later).
func (p Plan) schedule(vi int, ids *int) []slot {
	v := p.VMs[vi]
	ws := append([]Window(nil), v.Windows...)
	sort.Slice(ws, func(i, j int) bool { return ws[i].Start < ws[j].Start })
	seed := func(k int) uint64 { return p.Seed*1_000_003 + uint64(vi)*1009 + uint64(k) }
	var out []slot
	var at Duration
	base := func(until Duration) {
		if until > at {
			out = append(out, slot{phase: Phase{Workload: v.Workload, Seed: seed(len(out)), Duration: time.Duration(until - at), Level: v.Level}})
		}
	}
	for _, w := range ws {
		base(w.Start)
		wl, _ := Lookup(w.Workload)
		intensity := wl.Intensity(w.Rate)
		class, prefix := wl.Class, "s"
		if wl.Benign {
			class, prefix = sim.ClassPlacebo, "p"
		}
		l := &sim.Scenario{ID: fmt.Sprintf("%s%03d", prefix, *ids), Name: wl.Name, Class: class, Intensity: intensity,
			VMID: v.Name, Placebo: wl.Benign}
		*ids++
		out = append(out, slot{phase: Phase{Workload: w.Workload, Rate: w.Rate, Seed: seed(len(out)), Duration: time.Duration(w.Duration), Level: v.Level}, label: l})
		at = w.Start + w.Duration
	}
	base(p.Duration)
	return out
}

// PlanResult is the outcome of a plan: the ground truth, with the actual
// start and end of each window as the VMM ran it, and every VMM's result.
type PlanResult struct {
	Start  time.Time      `json:"start"`
	End    time.Time      `json:"end"`
	Labels []sim.Scenario `json:"labels"`
	VMs    []Result       `json:"vms"`
}

// RunPlan runs every VM of the plan in parallel, each as its own VMM
// process (exe as in Spec.Exe), and returns the labelled result. The labels
// have the simulator's Scenario shape; VMID is the plan's VM name, which is
// the name the VMM carries as -name guest=<name>.
func RunPlan(ctx context.Context, p Plan, exe string) (PlanResult, error) {
	if err := p.Validate(); err != nil {
		return PlanResult{}, err
	}
	var ids int
	slots := make([][]slot, len(p.VMs))
	for i, v := range p.VMs {
		if v.VMM == VMMQEMU {
			if err := CheckQEMU(); err != nil {
				return PlanResult{}, fmt.Errorf("%w (plan VM %s has vmm: qemu)", err, v.Name)
			}
			if len(v.Windows) == 0 {
				continue // benign for the whole run: no phases, no labels
			}
		}
		slots[i] = p.schedule(i, &ids)
	}
	res := PlanResult{Start: time.Now().UTC(), VMs: make([]Result, len(p.VMs))}
	errs := make([]error, len(p.VMs))
	var wg sync.WaitGroup
	for i, v := range p.VMs {
		phases := make([]Phase, len(slots[i]))
		for k, s := range slots[i] {
			phases[k] = s.phase
		}
		wg.Add(1)
		if v.VMM == VMMQEMU {
			go func() {
				defer wg.Done()
				res.VMs[i], errs[i] = runQEMU(ctx, v, time.Duration(p.Duration), phases)
			}()
			continue
		}
		go func() {
			defer wg.Done()
			res.VMs[i], errs[i] = runVMM(ctx, v.Name, v.VCPUs, exe, phases)
		}()
	}
	wg.Wait()
	res.End = time.Now().UTC()
	for i := range p.VMs {
		for k, s := range slots[i] {
			if s.label == nil || k >= len(res.VMs[i].Phases) {
				continue
			}
			l := *s.label
			l.Start, l.End = res.VMs[i].Phases[k].Start, res.VMs[i].Phases[k].End
			res.Labels = append(res.Labels, l)
		}
	}
	sort.Slice(res.Labels, func(i, j int) bool { return res.Labels[i].Start.Before(res.Labels[j].Start) })
	return res, errors.Join(errs...)
}

package scoring

import (
	"cmp"
	"math"
	"slices"
	"strings"

	"github.com/escapement/escapement/anomaly"
	"github.com/escapement/escapement/models"
)

// Scenario classes a record may name.
const (
	ClassDeviceEmulation        = "device_emulation"
	ClassPrivilegedInstructions = "privileged_instructions"
	ClassHypercalls             = "hypercalls"
	ClassMemory                 = "memory"
	ClassSideChannel            = "side_channel"
	ClassPostExploitation       = "post_exploitation"
)

// notableZ is the z-score from which a rising feature counts as evidence in
// titles and classes.
const notableZ = 3

// topic is what a feature is about: a phrase for titles and a class.
type topic struct {
	phrase string
	class  string
}

// topicRules are tried in order; the first rule with a token of the feature
// name (split on _ . - :) wins.
var topicRules = []struct {
	tokens []string
	topic  topic
}{
	{[]string{"floppy", "fdc", "pci", "cfg", "vga", "ide", "legacy"}, topic{"legacy device", ClassDeviceEmulation}},
	{[]string{"mmio"}, topic{"MMIO", ClassDeviceEmulation}},
	{[]string{"io", "pio", "port", "ports"}, topic{"port I/O", ClassDeviceEmulation}},
	{[]string{"emulation", "emulate", "insn"}, topic{"instruction emulation", ClassDeviceEmulation}},
	{[]string{"msr", "rdmsr", "wrmsr"}, topic{"MSR", ClassPrivilegedInstructions}},
	{[]string{"cpuid"}, topic{"CPUID", ClassPrivilegedInstructions}},
	{[]string{"crdr", "cr", "dr", "exception", "hlt", "xsetbv"}, topic{"privileged instruction", ClassPrivilegedInstructions}},
	{[]string{"hypercall", "vmcall", "vmmcall"}, topic{"hypercall", ClassHypercalls}},
	{[]string{"tsc", "rdtsc", "clflush", "cache", "timing"}, topic{"timing", ClassSideChannel}},
	{[]string{"fault", "faults", "page", "regions", "ept", "npf", "memory"}, topic{"memory fault", ClassMemory}},
	{[]string{"syscall", "syscalls", "proc", "fork", "forks", "exec", "execs", "ptrace", "socket", "fatal", "signals"}, topic{"VMM system call", ClassPostExploitation}},
}

// topicOf classifies a feature name; unknown names get a neutral phrase and
// no class.
func topicOf(name string) topic {
	toks := strings.FieldsFunc(strings.ToLower(name), func(r rune) bool {
		return r == '_' || r == '.' || r == '-' || r == ':'
	})
	for _, r := range topicRules {
		for _, t := range toks {
			if slices.Contains(r.tokens, t) {
				return r.topic
			}
		}
	}
	return topic{phrase: "VM exit"}
}

// explain returns the top k features of raw x by |z|, largest first (ties by
// feature order).
func explain(std *models.Standardizer, names []string, x, z []float64, k int) []anomaly.Feature {
	idx := make([]int, len(z))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(math.Abs(z[b]), math.Abs(z[a])) })
	out := make([]anomaly.Feature, 0, min(k, len(idx)))
	for _, i := range idx[:min(k, len(idx))] {
		out = append(out, anomaly.Feature{
			Name:     names[i],
			Observed: x[i],
			Baseline: round(std.Baseline(i), 4),
			Z:        round(z[i], 2),
		})
	}
	return out
}

// classify returns the scenario class the notably rising features agree on
// (at least half of their total z), or "".
func classify(fs []anomaly.Feature) string {
	weight := map[string]float64{}
	var total float64
	for _, f := range fs {
		if f.Z < notableZ {
			continue
		}
		total += f.Z
		if c := topicOf(f.Name).class; c != "" {
			weight[c] += f.Z
		}
	}
	best, bw := "", 0.0
	for _, c := range []string{ClassDeviceEmulation, ClassPrivilegedInstructions, ClassHypercalls, ClassMemory, ClassSideChannel, ClassPostExploitation} {
		if weight[c] > bw {
			best, bw = c, weight[c]
		}
	}
	if total == 0 || bw < total/2 {
		return ""
	}
	return best
}

// title names the VM and up to two topics of the notably rising features.
func title(vm string, fs []anomaly.Feature) string {
	var phrases []string
	for _, f := range fs {
		if f.Z < notableZ {
			continue
		}
		if p := topicOf(f.Name).phrase; !slices.Contains(phrases, p) {
			phrases = append(phrases, p)
		}
		if len(phrases) == 2 {
			break
		}
	}
	if len(phrases) == 0 {
		return "VM " + vm + ": anomalous activity"
	}
	return "VM " + vm + ": anomalous " + strings.Join(phrases, " and ") + " activity"
}

func round(v float64, digits int) float64 {
	p := math.Pow10(digits)
	return math.Round(v*p) / p
}

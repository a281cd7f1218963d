package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/escapement/escapement/datasets/suite"
	"github.com/escapement/escapement/features"
	"github.com/escapement/escapement/models"
	"github.com/escapement/escapement/models/registry"
	"github.com/escapement/escapement/training/gate"
)

func cmdModel(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stdout, `usage: escapement model list [--json]                    versions, status (champion/previous/challenger), gate metrics
       escapement model promote DIR|VERSION [--force]     add an artifact and make it champion if it passes the gate
       escapement model rollback [--to VERSION]           set the champion back (default: the previous one)

Every command takes --registry DIR (or ESCAPEMENT_REGISTRY). Scorers started with
--registry pick up a new champion on their next poll (--reload-interval). See docs/registry.md.`)
		return nil
	}
	switch args[0] {
	case "list":
		return modelList(args[1:], stdout, stderr)
	case "promote":
		return modelPromote(ctx, args[1:], stdout, stderr)
	case "rollback":
		return modelRollback(args[1:], stdout, stderr)
	default:
		return fmt.Errorf("unknown model command %q: want list, promote or rollback", args[0])
	}
}

// registryFlag registers --registry.
func registryFlag(fs *flag.FlagSet) *string {
	return fs.String("registry", "", "model registry `directory` (versions, CHAMPION pointer, history.jsonl)")
}

func openRegistry(dir string) (*registry.Registry, error) {
	if dir == "" {
		return nil, errors.New("no model registry: pass --registry DIR or set ESCAPEMENT_REGISTRY")
	}
	return registry.Open(dir, nil)
}

// defaultActor names who runs the command in the history: $USER@host.
func defaultActor() string {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && name == "" {
		name = u.Username
	}
	host, _ := os.Hostname()
	return name + "@" + host
}

// parseWithArgs parses flags given before, between or after positional
// arguments and returns the positional ones.
func parseWithArgs(fs *flag.FlagSet, cfgFile *string, args []string) ([]string, error) {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if f := fs.Lookup(name); f != nil {
			if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
				continue
			}
			if i+1 < len(args) {
				i++
				flags = append(flags, args[i])
			}
		}
	}
	return pos, parseFlags(fs, cfgFile, flags)
}

func modelList(args []string, stdout, stderr io.Writer) error {
	fs, cfgFile := newFlagSet("model list", "List the registry's model versions, newest first: status (champion, previous = where a plain\nrollback goes, challenger), training data range and rows, and the gate's latest metrics.", stderr)
	dir := registryFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, cfgFile, args); err != nil {
		return err
	}
	reg, err := openRegistry(*dir)
	if err != nil {
		return err
	}
	vs, err := reg.List()
	if err != nil {
		return err
	}
	if *asJSON {
		if vs == nil {
			vs = []registry.Version{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(vs)
	}
	if len(vs) == 0 {
		fmt.Fprintf(stdout, "registry %s is empty: escapement model promote DIR adds a model\n", reg.Dir())
		return nil
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "VERSION\tSTATUS\tCREATED\tDATA FROM\tDATA TO\tROWS\tRECALL\tALERTS/VM-DAY\tLAST ACTION")
	for _, v := range vs {
		recall, alerts := "-", "-"
		if v.Metrics != nil {
			recall = fmt.Sprintf("%.0f/%.0f", v.Metrics["detected"], v.Metrics["attacks"])
			alerts = fmt.Sprintf("%.2f", v.Metrics["alerts_per_vm_day"])
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", v.Version, v.Status, stamp(v.Created), stamp(v.DataFrom), stamp(v.DataTo),
			v.Rows, recall, alerts, v.LastAction)
	}
	return w.Flush()
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04")
}

func modelRollback(args []string, stdout, stderr io.Writer) error {
	fs, cfgFile := newFlagSet("model rollback", "Set the champion back to the previous one (or --to VERSION) without the gate. Running scorers\nwatching the registry switch on their next poll.", stderr)
	dir := registryFlag(fs)
	to := fs.String("to", "", "`version` to make champion (default: the previous champion)")
	actor := fs.String("actor", defaultActor(), "who rolls back, for the history")
	reason := fs.String("reason", "", "why, for the history")
	if err := parseFlags(fs, cfgFile, args); err != nil {
		return err
	}
	reg, err := openRegistry(*dir)
	if err != nil {
		return err
	}
	cur, err := reg.Champion()
	if err != nil && !errors.Is(err, registry.ErrNoChampion) && *to == "" {
		return err
	}
	if err != nil {
		cur = "" // a broken or missing pointer is repaired by --to
	}
	target := *to
	if target == "" {
		if target, err = reg.Previous(); err != nil {
			return err
		}
		if target == "" {
			return errors.New("no previous champion to roll back to: pass --to VERSION (escapement model list)")
		}
	}
	if target == cur {
		fmt.Fprintf(stdout, "%s is already the champion\n", target)
		return nil
	}
	if _, err := reg.Load(target, models.SchemaHash(features.Names()), features.Names()); err != nil {
		return fmt.Errorf("rollback to %s: %w", target, err)
	}
	if err := reg.SetChampion(cur, registry.Entry{Actor: *actor, Action: registry.ActionRollback, Version: target, Reason: *reason}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "champion is now %s (was %s)\n", target, orNone(cur))
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func modelPromote(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cfgFile := newFlagSet("model promote", "Add a model artifact (DIR, written by escapement train) to the registry, or take a stored VERSION,\n"+
		"and make it champion if it passes the gate: its recall on the attack suite (and on analysts'\n"+
		"true-positive verdicts) is at least the champion's, and its false incidents on benign data are\n"+
		"within the alert budget. A refusal is recorded in the history; --force promotes anyway and says so.", stderr)
	dir := registryFlag(fs)
	force := fs.Bool("force", false, "promote even when the gate refuses (recorded as forced)")
	dryRun := fs.Bool("dry-run", false, "run the gate and print its decision; change nothing (exit status 0 pass, 1 refused)")
	suiteDir := fs.String("suite", "", "attack suite `directory`: dataset directories (features.parquet, labels.json, manifest.json) of labelled attacks; empty uses the suite built into the binary ("+suite.Dir+")")
	benign := fs.String("benign", "", "recent benign data for the alert rate: an archive (escapement archive) or a dataset `directory`; default: the suite's benign VMs")
	since := fs.String("since", "", "with --benign: only windows starting at or after this `time` (RFC 3339, or a duration back from now: 24h)")
	until := fs.String("until", "", "with --benign: only windows starting before this `time` (RFC 3339, or a duration back from now)")
	store := fs.String("store", "", "anomaly store `file` (SQLite, escapement serve --db): analysts' verdicts; true positives count as attacks, false positives as benign, on the --benign data")
	budget := fs.Float64("budget", 0, "false incidents per VM-day allowed on benign data (0: the challenger's calibrated budget)")
	alpha := fs.Float64("alpha", gate.DefaultGateAlpha, "significance of the alert-rate test: refuse when that many false incidents would be this unlikely at the budget")
	actor := fs.String("actor", defaultActor(), "who promotes, for the history")
	reason := fs.String("reason", "", "why, for the history")
	pos, err := parseWithArgs(fs, cfgFile, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New("model promote needs exactly one DIR (an artifact written by escapement train) or VERSION (escapement model list)")
	}
	reg, err := openRegistry(*dir)
	if err != nil {
		return err
	}
	names, hash := features.Names(), models.SchemaHash(features.Names())
	version := pos[0]
	var challenger *models.Artifact
	if st, err := os.Stat(version); err == nil && st.IsDir() {
		if *dryRun {
			challenger, err = models.Load(version, hash, names)
		} else {
			var m models.Manifest
			if m, err = reg.Add(version, hash, names); err == nil {
				challenger, err = reg.Load(m.ModelVersion, hash, names)
			}
		}
		if err != nil {
			return err
		}
	} else {
		if !reg.Has(version) {
			_, err := reg.Load(version, hash, names) // the registry's error names what is stored
			return fmt.Errorf("%w (or %s is not an artifact directory)", err, pos[0])
		}
		if challenger, err = reg.Load(version, hash, names); err != nil {
			return err
		}
	}
	version = challenger.Manifest.ModelVersion
	cur, err := reg.Champion()
	if errors.Is(err, registry.ErrNoChampion) {
		cur, err = "", nil
	}
	if err != nil && !*force {
		return fmt.Errorf("%w (--force promotes over a broken pointer)", err)
	}
	if cur == version {
		fmt.Fprintf(stdout, "%s is already the champion\n", version)
		return nil
	}
	var champion *models.Artifact
	if cur != "" {
		if champion, err = reg.Load(cur, hash, names); err != nil {
			fmt.Fprintf(stderr, "warning: the champion %s cannot be measured (%v): the challenger is judged on the budget alone\n", cur, err)
			champion = nil
		}
	}
	if *suiteDir == "" {
		tmp, err := os.MkdirTemp("", "escapement-suite-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		if *suiteDir, err = suite.Extract(tmp); err != nil {
			return err
		}
	}
	sets, err := gate.LoadSuite(*suiteDir, names)
	if err != nil {
		return err
	}
	now := time.Now()
	from, err := parseWhen(*since, now)
	if err != nil {
		return fmt.Errorf("--since: %w", err)
	}
	to, err := parseWhen(*until, now)
	if err != nil {
		return fmt.Errorf("--until: %w", err)
	}
	if *benign != "" {
		b, err := gate.LoadBenign(*benign, names, from, to)
		if err != nil {
			return err
		}
		for i := range sets {
			sets[i].AlertRate = false // the given benign data replaces the suite's benign VMs
		}
		sets = append(sets, b)
	}
	if *store != "" {
		if *benign == "" {
			return errors.New("--store needs --benign DIR: the verdicts label windows of that data (an archive holding the anomalies' windows)")
		}
		vs, err := readVerdicts(ctx, *store)
		if err != nil {
			return err
		}
		vs = gate.LabelsIn(vs, from, to)
		sets[len(sets)-1].Labels = append(sets[len(sets)-1].Labels, vs...)
		fmt.Fprintf(stderr, "%d analyst verdicts from %s label the benign data\n", len(vs), *store)
	}
	fmt.Fprintf(stderr, "gate: measuring %s against %s on %d evaluation sets\n", version, orNone(cur), len(sets))
	res, err := gate.Gate(champion, challenger, sets, gate.GateConfig{Budget: *budget, Alpha: *alpha})
	if err != nil {
		return err
	}
	printGate(stdout, res)
	if *dryRun {
		if !res.Pass {
			return fmt.Errorf("dry run: challenger %s would be refused: %s", version, res.Reason)
		}
		return nil
	}
	e := registry.Entry{Actor: *actor, Version: version, Reason: res.Reason, Metrics: res.Challenger.Metrics()}
	if res.Champion != nil {
		e.ChampionMetrics = res.Champion.Metrics()
	}
	if *reason != "" {
		e.Reason = *reason + "; gate: " + res.Reason
	}
	if !res.Pass && !*force {
		e.Action = registry.ActionRefuse
		if err := reg.Record(e); err != nil {
			return err
		}
		return fmt.Errorf("challenger %s refused: %s (the champion stays %s; --force overrides and is recorded)", version, res.Reason, orNone(cur))
	}
	e.Action, e.Forced = registry.ActionPromote, !res.Pass
	if e.Forced {
		e.Reason = "forced past the gate: " + e.Reason
	}
	if err := reg.SetChampion(cur, e); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "champion is now %s (was %s)\n", version, orNone(cur))
	return nil
}

func printGate(w io.Writer, r gate.GateResult) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MODEL\tVERSION\tDETECTED\tRECALL\tFALSE INCIDENTS\tBENIGN VM-DAYS\tPER VM-DAY")
	row := func(role string, m gate.Measurement) {
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%.3f\t%d\t%.3f\t%.2f\n", role, m.Version, m.Detected, m.Attacks, m.Recall, m.FalseAlerts, m.VMDays, m.AlertRate)
	}
	if r.Champion != nil {
		row("champion", *r.Champion)
	}
	row("challenger", r.Challenger)
	_ = tw.Flush()
	verdict := "PASS"
	if !r.Pass {
		verdict = "REFUSED"
	}
	fmt.Fprintf(w, "gate: %s: %s\n", verdict, r.Reason)
}

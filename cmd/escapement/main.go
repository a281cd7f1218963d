// Command escapement detects virtual-machine escape on KVM hosts. One binary
// holds every stage; `escapement run` wires them all in one process on an
// embedded broker, and each long-running stage also runs on its own against a
// real Kafka cluster (--brokers).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"

	"github.com/escapement/escapement/collectors/lab"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

type command struct {
	name  string
	short string
	run   func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"run", "everything in one process on an embedded broker: simulator, featurizer, scorer, API", cmdRun},
		{"collect", "run a collector and publish its events to Kafka", cmdCollect},
		{"featurize", "consume events, window them per VM and publish feature rows", cmdFeaturize},
		{"archive", "consume feature rows and keep them as hourly Parquet files", cmdArchive},
		{"score", "consume feature rows, score them and publish anomalies", cmdScore},
		{"serve", "consume anomalies and serve the anomaly API", cmdServe},
		{"train", "fit a model artifact from a Parquet dataset", cmdTrain},
		{"eval", "evaluate a model on a labelled dataset", cmdEval},
		{"model", "model registry: list versions, promote through the champion/challenger gate, roll back", cmdModel},
		{"dataset", "generate labelled datasets (dataset generate)", cmdDataset},
		{"lab", "real guests on /dev/kvm with benign or escape-technique workloads (lab run, lab list)", cmdLab},
		{"version", "print the version", func(_ context.Context, _ []string, out, _ io.Writer) error {
			_, err := fmt.Fprintln(out, "escapement", version)
			return err
		}},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: escapement <command> [flags]\n\ncommands:")
	cmds := commands()
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].name < cmds[j].name })
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.short)
	}
	fmt.Fprintln(w, "\nRun `escapement <command> --help` for its flags. Every flag can also be set with an")
	fmt.Fprintln(w, "ESCAPEMENT_<FLAG> environment variable (dashes as underscores) or in a YAML file given with --config.")
}

func main() {
	// A lab VM is this binary re-executed as its own VMM process.
	if lab.IsVMM() {
		os.Exit(lab.VMMMain(os.Args[1:], os.Stdout))
	}
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

func realMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		args = []string{"run"}
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			return 2
		default:
			fmt.Fprintf(stderr, "escapement %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "escapement: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

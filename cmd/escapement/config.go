package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// errUsage marks an error already reported with the command's usage.
var errUsage = errors.New("usage")

// envPrefix is the prefix of environment variables that set flags.
const envPrefix = "ESCAPEMENT_"

// EnvName returns the environment variable that sets flag name.
func EnvName(name string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// newFlagSet returns a flag set for command name whose usage documents each
// flag with its environment variable. Every command takes --config.
func newFlagSet(name, synopsis string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("escapement "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := fs.String("config", "", "YAML `file` of settings, keys are flag names (flags and ESCAPEMENT_* variables win over it)")
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "usage: escapement %s [flags]\n\n%s\n\nflags (each also settable as ESCAPEMENT_<FLAG> or in --config):\n", name, synopsis)
		fs.VisitAll(func(f *flag.Flag) {
			typ, use := flag.UnquoteUsage(f)
			fmt.Fprintf(out, "  --%s %s\n    \t%s", f.Name, typ, strings.ReplaceAll(use, "\n", "\n    \t"))
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" {
				fmt.Fprintf(out, " (default %s)", f.DefValue)
			}
			fmt.Fprintf(out, " [%s]\n", EnvName(f.Name))
		})
	}
	return fs, cfg
}

// parseFlags parses args, then fills every flag not given on the command line
// from its ESCAPEMENT_* variable and then from the YAML file. Precedence:
// flag, environment, file, default.
func parseFlags(fs *flag.FlagSet, cfgFile *string, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 && !allowsArgs(fs) {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %s\n", strings.Join(fs.Args(), " "))
		fs.Usage()
		return errUsage
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *cfgFile == "" && !set["config"] {
		*cfgFile = os.Getenv(EnvName("config"))
	}
	var fileVals map[string]any
	if *cfgFile != "" {
		data, err := os.ReadFile(*cfgFile)
		if err != nil {
			return fmt.Errorf("read --config: %w", err)
		}
		if err := yaml.Unmarshal(data, &fileVals); err != nil {
			return fmt.Errorf("parse --config %s: %w", *cfgFile, err)
		}
		var unknown []string
		for k := range fileVals {
			if fs.Lookup(k) == nil {
				unknown = append(unknown, k)
			}
		}
		if len(unknown) > 0 {
			sort.Strings(unknown)
			return fmt.Errorf("--config %s: unknown settings %s (see --help for the flag names)", *cfgFile, strings.Join(unknown, ", "))
		}
	}
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || f.Name == "config" {
			return
		}
		if v, ok := os.LookupEnv(EnvName(f.Name)); ok {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", EnvName(f.Name), v, err))
			}
			return
		}
		if v, ok := fileVals[f.Name]; ok {
			s := fmt.Sprint(v)
			if l, isList := v.([]any); isList {
				parts := make([]string, len(l))
				for i, x := range l {
					parts[i] = fmt.Sprint(x)
				}
				s = strings.Join(parts, ",")
			}
			if err := f.Value.Set(s); err != nil {
				errs = append(errs, fmt.Errorf("--config %s: %s: %q: %w", *cfgFile, f.Name, s, err))
			}
		}
	})
	return errors.Join(errs...)
}

// argsAllowed marks flag sets whose commands take positional arguments.
var argsAllowed = map[*flag.FlagSet]bool{}

func allowsArgs(fs *flag.FlagSet) bool { return argsAllowed[fs] }

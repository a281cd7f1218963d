package e2e

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// buildEscapement builds the escapement binary into a temporary directory.
func buildEscapement(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping the build of the escapement binary")
	}
	bin := filepath.Join(t.TempDir(), "escapement")
	cmd := exec.Command("go", "build", "-o", bin, "../cmd/escapement")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build ./cmd/escapement:\n%s", out)
	return bin
}

// cliFlag is one flag as `escapement <cmd> --help` documents it.
type cliFlag struct {
	name     string
	takesArg bool   // a value follows (not a boolean flag)
	env      string // the ESCAPEMENT_* variable named on the line
}

var (
	helpFlagLine = regexp.MustCompile(`^  --([a-z0-9][a-z0-9-]*) ?(\S*)$`)
	helpEnv      = regexp.MustCompile(`\[(ESCAPEMENT_[A-Z0-9_]+)\]$`)
)

// helpFlags runs `bin sub --help` with a clean environment and parses the
// flags it documents.
func helpFlags(t *testing.T, bin, sub string) map[string]cliFlag {
	t.Helper()
	cmd := exec.Command(bin, sub, "--help")
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s --help:\n%s", sub, out)
	flags := map[string]cliFlag{}
	var cur *cliFlag
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		line := sc.Text()
		if m := helpFlagLine.FindStringSubmatch(line); m != nil {
			if cur != nil {
				flags[cur.name] = *cur
			}
			cur = &cliFlag{name: m[1], takesArg: m[2] != ""}
			continue
		}
		if cur != nil && cur.env == "" {
			if m := helpEnv.FindStringSubmatch(line); m != nil {
				cur.env = m[1]
			}
		}
	}
	if cur != nil {
		flags[cur.name] = *cur
	}
	require.NotEmpty(t, flags, "%s --help documents no flags:\n%s", sub, out)
	return flags
}

// cleanEnv is the test's environment without ESCAPEMENT_* variables.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ESCAPEMENT_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// envToFlag maps ESCAPEMENT_FOO_BAR to foo-bar.
func envToFlag(env string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(env, "ESCAPEMENT_")), "_", "-")
}

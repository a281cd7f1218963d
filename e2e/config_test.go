package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestConfigSources checks the settings of a stage through the built binary:
// `featurize --help` names each flag's ESCAPEMENT_* variable, and a flag, its
// variable and a --config YAML file each set it, with precedence flag >
// environment > file. The command is run without brokers, so it stops right
// after its settings are parsed and applied: which error it stops with shows
// which source won.
func TestConfigSources(t *testing.T) {
	bin := buildEscapement(t)
	flags := helpFlags(t, bin, "featurize")
	for _, name := range []string{"brokers", "window", "lateness", "group", "config", "log-level", "pyroscope-url", "metrics-listen"} {
		require.Contains(t, flags, name, "featurize --help does not document --%s", name)
	}
	for name, f := range flags {
		require.Equal(t, "ESCAPEMENT_"+strings.ToUpper(strings.ReplaceAll(name, "-", "_")), f.env,
			"featurize --help must name the variable of --%s", name)
		require.Equal(t, name, envToFlag(f.env))
	}

	dir := t.TempDir()
	file := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	badWindow := file("bad-window.yml", "window: fortnight\n")
	badLevel := file("bad-level.yml", "log-level: shouting\nwindow: 2s\n")
	unknown := file("unknown.yml", "window: 1s\nwindw: 2s\nbrokerz: [a:1]\n")
	notYAML := file("broken.yml", "window: [1s\n")
	const noBrokers = "no Kafka brokers"

	tests := []struct {
		name string
		args []string
		env  []string
		want []string // substrings of the error output
	}{
		{"file sets a flag", []string{"--config", badLevel}, nil, []string{`log level "shouting"`}},
		{"env beats file", []string{"--config", badLevel}, []string{"ESCAPEMENT_LOG_LEVEL=warn"}, []string{noBrokers}},
		{"flag beats env and file", []string{"--config", badLevel, "--log-level", "warn"}, []string{"ESCAPEMENT_LOG_LEVEL=shouting"}, []string{noBrokers}},
		{"env sets a flag", nil, []string{"ESCAPEMENT_LOG_LEVEL=shouting"}, []string{`log level "shouting"`}},
		{"ESCAPEMENT_CONFIG names the file", nil, []string{"ESCAPEMENT_CONFIG=" + badLevel}, []string{`log level "shouting"`}},
		{"invalid value names file and key", []string{"--config", badWindow}, nil, []string{badWindow, "window", "fortnight"}},
		{"invalid env names the variable", nil, []string{"ESCAPEMENT_WINDOW=fortnight"}, []string{"ESCAPEMENT_WINDOW", "fortnight"}},
		{"env hides an invalid file value", []string{"--config", badWindow}, []string{"ESCAPEMENT_WINDOW=1s"}, []string{noBrokers}},
		{"unknown keys are named", []string{"--config", unknown}, nil, []string{unknown, "unknown settings brokerz, windw"}},
		{"unparsable file is named", []string{"--config", notYAML}, nil, []string{"parse --config " + notYAML}},
		{"missing file", []string{"--config", filepath.Join(dir, "absent.yml")}, nil, []string{"read --config", "absent.yml"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, append([]string{"featurize"}, tc.args...)...)
			cmd.Env = cleanEnv(tc.env...)
			out, err := cmd.CombinedOutput()
			require.Error(t, err, "featurize %v should stop: %s", tc.args, out)
			for _, w := range tc.want {
				require.Contains(t, string(out), w)
			}
		})
	}
}

package e2e

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// composeFile is the part of docker-compose.yml the test reads.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image       string        `yaml:"image"`
	Command     []string      `yaml:"command"`
	Environment composeEnv    `yaml:"environment"`
	Volumes     []string      `yaml:"volumes"`
	Privileged  bool          `yaml:"privileged"`
	PID         string        `yaml:"pid"`
	Healthcheck composeHealth `yaml:"healthcheck"`
}

type composeHealth struct {
	Test []string `yaml:"test"`
}

// composeEnv accepts both forms of environment: a map or a list of K=V.
type composeEnv map[string]string

func (e *composeEnv) UnmarshalYAML(n *yaml.Node) error {
	*e = composeEnv{}
	switch n.Kind {
	case yaml.MappingNode:
		var m map[string]string
		if err := n.Decode(&m); err != nil {
			return err
		}
		for k, v := range m {
			(*e)[k] = v
		}
	case yaml.SequenceNode:
		var l []string
		if err := n.Decode(&l); err != nil {
			return err
		}
		for _, kv := range l {
			k, v, _ := strings.Cut(kv, "=")
			(*e)[k] = v
		}
	default:
		return fmt.Errorf("environment: want a map or a list, got %v", n.Tag)
	}
	return nil
}

// TestComposeMatchesCLI checks docker-compose.yml against the binary it
// runs (Docker is not needed): every escapement service runs a real
// subcommand with real flags, its ESCAPEMENT_* variables name real flags of
// that subcommand, the stages reach Kafka on the kafka service's internal
// listener, the two scorers share a group and the collector has what live
// KVM collection needs.
func TestComposeMatchesCLI(t *testing.T) {
	data, err := os.ReadFile("../docker-compose.yml")
	require.NoError(t, err)
	var cf composeFile
	require.NoError(t, yaml.Unmarshal(data, &cf), "docker-compose.yml")
	bin := buildEscapement(t)

	kafkaSvc, ok := cf.Services["kafka"]
	require.True(t, ok, "docker-compose.yml has no kafka service")
	require.True(t, strings.HasPrefix(kafkaSvc.Image, "apache/kafka:"), "kafka runs Apache Kafka's image, not %q", kafkaSvc.Image)
	internal := kafkaInternalAddr(t, kafkaSvc)

	subs := map[string][]string{} // subcommand → services
	groups := map[string]string{} // score service → group
	for name, svc := range cf.Services {
		if !strings.HasPrefix(svc.Image, "escapement:") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			require.NotEmpty(t, svc.Command, "service %s has no command", name)
			sub := svc.Command[0]
			flags := helpFlags(t, bin, sub)
			subs[sub] = append(subs[sub], name)
			set := map[string]string{}
			args := svc.Command[1:]
			for i := 0; i < len(args); i++ {
				a := args[i]
				require.True(t, strings.HasPrefix(a, "--"), "service %s: %q is not a flag (escapement %s takes no arguments)", name, a, sub)
				fname, val, hasVal := strings.Cut(strings.TrimPrefix(a, "--"), "=")
				f, ok := flags[fname]
				require.True(t, ok, "service %s: escapement %s has no flag --%s", name, sub, fname)
				if f.takesArg && !hasVal {
					require.Less(t, i+1, len(args), "service %s: --%s needs a value", name, fname)
					i++
					val = args[i]
					require.False(t, strings.HasPrefix(val, "--"), "service %s: --%s needs a value, got %s", name, fname, val)
				}
				set[fname] = val
			}
			for k, v := range svc.Environment {
				if !strings.HasPrefix(k, "ESCAPEMENT_") {
					continue
				}
				fname := envToFlag(k)
				f, ok := flags[fname]
				require.True(t, ok, "service %s: %s sets no flag of escapement %s (no --%s)", name, k, sub, fname)
				require.Equal(t, k, f.env, "escapement %s --help names another variable for --%s", sub, fname)
				if _, onCmd := set[fname]; !onCmd {
					set[fname] = v
				}
			}
			if _, ok := flags["brokers"]; ok {
				require.Equal(t, internal, set["brokers"], "service %s must reach Kafka on the kafka service's internal listener", name)
			}
			if sub == "score" {
				groups[name] = set["group"]
				if dir := set["model"]; dir != "" {
					require.True(t, mounted(svc, dir), "service %s: --model %s is not a mounted volume", name, dir)
				}
			}
			if sub == "serve" {
				require.True(t, set["api-tokens"] != "" || set["local-only"] == "true",
					"service %s: serve refuses to start without API tokens (ESCAPEMENT_API_TOKENS) or --local-only", name)
				require.True(t, mounted(svc, set["data-dir"]), "service %s: --data-dir %q is not a volume (the store would not survive)", name, set["data-dir"])
			}
			if sub == "collect" {
				require.Equal(t, "kvm", set["source"], "service %s collects live KVM telemetry: --source kvm", name)
				require.True(t, svc.Privileged, "service %s reads tracefs: privileged", name)
				require.Equal(t, "host", svc.PID, "service %s watches the host's VMM processes: pid: host", name)
				tracefs := set["tracefs"]
				if tracefs == "" {
					tracefs = "/sys/kernel/tracing"
				}
				require.True(t, mounted(svc, tracefs), "service %s: tracefs %s is not mounted", name, tracefs)
			}
		})
	}
	for _, sub := range []string{"collect", "featurize", "score", "serve"} {
		require.NotEmpty(t, subs[sub], "no service runs escapement %s", sub)
	}
	require.GreaterOrEqual(t, len(subs["score"]), 2, "two scorers share the feature partitions")
	var gs []string
	for _, g := range groups {
		gs = append(gs, g)
	}
	require.Len(t, slices.Compact(slices.Sorted(slices.Values(gs))), 1, "the scorers must share one consumer group: %v", groups)
	for _, svc := range []string{"pyroscope", "grafana"} {
		require.Contains(t, cf.Services, svc)
	}
}

// kafkaInternalAddr returns the address the kafka service advertises on its
// inter-broker (compose-network) listener, after checking that the listener
// is bound and the health check uses it.
func kafkaInternalAddr(t *testing.T, svc composeService) string {
	t.Helper()
	env := svc.Environment
	name := env["KAFKA_INTER_BROKER_LISTENER_NAME"]
	require.NotEmpty(t, name, "kafka: KAFKA_INTER_BROKER_LISTENER_NAME names the compose-network listener")
	listeners := parseListeners(env["KAFKA_LISTENERS"])
	advertised := parseListeners(env["KAFKA_ADVERTISED_LISTENERS"])
	addr, ok := advertised[name]
	require.True(t, ok, "kafka: KAFKA_ADVERTISED_LISTENERS has no %s listener", name)
	host, port, ok := strings.Cut(addr, ":")
	require.True(t, ok && host == "kafka", "kafka: the %s listener must advertise the service name kafka, not %q", name, addr)
	bound, ok := listeners[name]
	require.True(t, ok, "kafka: KAFKA_LISTENERS does not bind %s", name)
	require.True(t, strings.HasSuffix(bound, ":"+port), "kafka: %s is bound on %s but advertised on port %s", name, bound, port)
	require.Contains(t, env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"], name+":PLAINTEXT")
	require.Contains(t, strings.Join(svc.Healthcheck.Test, " "), addr, "kafka: the health check must probe %s", addr)
	for _, c := range strings.Split(env["KAFKA_CONTROLLER_QUORUM_VOTERS"], ",") {
		_, at, _ := strings.Cut(c, "@")
		_, cport, _ := strings.Cut(at, ":")
		require.True(t, strings.HasSuffix(listeners[env["KAFKA_CONTROLLER_LISTENER_NAMES"]], ":"+cport), "kafka: controller voter %s is not on the controller listener", c)
	}
	return addr
}

// parseListeners maps NAME to host:port in "NAME://host:port,...".
func parseListeners(s string) map[string]string {
	out := map[string]string{}
	for _, l := range strings.Split(s, ",") {
		name, addr, ok := strings.Cut(strings.TrimSpace(l), "://")
		if ok {
			out[name] = addr
		}
	}
	return out
}

// mounted reports whether dir is a volume target of svc or under one.
func mounted(svc composeService, dir string) bool {
	if dir == "" {
		return false
	}
	for _, v := range svc.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 {
			continue
		}
		target := parts[1]
		if dir == target || strings.HasPrefix(dir, strings.TrimSuffix(target, "/")+"/") {
			return true
		}
	}
	return false
}

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/anomaly"
	"github.com/escapement/escapement/transport"
)

// kcatMessage is one line of `kcat -C -J`.
type kcatMessage struct {
	Topic     string  `json:"topic"`
	Partition int     `json:"partition"`
	Offset    int64   `json:"offset"`
	Key       *string `json:"key"`
	Payload   *string `json:"payload"`
}

// kcatReadsAnomalies reads escapement.anomalies.v1 from the beginning with
// Debian's kcat and checks that every record of this run's VMs is canonical
// anomaly JSON and that, de-duplicated by (id, revision), kcat sees exactly
// what our consumer saw.
func kcatReadsAnomalies(t *testing.T, cfg transport.Config, vms map[string]bool, want map[incidentKey]anomaly.Record) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Skip("kcat is not installed: `apt-get install kcat` (scripts/ci-deps installs it) to check that a client we did not write reads the anomalies")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, kcat, "-b", strings.Join(cfg.Brokers, ","), "-C", "-t", anomaly.Topic,
		"-o", "beginning", "-e", "-q", "-J")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "kcat: %s", stderr.String())

	got := map[incidentKey]anomaly.Record{}
	lines, mine := 0, 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		lines++
		var km kcatMessage
		require.NoError(t, json.Unmarshal(sc.Bytes(), &km), "kcat -J line %q", sc.Text())
		require.Equal(t, anomaly.Topic, km.Topic)
		if km.Key == nil || !vms[*km.Key] {
			continue
		}
		mine++
		require.NotNil(t, km.Payload, "record at %d/%d has no value", km.Partition, km.Offset)
		dec := json.NewDecoder(strings.NewReader(*km.Payload))
		dec.DisallowUnknownFields()
		var r anomaly.Record
		require.NoError(t, dec.Decode(&r), "value at %d/%d is not canonical anomaly JSON: %s", km.Partition, km.Offset, *km.Payload)
		require.NotEmpty(t, r.ID)
		require.GreaterOrEqual(t, r.Revision, 1)
		require.Equal(t, *km.Key, r.VM.ID)
		require.NotEmpty(t, r.Attack)
		require.Equal(t, "T1611", r.Attack[0].TechniqueID)
		got[incidentKey{r.ID, r.Revision}] = r
	}
	require.NoError(t, sc.Err())
	requireSameIncidents(t, want, got)
	t.Logf("kcat read %d records of %s (%d of this run, %d (id, revision) pairs)", lines, anomaly.Topic, mine, len(got))
}

package guest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAssembledBytesMatchSource(t *testing.T) {
	nasm, err := exec.LookPath("nasm")
	if err != nil {
		t.Skip("nasm is not installed (apt-get install -y nasm): cannot re-assemble the payloads to check the checked-in .bin files")
	}
	dir := t.TempDir()
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(dir, name+".bin")
			cmd := exec.Command(nasm, "-f", "bin", "-o", out, name+".asm")
			msg, err := cmd.CombinedOutput()
			require.NoError(t, err, "nasm: %s", msg)
			fresh, err := os.ReadFile(out)
			require.NoError(t, err)
			embedded, err := Program(name)
			require.NoError(t, err)
			require.True(t, bytes.Equal(fresh, embedded), "%s.bin is stale: run go generate ./collectors/lab/guest", name)
		})
	}
}

func TestProgramsFitTheFrame(t *testing.T) {
	names := Names()
	require.GreaterOrEqual(t, len(names), 14)
	for _, name := range names {
		b, err := Program(name)
		require.NoError(t, err)
		require.NotEmpty(t, b)
		require.Less(t, len(b), 0x8000, "%s does not fit below the stacks", name)
		require.Equal(t, byte(0xFA), b[0], "%s must start with the common frame (cli)", name)
		src, err := Source(name)
		require.NoError(t, err)
		require.Contains(t, string(src), `%include "common.inc"`)
	}
	_, err := Program("no-such-payload")
	require.ErrorContains(t, err, "use one of")
}

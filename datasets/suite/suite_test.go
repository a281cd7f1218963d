package suite_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/escapement/escapement/datasets/suite"
)

// TestExtractMatchesTree: the embedded suite is the committed one, file for
// file.
func TestExtractMatchesTree(t *testing.T) {
	dir, err := suite.Extract(t.TempDir())
	require.NoError(t, err)
	for _, part := range []string{"sim", "lab"} {
		for _, f := range []string{"features.parquet", "labels.json", "manifest.json"} {
			got, err := os.ReadFile(filepath.Join(dir, part, f))
			require.NoError(t, err)
			want, err := os.ReadFile(filepath.Join(part, f))
			require.NoError(t, err)
			require.Equal(t, want, got, "%s/%s", part, f)
		}
	}
}

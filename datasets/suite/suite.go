// Package suite embeds the committed attack suite the champion/challenger
// gate measures recall on (docs/registry.md): one dataset directory per
// part, sim/ (simulator, every threat class as flood and stealthy) and lab/
// (a recording on real KVM). scripts/gen-suite regenerates it. Embedding it
// lets `escapement model promote` run where the source tree is absent (a
// container image, a cron host).
package suite

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

//go:embed */features.parquet */labels.json */manifest.json
var files embed.FS

// Dir is where the suite lives in the source tree, relative to the
// repository root.
const Dir = "datasets/suite"

// Extract writes the embedded suite under dir (one subdirectory per part)
// and returns dir, ready for gate.LoadSuite.
func Extract(dir string) (string, error) {
	err := fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == "." {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		return "", fmt.Errorf("extract the built-in attack suite: %w", err)
	}
	return dir, nil
}

package guest

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

//go:embed *.bin *.asm common.inc
var files embed.FS

// Program returns the assembled payload called name ("venom", "idle", ...).
func Program(name string) ([]byte, error) {
	b, err := files.ReadFile(name + ".bin")
	if err != nil {
		return nil, fmt.Errorf("guest: no payload %q: use one of %s", name, strings.Join(Names(), ", "))
	}
	return b, nil
}

// Source returns the nasm source of payload name.
func Source(name string) ([]byte, error) { return files.ReadFile(name + ".asm") }

// Names lists the payloads, sorted.
func Names() []string {
	ents, _ := fs.Glob(files, "*.bin")
	out := make([]string, 0, len(ents))
	for _, e := range ents {
		out = append(out, strings.TrimSuffix(e, ".bin"))
	}
	sort.Strings(out)
	return out
}

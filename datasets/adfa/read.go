package adfa

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Folder names of the ADFA-LD layout.
const (
	TrainingDir   = "Training_Data_Master"
	ValidationDir = "Validation_Data_Master"
	AttackDir     = "Attack_Data_Master"
)

// MaxSyscall bounds the system-call numbers a trace may hold: the i386
// table has fewer than 512 entries.
const MaxSyscall = 1 << 10

// Trace is one process trace.
type Trace struct {
	Path   string // slash-separated, relative to the dataset root
	Family string // attack family ("Adduser", "Hydra_FTP", ...); "" for normal traces
	Calls  []int  // system-call numbers in order
}

// Set is a whole ADFA-LD directory.
type Set struct {
	Training   []Trace
	Validation []Trace
	Attack     []Trace
}

// Read reads the ADFA-LD layout under dir.
func Read(dir string) (*Set, error) {
	return ReadFS(os.DirFS(dir), dir)
}

// ReadFS reads the ADFA-LD layout from fsys; name is used in error messages.
func ReadFS(fsys fs.FS, name string) (*Set, error) {
	var s Set
	var err error
	if s.Training, err = readFolder(fsys, name, TrainingDir, ""); err != nil {
		return nil, err
	}
	if s.Validation, err = readFolder(fsys, name, ValidationDir, ""); err != nil {
		return nil, err
	}
	runs, err := fs.ReadDir(fsys, AttackDir)
	if err != nil {
		return nil, layoutError(name, AttackDir, err)
	}
	for _, r := range runs {
		if !r.IsDir() {
			continue
		}
		tr, err := readFolder(fsys, name, path.Join(AttackDir, r.Name()), Family(r.Name()))
		if err != nil {
			return nil, err
		}
		s.Attack = append(s.Attack, tr...)
	}
	if len(s.Training) == 0 {
		return nil, fmt.Errorf("adfa: %s/%s holds no traces: point at the ADFA-LD root (the folder that holds %s, %s and %s)", name, TrainingDir, TrainingDir, ValidationDir, AttackDir)
	}
	return &s, nil
}

// Family returns the attack family of an attack folder name: "Hydra_FTP_3"
// gives "Hydra_FTP". A name without a numeric suffix is its own family.
func Family(folder string) string {
	i := strings.LastIndexByte(folder, '_')
	if i <= 0 {
		return folder
	}
	if _, err := strconv.Atoi(folder[i+1:]); err != nil {
		return folder
	}
	return folder[:i]
}

func layoutError(root, dir string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("adfa: %s has no %s folder: point at the ADFA-LD root (the folder that holds %s, %s and %s)", root, dir, TrainingDir, ValidationDir, AttackDir)
	}
	return fmt.Errorf("adfa: read %s/%s: %w", root, dir, err)
}

func readFolder(fsys fs.FS, root, dir, family string) ([]Trace, error) {
	ents, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, layoutError(root, dir, err)
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".txt") {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	out := make([]Trace, 0, len(names))
	for _, n := range names {
		p := path.Join(dir, n)
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, fmt.Errorf("adfa: %s/%s: %w", root, p, err)
		}
		calls, err := Parse(b)
		if err != nil {
			return nil, fmt.Errorf("adfa: %s/%s: %w", root, p, err)
		}
		out = append(out, Trace{Path: p, Family: family, Calls: calls})
	}
	return out, nil
}

// Parse decodes one trace file: decimal system-call numbers in
// [0, MaxSyscall) separated by white space.
func Parse(b []byte) ([]int, error) {
	calls := make([]int, 0, len(b)/3)
	v, digits := 0, 0
	for i, c := range b {
		switch {
		case c >= '0' && c <= '9':
			v = v*10 + int(c-'0')
			digits++
			if v >= MaxSyscall {
				return nil, fmt.Errorf("byte %d: system-call number above %d: is this an ADFA-LD trace?", i, MaxSyscall-1)
			}
		case c == ' ' || c == '\n' || c == '\r' || c == '\t':
			if digits > 0 {
				calls = append(calls, v)
				v, digits = 0, 0
			}
		default:
			return nil, fmt.Errorf("byte %d: unexpected %q: a trace holds decimal system-call numbers separated by spaces", i, c)
		}
	}
	if digits > 0 {
		calls = append(calls, v)
	}
	return calls, nil
}

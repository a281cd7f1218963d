package registry

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"time"

	"github.com/escapement/escapement/models"
)

// File and directory names inside a registry.
const (
	VersionsDir  = "versions"
	ChampionFile = "CHAMPION"
	HistoryFile  = "history.jsonl"
	lockFile     = ".lock"
)

// Errors callers branch on.
var (
	// ErrUnknownVersion: the version is not in the registry.
	ErrUnknownVersion = errors.New("unknown model version")
	// ErrNoChampion: the registry has no champion yet.
	ErrNoChampion = errors.New("no champion")
	// ErrChampionChanged: another promotion or rollback moved the champion
	// between the caller's read and its switch.
	ErrChampionChanged = errors.New("champion changed meanwhile")
)

var versionRE = regexp.MustCompile(`^[0-9a-f]{16}$`)

// Registry is a registry directory. Its methods are safe for concurrent use
// by several processes: writers serialise on a file lock, readers need none.
type Registry struct {
	dir string
	log *slog.Logger
	now func() time.Time
}

// Open opens the registry in dir, creating it if needed. logger may be nil.
func Open(dir string, logger *slog.Logger) (*Registry, error) {
	if dir == "" {
		return nil, errors.New("registry: no directory: pass --registry DIR or set ESCAPEMENT_REGISTRY")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(filepath.Join(dir, VersionsDir), 0o755); err != nil {
		return nil, fmt.Errorf("registry: open %s: %w", dir, err)
	}
	return &Registry{dir: dir, log: logger, now: time.Now}, nil
}

// Dir returns the registry directory.
func (r *Registry) Dir() string { return r.dir }

// Path returns the directory of a version (which may not exist).
func (r *Registry) Path(version string) string {
	return filepath.Join(r.dir, VersionsDir, version)
}

// Has reports whether version is stored.
func (r *Registry) Has(version string) bool {
	if !versionRE.MatchString(version) {
		return false
	}
	_, err := os.Stat(filepath.Join(r.Path(version), models.ManifestFile))
	return err == nil
}

// Load loads a stored version, checked against the running featurizer's
// schema (see models.Load).
func (r *Registry) Load(version, wantHash string, wantNames []string) (*models.Artifact, error) {
	if !r.Has(version) {
		return nil, r.unknown(version)
	}
	return models.Load(r.Path(version), wantHash, wantNames)
}

func (r *Registry) unknown(version string) error {
	vs, _ := r.versionNames()
	hint := "the registry is empty: promote an artifact directory first"
	if len(vs) > 0 {
		hint = fmt.Sprintf("stored: %v (escapement model list)", vs)
	}
	return fmt.Errorf("registry %s: %w %q: %s", r.dir, ErrUnknownVersion, version, hint)
}

// Add copies the artifact in src into the registry after loading it
// (verifying every file hash and the schema against wantHash/wantNames) and
// returns its manifest. Adding a version already stored is a no-op.
func (r *Registry) Add(src, wantHash string, wantNames []string) (models.Manifest, error) {
	a, err := models.Load(src, wantHash, wantNames)
	if err != nil {
		return models.Manifest{}, err
	}
	m := a.Manifest
	if !versionRE.MatchString(m.ModelVersion) {
		return m, fmt.Errorf("registry: %s has model_version %q, not 16 hex digits: re-save it with escapement train", src, m.ModelVersion)
	}
	if r.Has(m.ModelVersion) {
		return m, nil
	}
	tmp, err := os.MkdirTemp(filepath.Join(r.dir, VersionsDir), "."+m.ModelVersion+"-*.tmp")
	if err != nil {
		return m, fmt.Errorf("registry: %w", err)
	}
	defer os.RemoveAll(tmp) // gone after a successful rename
	files := []string{models.ManifestFile, models.StandardizerFile}
	for _, d := range append(slices.Clip(m.Detectors), m.StreamDetectors...) {
		files = append(files, d.File)
	}
	for _, f := range models.OptionalFiles() { // drift reference, model card
		if _, err := os.Stat(filepath.Join(src, f)); err == nil {
			files = append(files, f)
		}
	}
	for _, f := range files {
		if err := copyFile(filepath.Join(src, f), filepath.Join(tmp, f)); err != nil {
			return m, fmt.Errorf("registry: copy %s: %w", src, err)
		}
	}
	if err := syncDir(tmp); err != nil {
		return m, err
	}
	if err := os.Rename(tmp, r.Path(m.ModelVersion)); err != nil {
		if r.Has(m.ModelVersion) { // another process added it first
			return m, nil
		}
		return m, fmt.Errorf("registry: %w", err)
	}
	if err := syncDir(filepath.Join(r.dir, VersionsDir)); err != nil {
		return m, err
	}
	r.log.Info("model version added", "model_version", m.ModelVersion, "registry", r.dir, "from", src)
	return m, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("registry: fsync %s: %w", dir, err)
	}
	return nil
}

// versionNames lists the stored versions, sorted.
func (r *Registry) versionNames() ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(r.dir, VersionsDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("registry: %w", err)
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() && r.Has(e.Name()) {
			out = append(out, e.Name())
		}
	}
	slices.Sort(out)
	return out, nil
}

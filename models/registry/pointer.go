package registry

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Champion returns the champion's version, or ErrNoChampion. It reads only
// the pointer file (atomic by rename), so scorers may poll it cheaply and
// without the lock. A pointer naming a version that is not stored is an
// error (someone edited the registry by hand).
func (r *Registry) Champion() (string, error) {
	b, err := os.ReadFile(filepath.Join(r.dir, ChampionFile))
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("registry %s: %w: promote a model first (escapement model promote DIR)", r.dir, ErrNoChampion)
	}
	if err != nil {
		return "", fmt.Errorf("registry %s: read %s: %w", r.dir, ChampionFile, err)
	}
	v := strings.TrimSpace(string(b))
	if !versionRE.MatchString(v) {
		return "", fmt.Errorf("registry %s: %s holds %q, not a model version: restore it with escapement model rollback --to VERSION", r.dir, ChampionFile, v)
	}
	if !r.Has(v) {
		return "", fmt.Errorf("registry %s: %s names %s, which is not stored under %s: restore it with escapement model rollback --to VERSION", r.dir, ChampionFile, v, VersionsDir)
	}
	return v, nil
}

// writePointer replaces CHAMPION atomically and durably: temporary file,
// fsync, rename, fsync of the directory.
func (r *Registry) writePointer(version string) error {
	tmp := filepath.Join(r.dir, "."+ChampionFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("registry: write pointer: %w", err)
	}
	if _, err := f.WriteString(version + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("registry: write pointer: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("registry: write pointer: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("registry: write pointer: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(r.dir, ChampionFile)); err != nil {
		return fmt.Errorf("registry: switch pointer: %w", err)
	}
	return syncDir(r.dir)
}

// lock takes the registry's exclusive writer lock (flock, released when the
// process dies) and returns its release.
func (r *Registry) lock() (func(), error) {
	f, err := os.OpenFile(filepath.Join(r.dir, lockFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("registry: lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("registry: lock %s: %w", r.dir, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

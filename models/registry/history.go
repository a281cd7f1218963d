package registry

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// History actions.
const (
	ActionPromote  = "promote"  // the version became champion through the gate (or --force)
	ActionRollback = "rollback" // the champion was set back to an earlier version
	ActionRefuse   = "refuse"   // the gate refused the version; the champion did not change
	ActionRecover  = "recover"  // the pointer had moved without a history entry (crash); recorded on the next switch
)

// Entry is one line of history.jsonl: who did what to which version, when
// and why.
type Entry struct {
	Time    string `json:"time"` // RFC 3339, UTC; set by the registry
	Actor   string `json:"actor"`
	Action  string `json:"action"`
	Version string `json:"version"`
	From    string `json:"from,omitempty"` // the champion before the switch
	Forced  bool   `json:"forced,omitempty"`
	Reason  string `json:"reason,omitempty"`
	// Metrics are the gate's measurements of Version, ChampionMetrics those
	// of the champion it was compared with (recall, alert rate, ...).
	Metrics         map[string]float64 `json:"metrics,omitempty"`
	ChampionMetrics map[string]float64 `json:"champion_metrics,omitempty"`
}

// History returns every entry, oldest first. A torn last line (a crash in
// the middle of an append) is skipped; a corrupt line elsewhere is an error.
func (r *Registry) History() ([]Entry, error) {
	b, err := os.ReadFile(filepath.Join(r.dir, HistoryFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("registry: read history: %w", err)
	}
	var out []Entry
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var e Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			if !bytes.HasSuffix(b, []byte("\n")) && line == bytes.Count(b, []byte("\n"))+1 {
				break // torn final append
			}
			return nil, fmt.Errorf("registry: %s line %d is corrupt (%v): fix or remove that line", filepath.Join(r.dir, HistoryFile), line, err)
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

// appendEntry appends e durably (one write with O_APPEND, then fsync).
// Callers hold the lock.
func (r *Registry) appendEntry(e Entry) error {
	e.Time = r.now().UTC().Format("2006-01-02T15:04:05.000Z07:00")
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	path := filepath.Join(r.dir, HistoryFile)
	// A torn last line from an earlier crash would glue onto this one.
	if old, err := os.ReadFile(path); err == nil && len(old) > 0 && old[len(old)-1] != '\n' {
		b = append([]byte{'\n'}, b...)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("registry: append history: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("registry: append history: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("registry: append history: %w", err)
	}
	return f.Close()
}

// lineage replays the history into the stack of champions: a promotion
// pushes, a rollback pops back to its target (or pushes it when it is not
// on the stack). The last element is the champion the history knows of.
func lineage(h []Entry) []string {
	var st []string
	for _, e := range h {
		switch e.Action {
		case ActionPromote, ActionRecover:
			st = append(st, e.Version)
		case ActionRollback:
			if i := slices.Index(st, e.Version); i >= 0 {
				st = st[:i+1]
			} else {
				st = append(st, e.Version)
			}
		}
	}
	return st
}

// Record appends an entry that does not move the champion (a refusal).
func (r *Registry) Record(e Entry) error {
	if e.Action != ActionRefuse {
		return fmt.Errorf("registry: Record takes %q entries; switches go through SetChampion", ActionRefuse)
	}
	unlock, err := r.lock()
	if err != nil {
		return err
	}
	defer unlock()
	return r.appendEntry(e)
}

// SetChampion makes e.Version the champion if the champion is still
// expect ("" = none), then appends e (Action promote or rollback, From set
// to expect). It fails with ErrChampionChanged when another writer moved
// the pointer since the caller read it, and with ErrUnknownVersion when the
// version is not stored.
func (r *Registry) SetChampion(expect string, e Entry) error {
	if e.Action != ActionPromote && e.Action != ActionRollback {
		return fmt.Errorf("registry: SetChampion takes %q or %q entries", ActionPromote, ActionRollback)
	}
	if !r.Has(e.Version) {
		return r.unknown(e.Version)
	}
	unlock, err := r.lock()
	if err != nil {
		return err
	}
	defer unlock()
	cur, err := r.Champion()
	if errors.Is(err, ErrNoChampion) {
		cur, err = "", nil
	}
	if err != nil && expect != "" {
		return err
	}
	if err == nil && cur != expect {
		return fmt.Errorf("registry %s: %w: expected %q, found %q: list the registry and retry", r.dir, ErrChampionChanged, expect, cur)
	}
	h, err := r.History()
	if err != nil {
		return err
	}
	if st := lineage(h); cur != "" && (len(st) == 0 || st[len(st)-1] != cur) {
		// The pointer moved without its history line (a crash between the
		// two): say so before recording this switch.
		if err := r.appendEntry(Entry{Actor: e.Actor, Action: ActionRecover, Version: cur,
			Reason: "champion pointer found without a history entry (interrupted switch)"}); err != nil {
			return err
		}
	}
	if err := r.writePointer(e.Version); err != nil {
		return err
	}
	e.From = cur
	if err := r.appendEntry(e); err != nil {
		return fmt.Errorf("%w (the champion is now %s; its history line is missing and will be recovered on the next switch)", err, e.Version)
	}
	r.log.Info("champion switched", "action", e.Action, "model_version", e.Version, "from", cur, "forced", e.Forced, "actor", e.Actor)
	return nil
}

// Previous returns the version a plain rollback returns to: the champion
// before the current one, as the history's lineage has it ("" if none).
func (r *Registry) Previous() (string, error) {
	h, err := r.History()
	if err != nil {
		return "", err
	}
	cur, err := r.Champion()
	if err != nil && !errors.Is(err, ErrNoChampion) {
		return "", err
	}
	return previous(lineage(h), cur), nil
}

func previous(st []string, cur string) string {
	if len(st) > 0 && st[len(st)-1] != cur {
		return st[len(st)-1] // the pointer moved ahead of the history
	}
	for i := len(st) - 2; i >= 0; i-- {
		if st[i] != cur {
			return st[i]
		}
	}
	return ""
}

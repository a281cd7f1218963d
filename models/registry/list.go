package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/escapement/escapement/models"
)

// Statuses of a version in List.
const (
	StatusChampion   = "champion"   // scorers run it
	StatusPrevious   = "previous"   // a plain rollback returns to it
	StatusChallenger = "challenger" // stored, not in force
)

// Version describes one stored version.
type Version struct {
	Version  string    `json:"version"`
	Created  time.Time `json:"created"`
	Platform string    `json:"platform"`
	DataFrom time.Time `json:"data_from"`
	DataTo   time.Time `json:"data_to"`
	Rows     int       `json:"rows"`
	Status   string    `json:"status"`
	// LastAction is the latest history action on this version (promote,
	// rollback, refuse, recover) and Reason its reason.
	LastAction string `json:"last_action,omitempty"`
	Reason     string `json:"reason,omitempty"`
	// Metrics are the gate's latest measurements of this version.
	Metrics map[string]float64 `json:"metrics,omitempty"`
}

// List returns every stored version, newest first (by training time), with
// its status and the gate's latest metrics for it.
func (r *Registry) List() ([]Version, error) {
	names, err := r.versionNames()
	if err != nil {
		return nil, err
	}
	h, err := r.History()
	if err != nil {
		return nil, err
	}
	cur, err := r.Champion()
	if err != nil && !errors.Is(err, ErrNoChampion) {
		return nil, err
	}
	prev := previous(lineage(h), cur)
	out := make([]Version, 0, len(names))
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(r.Path(n), models.ManifestFile))
		if err != nil {
			return nil, fmt.Errorf("registry: %w", err)
		}
		var m models.Manifest
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("registry: version %s: manifest.json is corrupt (%v): remove %s", n, err, r.Path(n))
		}
		v := Version{Version: n, Created: m.CreatedAt, Platform: m.Platform, DataFrom: m.Training.From, DataTo: m.Training.To,
			Rows: m.Training.Rows, Status: StatusChallenger}
		switch n {
		case cur:
			v.Status = StatusChampion
		case prev:
			v.Status = StatusPrevious
		}
		for _, e := range h {
			switch {
			case e.Version == n:
				v.LastAction, v.Reason = e.Action, e.Reason
				if e.Metrics != nil {
					v.Metrics = e.Metrics
				}
			case e.From == n && e.ChampionMetrics != nil:
				v.Metrics = e.ChampionMetrics
			}
		}
		out = append(out, v)
	}
	slices.SortStableFunc(out, func(a, b Version) int { return b.Created.Compare(a.Created) })
	return out, nil
}

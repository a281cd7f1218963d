package api

import (
	"sort"
	"sync"
	"time"

	"github.com/escapement/escapement/anomaly"
)

// Query selects anomalies. Zero fields do not filter.
type Query struct {
	Since        time.Time // last_seen at or after
	Until        time.Time // first_seen before
	UpdatedSince time.Time // updated_at at or after
	SeverityMin  string
	Status       string
	Host         string
	VM           string
	After        Cursor // exclusive position in (updated_at, id) order
	Limit        int
}

// Cursor is a position in the (updated_at, id) order of a listing.
type Cursor struct {
	UpdatedAt time.Time
	ID        string
}

func (c Cursor) zero() bool { return c.ID == "" && c.UpdatedAt.IsZero() }

func (c Cursor) less(r *anomaly.Record) bool {
	if !c.UpdatedAt.Equal(r.UpdatedAt) {
		return c.UpdatedAt.Before(r.UpdatedAt)
	}
	return c.ID < r.ID
}

// Store keeps the newest revision of every anomaly.
type Store interface {
	// Upsert stores rec unless a revision at least as new is stored;
	// it reports whether rec was stored.
	Upsert(rec anomaly.Record) (bool, error)
	// List returns up to q.Limit matching records after q.After in
	// (updated_at, id) order, and whether more follow.
	List(q Query) ([]anomaly.Record, bool, error)
	// Get returns the record with id.
	Get(id string) (anomaly.Record, bool, error)
}

// MemStore is an in-memory Store bounded to a number of records; the oldest
// by updated_at are dropped first.
type MemStore struct {
	mu   sync.RWMutex
	max  int
	byID map[string]anomaly.Record
}

// NewMemStore returns a store holding at most max records (default 100 000).
func NewMemStore(max int) *MemStore {
	if max <= 0 {
		max = 100_000
	}
	return &MemStore{max: max, byID: map[string]anomaly.Record{}}
}

// Upsert implements Store; a duplicate or older revision is ignored, so topic
// duplicates collapse.
func (s *MemStore) Upsert(rec anomaly.Record) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.byID[rec.ID]; ok && old.Revision >= rec.Revision {
		return false, nil
	}
	s.byID[rec.ID] = rec
	if len(s.byID) > s.max {
		s.evictLocked(len(s.byID) - s.max)
	}
	return true, nil
}

func (s *MemStore) evictLocked(n int) {
	all := s.sortedLocked()
	for _, r := range all[:n] {
		delete(s.byID, r.ID)
	}
}

func (s *MemStore) sortedLocked() []anomaly.Record {
	all := make([]anomaly.Record, 0, len(s.byID))
	for _, r := range s.byID {
		all = append(all, r)
	}
	sort.Slice(all, func(i, j int) bool {
		if !all[i].UpdatedAt.Equal(all[j].UpdatedAt) {
			return all[i].UpdatedAt.Before(all[j].UpdatedAt)
		}
		return all[i].ID < all[j].ID
	})
	return all
}

// List implements Store.
func (s *MemStore) List(q Query) ([]anomaly.Record, bool, error) {
	s.mu.RLock()
	all := s.sortedLocked()
	s.mu.RUnlock()
	minRank := -1
	if q.SeverityMin != "" {
		minRank = anomaly.SeverityRank(q.SeverityMin)
	}
	var out []anomaly.Record
	for i := range all {
		r := &all[i]
		if !q.After.zero() && !q.After.less(r) {
			continue
		}
		if !match(r, q, minRank) {
			continue
		}
		if q.Limit > 0 && len(out) == q.Limit {
			return out, true, nil
		}
		out = append(out, *r)
	}
	return out, false, nil
}

func match(r *anomaly.Record, q Query, minRank int) bool {
	switch {
	case !q.Since.IsZero() && r.LastSeen.Before(q.Since),
		!q.Until.IsZero() && !r.FirstSeen.Before(q.Until),
		!q.UpdatedSince.IsZero() && r.UpdatedAt.Before(q.UpdatedSince),
		minRank >= 0 && anomaly.SeverityRank(r.Severity) < minRank,
		q.Status != "" && r.Status != q.Status,
		q.Host != "" && r.Host != q.Host,
		q.VM != "" && r.VM.ID != q.VM:
		return false
	}
	return true
}

// Get implements Store.
func (s *MemStore) Get(id string) (anomaly.Record, bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, ok := s.byID[id]
	return r, ok, nil
}

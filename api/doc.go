// Package api keeps Escapement's anomalies and serves them to SIEM pullers
// and analysts. It reads anomaly records from a Store fed from
// escapement.anomalies.v1 (Feed) and never reaches into the scorer: the
// canonical anomaly record is the whole contract between them.
//
// The store (SQLiteStore, an embedded SQLite file in WAL mode) keeps the
// newest scorer revision of every anomaly, every revision as history, and
// the analyst's fields (status, assignee, note, verdict) apart from both,
// so a new revision never erases triage. Topic duplicates collapse: an
// upsert is taken only when its revision is newer than the stored one.
//
// updated_at is the store's own clock, stamped at write time and strictly
// increasing across writes (writes are serialised and commit in clock
// order). A listing ordered by (updated_at, id) and resumed from the last
// item's position therefore never skips or repeats a change, however
// writes interleave with the pages: the cursor contract of GET
// /api/v1/anomalies.
//
// Suppression rules (by VM, host, detector, feature; with an expiry and an
// author) live in the same file. Ingest applies them in the transaction that
// stores a revision: a matching revision is stored with status suppressed
// and the rule's id (SuppressedBy), and the Feed hands it on marked so push
// outputs skip it.
//
// Server adds bearer tokens with read and write scopes (stored as SHA-256),
// a per-token rate limit (429 with Retry-After), a request body limit and
// problem+json errors. Endpoints and their parameters are in openapi.json
// (served at /api/v1/openapi.json) and docs/api.md.
package api

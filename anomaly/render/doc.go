// Package render turns the canonical anomaly record into the shapes SIEMs
// ingest: an OCSF Detection Finding (class 2004), an Elastic Common Schema
// alert document and an ArcSight CEF line. Renderers are pure functions of
// the record: the same record always renders to the same bytes, so a SIEM
// that de-duplicates by (id, revision) sees identical duplicates.
//
// Versions are pinned: OCSFVersion in metadata.version, ECSVersion in
// ecs.version. docs/siem.md maps every field.
package render

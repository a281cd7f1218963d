// Package archive keeps a consumed topic of feature rows (or events) as Parquet files on
// disk, partitioned by the UTC date and hour of each row's window start:
//
//	DIR/date=2026-11-27/hour=06/escapement.features.v1-p3-o1200-o1399.parquet
//
// A file holds the rows of one Kafka partition whose messages lie between
// the two offsets of its name (inclusive). Files are written under a hidden
// temporary name and appear by rename when they are rolled (by rows, by age
// or when the partition is revoked); the deliveries whose rows a file holds
// are retained until then, so the committed offset never passes a row that
// is not in a visible file.
//
// The resume point comes from the files: when a partition is assigned, the
// Archiver finishes or discards what a crashed predecessor left, takes the
// highest end offset named by the partition's files and skips every message
// at or below it. After a crash at any point the archive therefore holds
// each consumed row exactly once, with no gap. One directory is written by
// one consumer group; a partition is written by one process at a time.
//
// A roll that spans several hours writes one file per hour; it is made
// atomic by a journal in DIR/_rolls, written (by rename) before the files
// are renamed and removed after: an assigned partition finishes the renames
// of any journal it finds.
//
// With Config.Events the Archiver keeps raw events (escapement.events.v1)
// the same way, filed by event time; one directory holds one kind.
//
// Read streams the rows of a time range, opening only the hour directories
// the range touches; ReadWith also reads only some columns (no n-grams) and
// skips row groups outside the range by their statistics. docs/archive.md
// documents the layout and guarantees.
package archive

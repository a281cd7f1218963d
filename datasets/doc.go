// Package datasets holds Escapement's archived data: events and feature rows
// in Parquet, the ground-truth labels and manifest beside them, and the
// generator that turns a simulated fleet into a labelled dataset.
//
// A dataset is a directory:
//
//	events.parquet    events.v1 rows (the Arrow schema of package events)
//	features.parquet  features.v1 rows: vm_id, host, window_start, window_end,
//	                  one float64 column per feature, ngrams
//	labels.json       ground truth: scenarios and placebos (JSON array of Label)
//	manifest.json     what produced it: generator and version, seed, VMs, time span
//
// Parquet files are zstd-compressed, written with their Arrow schema stored
// so types round-trip exactly, in row groups of RowGroupEvents events or
// RowGroupFeatures feature rows; readers stream one record batch (events) or
// one row group (features) at a time. docs/datasets.md documents the layout.
//
// datasets knows the event and feature schemas and Arrow/Parquet, and the
// simulator it records; nothing above them.
package datasets

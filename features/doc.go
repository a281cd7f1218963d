// Package features turns escapement.events.v1 into escapement.features.v1:
// one Row of Catalog features per VM per event-time window, with a bounded
// n-gram sketch for the sequence models.
//
// The Featurizer is pure (no Kafka): Add folds events into per-VM tumbling
// windows aligned to multiples of Config.Window since the Unix epoch and
// emits the rows of windows whose end + Config.Lateness the VM's event time
// has reached; Advance does the same against a watermark (so quiet VMs'
// windows close) and evicts idle VMs; Flush closes everything. Rows of one
// VM come out in window order; windows without events are not emitted.
// Events of an already-closed window are dropped and counted in
// Stats.LateDrops. A Featurizer is not safe for concurrent use: run one per
// partition.
//
// Novelty ("an I/O port this VM never used before") is judged against a
// bounded per-VM history; a VM's first Config.WarmupWindows windows report
// novelty as 0 so that boot-time probing does not look like an attack.
// Per-VM state is bounded (about 8.4 KiB with the defaults; see
// docs/features.md, which TestDocsUpToDate generates from Catalog).
//
// The hot path allocates nothing per event and looks the VM up only when it
// changes between consecutive events (collectors batch per VM).
//
// Stage wraps a Featurizer per partition as a transport.Handler: it retains
// each consumed delivery while a window it fed is open and releases it once
// the window's row was produced and acknowledged, so committed offsets never
// pass an open window. EncodeRows and DecodeRows are the Arrow IPC wire
// format; DecodeRows rejects other catalogs with ErrSchema and never panics.
package features

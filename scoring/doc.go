// Package scoring is the streaming scorer: it turns feature rows into
// anomaly records, with no Kafka of its own (the command feeds it rows from
// escapement.features.v1 and publishes what it returns to
// escapement.anomalies.v1).
//
// For each row the Scorer standardises the vector, scores it with every
// detector of the loaded models.Artifact, combines them into the ensemble
// score and compares it with the threshold the artifact was calibrated to
// (or the one re-targeted to Config.Budget). Anomalous windows of one VM fold
// into an incident: consecutive anomalous windows, an incident surviving up
// to Config.GapWindows quiet (or missing) windows. The Scorer returns a record
// when an incident opens (status new), when its severity rises (in_progress)
// and when it closes (resolved) — a handful per incident, never one per
// window.
//
// Replays and partition handovers reproduce the output: the incident ID is
// derived from (vm_id, start of its first anomalous window, model version),
// its revision counts the records emitted for it (1 on open, +1 per
// escalation, +1 on close) and every time in a record is event time taken
// from the windows. A Scorer fed the same rows from an incident's first
// anomalous window on emits the same IDs, revisions and records. Rows older
// than the last window seen for their VM (at-least-once duplicates) are
// dropped.
//
// When the artifact carries a drift reference, one scored row in four feeds
// a sliding window whose per-feature PSI against the training data is
// exported as escapement_feature_psi{feature} (Config.DriftWindow).
//
// Per-VM state is a few words plus the open incident; VMs idle for
// Config.IdleTTL of event time are evicted (closing their incident) and at
// most Config.MaxVMs are tracked. A Scorer is not safe for concurrent use:
// run one per partition consumer.
package scoring

// Package training holds the offline jobs: fit a calibrated model set from
// archived feature rows (Fit) and measure it (ROCAUC, PRAUC, Evaluate).
//
// Fit standardises the rows, fits every detector of the ensemble on the
// training part and calibrates on a held-out part the detectors never saw,
// split by VM (whole VMs held out, so calibration also covers workloads the
// model did not learn) or, with few VMs, by time (the last part of every
// VM's rows). All randomness comes from TrainConfig.Seed.
//
// StreamFit does the same on a stream too large to hold (an archive range):
// a Sampler keeps a seeded reservoir sample of bounded size on each side of
// the split by VM hash, Exclusions leave out windows of incidents, analysts'
// true positives and labelled attacks (counted by reason), and FitSplit fits
// and calibrates on the sample. Every fitted artifact carries the drift
// reference of its training rows (models/drift); BuildCard describes a model
// (data, counts, per-detector calibration, expected alert rate, PSI against
// the previous model) as model-card.json and model-card.md.
//
// Evaluate scores detection the way the targets are stated: a scenario is
// detected when an incident on its VM opens no later than three windows
// after the scenario starts and is still open at its start; false alerts are
// incidents on a VM with no active (non-placebo) scenario, reported per
// VM-day of observation.
//
// Rank sorts per-window scores once for the AUCs, the ROC and PR curves and
// the detection rate at a fixed per-window false-positive rate. FoldIncidents
// folds one VM's alerting windows into incidents as the streaming scorer
// does, so an evaluation can count what one detector alone (or any other
// alert rule) would have raised. Package report renders an evaluation as one
// self-contained HTML page.
package training

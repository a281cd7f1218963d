// Package gate decides whether a retrained model (the challenger) may replace
// the model in force (the champion), from labelled evidence the challenger's
// training never saw: the committed attack suite (datasets/suite: simulator
// attacks of every threat class, flood and stealthy, and a lab recording on
// real KVM), the analysts' verdicts, and recent benign data.
//
// Rule (Gate): the challenger passes when
//   - its recall on the attacks (suite scenarios and true-positive verdicts)
//     is at least the champion's, measured by the scorer itself with
//     training.Evaluate's detection rule, and
//   - its false incidents on benign windows of its own platform are within
//     the alert budget: not more than a model exactly at budget × VM-days
//     would raise with probability ≥ Alpha (one-sided Poisson test;
//     PoissonAllowed), so a short benign sample neither hides a noisy model
//     nor refuses a good one for one unlucky incident.
//
// Both models score every evaluation set in one pass over its rows
// (EvalSet.Read streams, so an archive larger than memory is fine). The
// registry (models/registry) records the decision; `escapement model
// promote` wires the two. docs/registry.md explains the suite and how to
// regenerate it.
package gate

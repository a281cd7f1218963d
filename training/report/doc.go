// Package report renders an evaluation as one self-contained HTML page: the
// ROC and precision–recall curves of the ensemble and of each detector, the
// summary tables, and per-VM score timelines with the labelled scenarios
// shaded and the raised incidents marked.
//
// The page needs no network: charts are inline SVG drawn here, the style and
// the little script (legend toggles, a VM filter) are inline too, so the
// file can be mailed or archived with a model version and opened anywhere.
// Everything on it comes from the Page the caller fills; Write only lays it
// out, escaping every caller-supplied string.
//
// Each chart carries a data-chart attribute ("roc", "roc-log", "pr",
// "timeline") and
// each curve a data-detector attribute, so tests and scripts can find them.
package report

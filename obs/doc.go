// Package obs holds Escapement's observability plumbing: the slog logger a
// command builds from its flags, the Prometheus registry its stages register
// on, the HTTP handler that serves /metrics, and continuous profiling with
// pyroscope-go. Commands build these once in main and pass them down; no
// package keeps a global logger or registry.
package obs

// Package collectors holds Escapement's sources of events and the contract
// they share.
//
// A Collector turns something observable — KVM tracepoints and the system
// calls of VMM processes on a live host, real guests in the lab, the seeded
// fleet simulator (package sim), a recorded file — into canonical
// events.Event values and hands them, in batches, to an emit function. It
// knows the event schema and nothing above it: no features, models or
// scoring.
//
// The Publisher is the usual emit function of a deployed collector: it groups
// the batches per VM and produces one Kafka message per VM batch to
// escapement.events.v1 (key vm_id, value an Arrow IPC stream, headers
// content-type and escapement-schema), bounding each batch by event count,
// approximate bytes and latency. A failed produce is retried with backoff
// until it succeeds or the context ends; events are never dropped silently.
//
//	pub, err := collectors.NewPublisher(producer, collectors.PublisherConfig{}, log, reg)
//	...
//	err = pub.Run(ctx, collector) // runs the collector, flushes on a ticker and at the end
package collectors

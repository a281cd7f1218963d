// Package outputs pushes anomaly records to a SOC's receivers: Splunk HEC,
// a generic JSON webhook and syslog (RFC 5424 carrying CEF over TLS, RFC
// 5425, with octet-counting framing, RFC 6587).
//
// An Output sends one record. A Dispatcher sits in front of the outputs:
// Enqueue writes the record to a disk spool (a SQLite file in the spool
// directory) once for every output whose minimum severity it meets, before
// it returns, so a record handed over survives a receiver outage and a
// restart of the process. Run delivers each output's spool in order, one
// record at a time, retrying a failed send with exponential backoff (the
// queue of that output waits; the others carry on).
//
// Each (id, revision) is delivered at most once per output: a delivery is
// recorded in the spool in the transaction that removes it from the
// queue, and Enqueue skips what was delivered or is queued already. The one
// window is a crash after a receiver accepted a record and before the
// record of it was committed: that record is sent again after the restart.
// Delivered keys are kept for Config.KeepDelivered (default 30 days).
//
// Records with status suppressed (matched by a suppression rule, see
// package api) are never spooled.
package outputs

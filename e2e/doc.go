// Package e2e holds Escapement's end-to-end tests: whole pipelines run in one
// process on the embedded Kafka-protocol broker, checked against the same
// computation done directly. Integration tests against a real Apache Kafka
// run when KAFKA_BROKERS is set.
package e2e

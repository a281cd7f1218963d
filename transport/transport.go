// Package transport is Escapement's narrow interface to Kafka. It knows bytes,
// keys and headers, never what they mean; stages get a Producer and a Group
// injected and do not import kafka-go.
//
// Delivery is at least once. A consumed message is committed only when every
// Delivery at or before its offset in the same partition has been released:
// a stage Retains a Delivery for as long as outputs derived from it are not
// yet acknowledged (an open window holds its offsets back) and Releases it
// when they are.
package transport

import (
	"context"
	"errors"
	"time"
)

// Header is a Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// Message is one Kafka record.
type Message struct {
	Topic     string
	Partition int
	Offset    int64
	Key       []byte
	Value     []byte
	Headers   []Header
	Time      time.Time
}

// Header returns the value of the first header named key, or nil.
func (m *Message) Header(key string) []byte {
	for _, h := range m.Headers {
		if h.Key == key {
			return h.Value
		}
	}
	return nil
}

// TopicPartition names one partition of a topic.
type TopicPartition struct {
	Topic     string
	Partition int
}

// Producer writes messages. Produce returns once the broker acknowledged every
// message, or with an error after the configured retries; the caller decides
// what an error means (a stage retries or stops; it never drops silently).
type Producer interface {
	Produce(ctx context.Context, msgs ...Message) error
	Close() error
}

// Delivery is one consumed message with its commit reference count. The
// Group holds one reference while Handle runs and drops it when Handle
// returns; a stage that keeps derived state (an open window) calls Retain
// before Handle returns and Release when the state's outputs are acknowledged.
type Delivery interface {
	Message() *Message
	Retain()
	Release()
}

// Handler is a consuming stage. Calls for one partition are sequential and in
// offset order; calls for different partitions may be concurrent.
type Handler interface {
	// Assigned is called when a generation gives the stage partitions,
	// before any of their messages are handled.
	Assigned(ctx context.Context, parts []TopicPartition)
	// Handle processes one message. A returned error stops the group (it is
	// for fatal conditions only: a bad message goes to the dead-letter topic
	// and Handle returns nil).
	Handle(ctx context.Context, d Delivery) error
	// Revoked is called when partitions are taken away (rebalance or stop).
	// The stage flushes what it can and releases or forgets its retained
	// deliveries for them; what it did not release is consumed again by the
	// next owner.
	Revoked(ctx context.Context, parts []TopicPartition)
}

// Group consumes topics as a member of a Kafka consumer group.
type Group interface {
	// Run consumes until ctx is done or a handler fails; it commits released
	// offsets periodically and once more before returning.
	Run(ctx context.Context, h Handler) error
	Close() error
}

// DeadLetterTopic receives undecodable input.
const DeadLetterTopic = "escapement.dlq.v1"

// Headers of a dead-lettered message.
const (
	HeaderDLQError     = "escapement-error"
	HeaderDLQTopic     = "escapement-origin-topic"
	HeaderDLQPartition = "escapement-origin-partition"
	HeaderDLQOffset    = "escapement-origin-offset"
	HeaderDLQStage     = "escapement-stage"
)

// ErrClosed is returned by operations on a closed producer or group.
var ErrClosed = errors.New("transport: closed")

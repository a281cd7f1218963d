package transport

import (
	"context"
	"strconv"
)

// DeadLetter writes m's key and value to DeadLetterTopic with headers naming
// the error (HeaderDLQError), the origin (HeaderDLQTopic, HeaderDLQPartition,
// HeaderDLQOffset) and the stage (HeaderDLQStage), followed by m's own
// headers. It returns once the broker acknowledged the record; a stage that
// cannot dead-letter must not commit m.
func DeadLetter(ctx context.Context, p Producer, stage string, m *Message, cause error) error {
	msg := "unknown error"
	if cause != nil {
		msg = cause.Error()
	}
	hs := make([]Header, 0, 5+len(m.Headers))
	hs = append(hs,
		Header{Key: HeaderDLQError, Value: []byte(msg)},
		Header{Key: HeaderDLQTopic, Value: []byte(m.Topic)},
		Header{Key: HeaderDLQPartition, Value: strconv.AppendInt(nil, int64(m.Partition), 10)},
		Header{Key: HeaderDLQOffset, Value: strconv.AppendInt(nil, m.Offset, 10)},
		Header{Key: HeaderDLQStage, Value: []byte(stage)},
	)
	hs = append(hs, m.Headers...)
	return p.Produce(ctx, Message{
		Topic:   DeadLetterTopic,
		Key:     m.Key,
		Value:   m.Value,
		Headers: hs,
		Time:    m.Time,
	})
}

package transport

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/segmentio/kafka-go"
)

// Log field names used by this package.
const (
	logComponent = "component"
	logGroup     = "group"
	logTopic     = "topic"
	logPartition = "partition"
	logOffset    = "offset"
	logErr       = "err"
	logGen       = "generation"
	logParts     = "partitions"
)

// orDiscard returns l, or a logger that drops everything when l is nil.
func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// kafkaLogger bridges a kafka-go logger into slog at level: kafka-go's
// Logger goes to debug, its ErrorLogger to warn.
func kafkaLogger(l *slog.Logger, level slog.Level) kafka.Logger {
	l = l.With(logComponent, "kafka-go")
	return kafka.LoggerFunc(func(format string, args ...any) {
		ctx := context.Background()
		if !l.Enabled(ctx, level) {
			return
		}
		l.Log(ctx, level, fmt.Sprintf(format, args...))
	})
}

package events

import (
	"bytes"
	"fmt"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/arrow/memory"
)

// ReadIPC reads the untrusted Arrow IPC stream data safely: sizes are checked
// before the Arrow reader sees them (CheckIPCSizes), a panic of the reader on
// corrupt input becomes an error, the stream's schema must pass check, and
// every record batch is handed to fn. what names the payload in errors
// ("events", "features"). Every decoder of Escapement's Arrow messages uses
// it, so none can crash a stage.
func ReadIPC(data []byte, what string, check func(*arrow.Schema) error, fn func(arrow.Record) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: decode: corrupt stream: %v", what, r)
		}
	}()
	if err := CheckIPCSizes(data); err != nil {
		return fmt.Errorf("%s: decode: %w", what, err)
	}
	r, err := ipc.NewReader(bytes.NewReader(data), ipc.WithAllocator(memory.DefaultAllocator))
	if err != nil {
		return fmt.Errorf("%s: decode: %w", what, err)
	}
	defer r.Release()
	if err := check(r.Schema()); err != nil {
		return err
	}
	for r.Next() {
		if err := fn(r.Record()); err != nil {
			return err
		}
	}
	if err := r.Err(); err != nil {
		return fmt.Errorf("%s: decode: %w", what, err)
	}
	return nil
}

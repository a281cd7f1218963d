package events

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/arrow/memory"
)

// Header keys every Escapement Kafka message carries.
const (
	HeaderContentType = "content-type"
	HeaderSchema      = "escapement-schema"
)

// ErrSchema is wrapped by decode errors caused by a schema that is not
// events.v1 (wrong columns, types or version).
var ErrSchema = errors.New("events: schema mismatch")

// Schema is the Arrow schema of an events.v1 record batch.
var Schema = arrow.NewSchema([]arrow.Field{
	{Name: "time_ns", Type: arrow.PrimitiveTypes.Int64},
	{Name: "host", Type: arrow.BinaryTypes.String},
	{Name: "vm_id", Type: arrow.BinaryTypes.String},
	{Name: "vcpu", Type: arrow.PrimitiveTypes.Int32},
	{Name: "tid", Type: arrow.PrimitiveTypes.Int32},
	{Name: "source", Type: arrow.PrimitiveTypes.Uint8},
	{Name: "kind", Type: arrow.PrimitiveTypes.Uint8},
	{Name: "code", Type: arrow.PrimitiveTypes.Uint64},
	{Name: "args", Type: arrow.FixedSizeListOf(NumArgs, arrow.PrimitiveTypes.Uint64)},
	{Name: "detail", Type: arrow.BinaryTypes.String, Nullable: true},
}, func() *arrow.Metadata {
	m := arrow.NewMetadata([]string{"escapement.schema"}, []string{SchemaVersion})
	return &m
}())

// Encoder turns slices of events into Arrow IPC streams. It reuses its
// builders between calls; it is not safe for concurrent use.
type Encoder struct {
	b   *array.RecordBuilder
	buf bytes.Buffer
}

// NewEncoder returns an Encoder.
func NewEncoder() *Encoder {
	return &Encoder{b: array.NewRecordBuilder(memory.DefaultAllocator, Schema)}
}

// Record builds an Arrow record of evs; the caller releases it.
func (e *Encoder) Record(evs []Event) arrow.Record {
	b := e.b
	tm := b.Field(0).(*array.Int64Builder)
	host := b.Field(1).(*array.StringBuilder)
	vm := b.Field(2).(*array.StringBuilder)
	vcpu := b.Field(3).(*array.Int32Builder)
	tid := b.Field(4).(*array.Int32Builder)
	src := b.Field(5).(*array.Uint8Builder)
	kind := b.Field(6).(*array.Uint8Builder)
	code := b.Field(7).(*array.Uint64Builder)
	args := b.Field(8).(*array.FixedSizeListBuilder)
	argv := args.ValueBuilder().(*array.Uint64Builder)
	detail := b.Field(9).(*array.StringBuilder)
	n := len(evs)
	for _, f := range b.Fields() {
		f.Reserve(n)
	}
	argv.Reserve(n * NumArgs)
	for i := range evs {
		ev := &evs[i]
		tm.UnsafeAppend(ev.TimeNs)
		host.Append(ev.Host)
		vm.Append(ev.VMID)
		vcpu.UnsafeAppend(ev.VCPU)
		tid.UnsafeAppend(ev.TID)
		src.UnsafeAppend(uint8(ev.Source))
		kind.UnsafeAppend(uint8(ev.Kind))
		code.UnsafeAppend(ev.Code)
		args.Append(true)
		argv.AppendValues(ev.Args[:], nil)
		if ev.Detail == "" {
			detail.AppendNull()
		} else {
			detail.Append(ev.Detail)
		}
	}
	return b.NewRecord()
}

// Encode returns one Arrow IPC stream holding evs as one record batch. The
// returned slice is freshly allocated and owned by the caller.
func (e *Encoder) Encode(evs []Event) ([]byte, error) {
	rec := e.Record(evs)
	defer rec.Release()
	e.buf.Reset()
	w := ipc.NewWriter(&e.buf, ipc.WithSchema(Schema))
	if err := w.Write(rec); err != nil {
		return nil, fmt.Errorf("events: encode: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("events: encode: %w", err)
	}
	return bytes.Clone(e.buf.Bytes()), nil
}

// Decode appends the events of an Arrow IPC stream to dst and returns it.
// Every record batch in the stream is read. A stream whose schema is not
// events.v1 yields an error wrapping ErrSchema.
func Decode(data []byte, dst []Event) ([]Event, error) {
	err := ReadIPC(data, "events", CheckSchema, func(rec arrow.Record) error {
		var err error
		dst, err = appendRecord(rec, dst)
		return err
	})
	return dst, err
}

// CheckSchema returns an error wrapping ErrSchema unless s is events.v1.
func CheckSchema(s *arrow.Schema) error {
	if v, ok := s.Metadata().GetValue("escapement.schema"); ok && v != SchemaVersion {
		return fmt.Errorf("%w: version %q, want %q", ErrSchema, v, SchemaVersion)
	}
	if len(s.Fields()) != len(Schema.Fields()) {
		return fmt.Errorf("%w: %d columns, want %d", ErrSchema, len(s.Fields()), len(Schema.Fields()))
	}
	for i, f := range Schema.Fields() {
		g := s.Field(i)
		if g.Name != f.Name || !arrow.TypeEqual(g.Type, f.Type) {
			return fmt.Errorf("%w: column %d is %s %s, want %s %s", ErrSchema, i, g.Name, g.Type, f.Name, f.Type)
		}
	}
	return nil
}

// AppendRecord appends the events held in rec (events.v1 schema) to dst.
func AppendRecord(rec arrow.Record, dst []Event) ([]Event, error) {
	if err := CheckSchema(rec.Schema()); err != nil {
		return dst, err
	}
	return appendRecord(rec, dst)
}

func appendRecord(rec arrow.Record, dst []Event) ([]Event, error) {
	tm := rec.Column(0).(*array.Int64)
	host := rec.Column(1).(*array.String)
	vm := rec.Column(2).(*array.String)
	vcpu := rec.Column(3).(*array.Int32)
	tid := rec.Column(4).(*array.Int32)
	src := rec.Column(5).(*array.Uint8)
	kind := rec.Column(6).(*array.Uint8)
	code := rec.Column(7).(*array.Uint64)
	args := rec.Column(8).(*array.FixedSizeList)
	argv, ok := args.ListValues().(*array.Uint64)
	if !ok {
		return dst, fmt.Errorf("%w: args values are %s", ErrSchema, args.ListValues().DataType())
	}
	detail := rec.Column(9).(*array.String)
	n := int(rec.NumRows())
	if argv.Len() < (args.Offset()+n)*NumArgs {
		return dst, fmt.Errorf("%w: args column holds %d values for %d rows", ErrSchema, argv.Len(), n)
	}
	vals := argv.Uint64Values()
	// Host and VM strings repeat within a batch (one VM per message): intern
	// them so a batch costs one string allocation, not one per event.
	var lastHost, lastVM string
	for i := 0; i < n; i++ {
		h, v := host.Value(i), vm.Value(i)
		if h != lastHost {
			lastHost = strings.Clone(h) // Value aliases the Arrow buffer
		}
		if v != lastVM {
			lastVM = strings.Clone(v)
		}
		ev := Event{
			TimeNs: tm.Value(i),
			Host:   lastHost,
			VMID:   lastVM,
			VCPU:   vcpu.Value(i),
			TID:    tid.Value(i),
			Source: Source(src.Value(i)),
			Kind:   Kind(kind.Value(i)),
			Code:   code.Value(i),
		}
		base := (args.Offset() + i) * NumArgs
		copy(ev.Args[:], vals[base:base+NumArgs])
		if detail.IsValid(i) {
			ev.Detail = strings.Clone(detail.Value(i))
		}
		dst = append(dst, ev)
	}
	return dst, nil
}

package datasets

import (
	"fmt"
	"io"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"

	"github.com/escapement/escapement/events"
)

// EventsParquetSchema is the schema of events.parquet: events.Schema with
// the fixed-size args list stored as four columns arg0..arg3. Flat columns
// are what query engines prune and filter best, and Arrow Go v15's Parquet
// writer does not round-trip fixed-size lists.
var EventsParquetSchema = func() *arrow.Schema {
	var fields []arrow.Field
	for _, f := range events.Schema.Fields() {
		if f.Name != "args" {
			fields = append(fields, f)
			continue
		}
		for i := 0; i < events.NumArgs; i++ {
			fields = append(fields, arrow.Field{Name: fmt.Sprintf("arg%d", i), Type: arrow.PrimitiveTypes.Uint64})
		}
	}
	md := arrow.NewMetadata([]string{"escapement.schema"}, []string{events.SchemaVersion})
	return arrow.NewSchema(fields, &md)
}()

// column indexes in EventsParquetSchema
const (
	ecTime = iota
	ecHost
	ecVM
	ecVCPU
	ecTID
	ecSource
	ecKind
	ecCode
	ecArg0
	ecDetail = ecArg0 + events.NumArgs
)

// EventWriter writes events to a Parquet file. It is not safe for
// concurrent use; Close must be called to write the footer.
type EventWriter struct {
	fw   *pqarrow.FileWriter
	b    *array.RecordBuilder
	rows int64
}

// NewEventWriter starts a Parquet file of events on w.
func NewEventWriter(w io.Writer) (*EventWriter, error) {
	fw, err := newParquetWriter(w, EventsParquetSchema, RowGroupEvents)
	if err != nil {
		return nil, err
	}
	return &EventWriter{fw: fw, b: array.NewRecordBuilder(memory.DefaultAllocator, EventsParquetSchema)}, nil
}

// Write appends evs.
func (w *EventWriter) Write(evs []events.Event) error {
	if len(evs) == 0 {
		return nil
	}
	b := w.b
	tm := b.Field(ecTime).(*array.Int64Builder)
	host := b.Field(ecHost).(*array.StringBuilder)
	vm := b.Field(ecVM).(*array.StringBuilder)
	vcpu := b.Field(ecVCPU).(*array.Int32Builder)
	tid := b.Field(ecTID).(*array.Int32Builder)
	src := b.Field(ecSource).(*array.Uint8Builder)
	kind := b.Field(ecKind).(*array.Uint8Builder)
	code := b.Field(ecCode).(*array.Uint64Builder)
	var args [events.NumArgs]*array.Uint64Builder
	for i := range args {
		args[i] = b.Field(ecArg0 + i).(*array.Uint64Builder)
	}
	detail := b.Field(ecDetail).(*array.StringBuilder)
	for i := range evs {
		ev := &evs[i]
		tm.Append(ev.TimeNs)
		host.Append(ev.Host)
		vm.Append(ev.VMID)
		vcpu.Append(ev.VCPU)
		tid.Append(ev.TID)
		src.Append(uint8(ev.Source))
		kind.Append(uint8(ev.Kind))
		code.Append(ev.Code)
		for j, a := range args {
			a.Append(ev.Args[j])
		}
		if ev.Detail == "" {
			detail.AppendNull()
		} else {
			detail.Append(ev.Detail)
		}
	}
	rec := b.NewRecord()
	defer rec.Release()
	if err := writeRecord(w.fw, rec, RowGroupEvents); err != nil {
		return err
	}
	w.rows += int64(len(evs))
	return nil
}

// Rows is the number of events written so far.
func (w *EventWriter) Rows() int64 { return w.rows }

// Close flushes the last row group, writes the footer and closes the
// underlying writer when it is an io.Closer (as Parquet's writer does).
func (w *EventWriter) Close() error {
	w.b.Release()
	if err := w.fw.Close(); err != nil {
		return fmt.Errorf("datasets: close events file: %w", err)
	}
	return nil
}

// checkEventsSchema returns an error unless s is EventsParquetSchema.
func checkEventsSchema(s *arrow.Schema) error {
	if v, ok := s.Metadata().GetValue("escapement.schema"); ok && v != events.SchemaVersion {
		return fmt.Errorf("%w: version %q, want %q", events.ErrSchema, v, events.SchemaVersion)
	}
	want := EventsParquetSchema.Fields()
	if len(s.Fields()) != len(want) {
		return fmt.Errorf("%w: %d columns, want %d", events.ErrSchema, len(s.Fields()), len(want))
	}
	for i, f := range want {
		g := s.Field(i)
		if g.Name != f.Name || !arrow.TypeEqual(g.Type, f.Type) {
			return fmt.Errorf("%w: column %d is %s %s, want %s %s", events.ErrSchema, i, g.Name, g.Type, f.Name, f.Type)
		}
	}
	return nil
}

// ReadEvents streams the events of a Parquet file to fn in batches of up to
// 64 Ki events, in file order. The slice is reused after fn returns; fn's
// error stops the read and is returned.
func ReadEvents(path string, fn func([]events.Event) error) error {
	f, fr, err := openParquet(path)
	if err != nil {
		return err
	}
	defer f.Close()
	schema, err := fr.Schema()
	if err != nil {
		return fmt.Errorf("datasets: read %s: %w", path, err)
	}
	if err := checkEventsSchema(schema); err != nil {
		return fmt.Errorf("datasets: %s does not hold events: %w", path, err)
	}
	var buf []events.Event
	return eachRecord(fr, nil, func(rec arrow.Record) error {
		buf = appendEvents(rec, buf[:0])
		return fn(buf)
	})
}

func appendEvents(rec arrow.Record, dst []events.Event) []events.Event {
	tm := rec.Column(ecTime).(*array.Int64)
	host := rec.Column(ecHost).(*array.String)
	vm := rec.Column(ecVM).(*array.String)
	vcpu := rec.Column(ecVCPU).(*array.Int32)
	tid := rec.Column(ecTID).(*array.Int32)
	src := rec.Column(ecSource).(*array.Uint8)
	kind := rec.Column(ecKind).(*array.Uint8)
	code := rec.Column(ecCode).(*array.Uint64)
	var args [events.NumArgs]*array.Uint64
	for i := range args {
		args[i] = rec.Column(ecArg0 + i).(*array.Uint64)
	}
	detail := rec.Column(ecDetail).(*array.String)
	var lastHost, lastVM string
	for i := 0; i < int(rec.NumRows()); i++ {
		if h := host.Value(i); h != lastHost {
			lastHost = strings.Clone(h)
		}
		if v := vm.Value(i); v != lastVM {
			lastVM = strings.Clone(v)
		}
		ev := events.Event{
			TimeNs: tm.Value(i), Host: lastHost, VMID: lastVM,
			VCPU: vcpu.Value(i), TID: tid.Value(i),
			Source: events.Source(src.Value(i)), Kind: events.Kind(kind.Value(i)), Code: code.Value(i),
		}
		for j, a := range args {
			ev.Args[j] = a.Value(i)
		}
		if detail.IsValid(i) {
			ev.Detail = strings.Clone(detail.Value(i))
		}
		dst = append(dst, ev)
	}
	return dst
}

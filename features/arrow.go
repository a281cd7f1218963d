package features

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/escapement/escapement/events"
)

// ContentType of a features message.
const ContentType = "application/vnd.apache.arrow.stream"

// Arrow schema metadata keys.
const (
	MetaSchema     = "escapement.schema"      // = SchemaVersion
	MetaSchemaHash = "escapement.schema_hash" // = SchemaHash()
)

// ErrSchema is wrapped by decode errors caused by a stream that is not
// features.v1 with this build's catalog (wrong version, hash, columns or types).
var ErrSchema = errors.New("features: schema mismatch")

// Fixed columns before the feature columns, and the n-gram column after them.
const (
	colVM = iota
	colHost
	colStart
	colEnd
	numFixedCols
)

var ngramType = arrow.ListOf(arrow.StructOf(
	arrow.Field{Name: "stream", Type: arrow.PrimitiveTypes.Uint8},
	arrow.Field{Name: "hash", Type: arrow.PrimitiveTypes.Uint64},
	arrow.Field{Name: "count", Type: arrow.PrimitiveTypes.Uint32},
))

// Schema is the Arrow schema of features.v1 rows: vm_id, host, window_start,
// window_end (ns since the epoch), one float64 column per Catalog entry, and
// the n-gram sketch.
var Schema = func() *arrow.Schema {
	fs := []arrow.Field{
		{Name: "vm_id", Type: arrow.BinaryTypes.String},
		{Name: "host", Type: arrow.BinaryTypes.String},
		{Name: "window_start", Type: arrow.PrimitiveTypes.Int64},
		{Name: "window_end", Type: arrow.PrimitiveTypes.Int64},
	}
	for _, s := range Catalog {
		fs = append(fs, arrow.Field{Name: s.Name, Type: arrow.PrimitiveTypes.Float64})
	}
	fs = append(fs, arrow.Field{Name: "ngrams", Type: ngramType})
	md := arrow.NewMetadata([]string{MetaSchema, MetaSchemaHash}, []string{SchemaVersion, SchemaHash()})
	return arrow.NewSchema(fs, &md)
}()

// EncodeRows returns one Arrow IPC stream holding rows as one record batch.
// Every row must carry len(Catalog) values.
func EncodeRows(rows []Row) ([]byte, error) {
	b := array.NewRecordBuilder(memory.DefaultAllocator, Schema)
	defer b.Release()
	vm := b.Field(colVM).(*array.StringBuilder)
	host := b.Field(colHost).(*array.StringBuilder)
	start := b.Field(colStart).(*array.Int64Builder)
	end := b.Field(colEnd).(*array.Int64Builder)
	ng := b.Field(numFixedCols + len(Catalog)).(*array.ListBuilder)
	ngs := ng.ValueBuilder().(*array.StructBuilder)
	ngStream := ngs.FieldBuilder(0).(*array.Uint8Builder)
	ngHash := ngs.FieldBuilder(1).(*array.Uint64Builder)
	ngCount := ngs.FieldBuilder(2).(*array.Uint32Builder)
	for _, f := range b.Fields() {
		f.Reserve(len(rows))
	}
	for i := range rows {
		r := &rows[i]
		if len(r.Values) != len(Catalog) {
			return nil, fmt.Errorf("features: encode: row %d of %s has %d values, the catalog has %d: build rows with this package's Featurizer", i, r.VMID, len(r.Values), len(Catalog))
		}
		vm.Append(r.VMID)
		host.Append(r.Host)
		start.Append(r.Start)
		end.Append(r.End)
		for j, x := range r.Values {
			b.Field(numFixedCols + j).(*array.Float64Builder).Append(x)
		}
		ng.Append(true)
		for _, g := range r.NGrams {
			ngs.Append(true)
			ngStream.Append(g.Stream)
			ngHash.Append(g.Hash)
			ngCount.Append(g.Count)
		}
	}
	rec := b.NewRecord()
	defer rec.Release()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(Schema))
	if err := w.Write(rec); err != nil {
		return nil, fmt.Errorf("features: encode: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("features: encode: %w", err)
	}
	return buf.Bytes(), nil
}

// DecodeRows appends the rows of an Arrow IPC stream to dst. A stream that
// is not features.v1 with this catalog yields an error wrapping ErrSchema;
// corrupt input yields an error, never a panic.
func DecodeRows(data []byte, dst []Row) ([]Row, error) {
	err := events.ReadIPC(data, "features", CheckSchema, func(rec arrow.Record) error {
		var err error
		dst, err = appendRows(rec, dst)
		return err
	})
	return dst, err
}

// CheckSchema returns an error wrapping ErrSchema unless s is features.v1
// with this build's catalog.
func CheckSchema(s *arrow.Schema) error {
	md := s.Metadata()
	if v, _ := md.GetValue(MetaSchema); v != SchemaVersion {
		return fmt.Errorf("%w: version %q, want %q", ErrSchema, v, SchemaVersion)
	}
	if h, _ := md.GetValue(MetaSchemaHash); h != SchemaHash() {
		return fmt.Errorf("%w: catalog hash %q, want %q: producer and consumer were built with different feature catalogs; deploy matching versions", ErrSchema, h, SchemaHash())
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

func appendRows(rec arrow.Record, dst []Row) ([]Row, error) {
	n := int(rec.NumRows())
	vm := rec.Column(colVM).(*array.String)
	host := rec.Column(colHost).(*array.String)
	start := rec.Column(colStart).(*array.Int64)
	end := rec.Column(colEnd).(*array.Int64)
	cols := make([]*array.Float64, len(Catalog))
	for j := range cols {
		cols[j] = rec.Column(numFixedCols + j).(*array.Float64)
	}
	ng := rec.Column(numFixedCols + len(Catalog)).(*array.List)
	ngs, ok := ng.ListValues().(*array.Struct)
	if !ok || ngs.NumField() != 3 {
		return dst, fmt.Errorf("%w: ngrams values are %s", ErrSchema, ng.ListValues().DataType())
	}
	ngStream, ok1 := ngs.Field(0).(*array.Uint8)
	ngHash, ok2 := ngs.Field(1).(*array.Uint64)
	ngCount, ok3 := ngs.Field(2).(*array.Uint32)
	if !ok1 || !ok2 || !ok3 {
		return dst, fmt.Errorf("%w: ngrams struct fields have the wrong types", ErrSchema)
	}
	// Value aliases the Arrow buffer: clone, once per run of equal strings.
	var lastVM, lastHost string
	for i := 0; i < n; i++ {
		if v := vm.Value(i); v != lastVM || i == 0 {
			lastVM = strings.Clone(v)
		}
		if h := host.Value(i); h != lastHost || i == 0 {
			lastHost = strings.Clone(h)
		}
		r := Row{
			VMID:   lastVM,
			Host:   lastHost,
			Start:  start.Value(i),
			End:    end.Value(i),
			Values: make([]float64, len(Catalog)),
		}
		for j, c := range cols {
			r.Values[j] = c.Value(i)
		}
		if ng.IsValid(i) {
			lo, hi := ng.ValueOffsets(i)
			if lo < 0 || hi < lo || int(hi) > ngs.Len() {
				return dst, fmt.Errorf("features: decode: row %d: n-gram offsets %d..%d out of range", i, lo, hi)
			}
			if hi > lo {
				r.NGrams = make([]NGram, 0, hi-lo)
			}
			for k := int(lo); k < int(hi); k++ {
				r.NGrams = append(r.NGrams, NGram{Stream: ngStream.Value(k), Hash: ngHash.Value(k), Count: ngCount.Value(k)})
			}
		}
		dst = append(dst, r)
	}
	return dst, nil
}

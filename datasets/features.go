package datasets

import (
	"fmt"
	"io"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"

	"github.com/escapement/escapement/features"
)

// Fixed columns of a features file; feature columns follow window_end and
// precede ngrams.
const (
	colVMID        = "vm_id"
	colHost        = "host"
	colWindowStart = "window_start"
	colWindowEnd   = "window_end"
	colNGrams      = "ngrams"
	nFixed         = 4
)

// NGramType is the Arrow type of the ngrams column.
var NGramType = arrow.ListOf(arrow.StructOf(
	arrow.Field{Name: "stream", Type: arrow.PrimitiveTypes.Uint8},
	arrow.Field{Name: "hash", Type: arrow.PrimitiveTypes.Uint64},
	arrow.Field{Name: "count", Type: arrow.PrimitiveTypes.Uint32},
))

// FeatureSchema returns the Arrow schema of feature rows with the given
// feature names: vm_id, host, window_start and window_end (timestamp[ns,
// UTC]), one float64 column per name, ngrams.
func FeatureSchema(names []string) (*arrow.Schema, error) {
	fields := []arrow.Field{
		{Name: colVMID, Type: arrow.BinaryTypes.String},
		{Name: colHost, Type: arrow.BinaryTypes.String},
		{Name: colWindowStart, Type: arrow.FixedWidthTypes.Timestamp_ns},
		{Name: colWindowEnd, Type: arrow.FixedWidthTypes.Timestamp_ns},
	}
	seen := map[string]bool{colVMID: true, colHost: true, colWindowStart: true, colWindowEnd: true, colNGrams: true}
	for _, n := range names {
		if n == "" || seen[n] {
			return nil, fmt.Errorf("datasets: feature name %q is empty, repeated or a reserved column name: rename it in the catalog", n)
		}
		seen[n] = true
		fields = append(fields, arrow.Field{Name: n, Type: arrow.PrimitiveTypes.Float64})
	}
	fields = append(fields, arrow.Field{Name: colNGrams, Type: NGramType})
	md := arrow.NewMetadata([]string{"escapement.schema"}, []string{features.SchemaVersion})
	return arrow.NewSchema(fields, &md), nil
}

// FeatureWriter writes feature rows to a Parquet file. It is not safe for
// concurrent use; Close must be called to write the footer.
type FeatureWriter struct {
	fw    *pqarrow.FileWriter
	b     *array.RecordBuilder
	names []string
	rows  int64
}

// NewFeatureWriter starts a Parquet file of feature rows with the given
// feature names (in Row.Values order) on w.
func NewFeatureWriter(w io.Writer, names []string) (*FeatureWriter, error) {
	schema, err := FeatureSchema(names)
	if err != nil {
		return nil, err
	}
	fw, err := newParquetWriter(w, schema, RowGroupFeatures)
	if err != nil {
		return nil, err
	}
	return &FeatureWriter{fw: fw, b: array.NewRecordBuilder(memory.DefaultAllocator, schema), names: append([]string(nil), names...)}, nil
}

// Write appends rows; each must have one value per feature name.
func (w *FeatureWriter) Write(rows []features.Row) error {
	if len(rows) == 0 {
		return nil
	}
	b := w.b
	vm := b.Field(0).(*array.StringBuilder)
	host := b.Field(1).(*array.StringBuilder)
	ws := b.Field(2).(*array.TimestampBuilder)
	we := b.Field(3).(*array.TimestampBuilder)
	ng := b.Field(nFixed + len(w.names)).(*array.ListBuilder)
	st := ng.ValueBuilder().(*array.StructBuilder)
	stream := st.FieldBuilder(0).(*array.Uint8Builder)
	hash := st.FieldBuilder(1).(*array.Uint64Builder)
	count := st.FieldBuilder(2).(*array.Uint32Builder)
	// Reserve every builder once: growing them row by row re-copies
	// their buffers many times per row group.
	ngrams := 0
	for i := range rows {
		if len(rows[i].Values) != len(w.names) {
			return fmt.Errorf("datasets: feature row %d of VM %q has %d values for %d feature names: write with the catalog the rows were made with", i, rows[i].VMID, len(rows[i].Values), len(w.names))
		}
		ngrams += len(rows[i].NGrams)
	}
	n := len(rows)
	vm.Reserve(n)
	host.Reserve(n)
	ws.Reserve(n)
	we.Reserve(n)
	ng.Reserve(n)
	st.Reserve(ngrams)
	stream.Reserve(ngrams)
	hash.Reserve(ngrams)
	count.Reserve(ngrams)
	for i := range rows {
		r := &rows[i]
		vm.Append(r.VMID)
		host.Append(r.Host)
		ws.UnsafeAppend(arrow.Timestamp(r.Start))
		we.UnsafeAppend(arrow.Timestamp(r.End))
		ng.Append(true)
		for _, g := range r.NGrams {
			st.Append(true)
			stream.UnsafeAppend(g.Stream)
			hash.UnsafeAppend(g.Hash)
			count.UnsafeAppend(g.Count)
		}
	}
	for j := range w.names {
		fb := b.Field(nFixed + j).(*array.Float64Builder)
		fb.Reserve(n)
		for i := range rows {
			fb.UnsafeAppend(rows[i].Values[j])
		}
	}
	rec := b.NewRecord()
	defer rec.Release()
	if err := writeRecord(w.fw, rec, RowGroupFeatures); err != nil {
		return err
	}
	w.rows += int64(len(rows))
	return nil
}

// Rows is the number of rows written so far.
func (w *FeatureWriter) Rows() int64 { return w.rows }

// Close flushes the last row group, writes the footer and closes the
// underlying writer when it is an io.Closer.
func (w *FeatureWriter) Close() error {
	w.b.Release()
	if err := w.fw.Close(); err != nil {
		return fmt.Errorf("datasets: close features file: %w", err)
	}
	return nil
}

// ReadFeatures streams the rows of a features file to fn, one row group at a
// time, with the feature names of the file. fn's error stops the read and is
// returned.
func ReadFeatures(path string, fn func(names []string, rows []features.Row) error) error {
	f, fr, err := openParquet(path)
	if err != nil {
		return err
	}
	defer f.Close()
	schema, err := fr.Schema()
	if err != nil {
		return fmt.Errorf("datasets: read %s: %w", path, err)
	}
	names, err := featureNames(schema)
	if err != nil {
		return fmt.Errorf("datasets: %s does not hold feature rows: %w", path, err)
	}
	groups := fr.ParquetReader().NumRowGroups()
	var rows []features.Row
	for g := 0; g < groups; g++ {
		rows = rows[:0]
		err := eachRecord(fr, []int{g}, func(rec arrow.Record) error {
			rows = appendFeatureRows(rec, len(names), rows)
			return nil
		})
		if err != nil {
			return err
		}
		if err := fn(names, rows); err != nil {
			return err
		}
	}
	return nil
}

func featureNames(s *arrow.Schema) ([]string, error) {
	if v, ok := s.Metadata().GetValue("escapement.schema"); ok && v != features.SchemaVersion {
		return nil, fmt.Errorf("schema version %q, want %q", v, features.SchemaVersion)
	}
	fs := s.Fields()
	if len(fs) < nFixed+1 {
		return nil, fmt.Errorf("%d columns, want at least %d", len(fs), nFixed+1)
	}
	for i, n := range []string{colVMID, colHost, colWindowStart, colWindowEnd} {
		if fs[i].Name != n {
			return nil, fmt.Errorf("column %d is %q, want %q", i, fs[i].Name, n)
		}
	}
	for i := 0; i < 2; i++ {
		if fs[i].Type.ID() != arrow.STRING {
			return nil, fmt.Errorf("column %s is %s, want string", fs[i].Name, fs[i].Type)
		}
	}
	for i := 2; i < 4; i++ {
		if id := fs[i].Type.ID(); id != arrow.TIMESTAMP && id != arrow.INT64 {
			return nil, fmt.Errorf("column %s is %s, want timestamp[ns] or int64 ns", fs[i].Name, fs[i].Type)
		}
	}
	last := fs[len(fs)-1]
	if last.Name != colNGrams || !arrow.TypeEqual(last.Type, NGramType) {
		return nil, fmt.Errorf("last column is %s %s, want %s %s", last.Name, last.Type, colNGrams, NGramType)
	}
	names := make([]string, 0, len(fs)-nFixed-1)
	for _, f := range fs[nFixed : len(fs)-1] {
		if f.Type.ID() != arrow.FLOAT64 {
			return nil, fmt.Errorf("feature column %s is %s, want float64", f.Name, f.Type)
		}
		names = append(names, f.Name)
	}
	return names, nil
}

func int64At(a arrow.Array, i int) int64 {
	switch c := a.(type) {
	case *array.Timestamp:
		return int64(c.Value(i))
	case *array.Int64:
		return c.Value(i)
	}
	return 0
}

func appendFeatureRows(rec arrow.Record, nf int, rows []features.Row) []features.Row {
	vm := rec.Column(0).(*array.String)
	host := rec.Column(1).(*array.String)
	ng := rec.Column(nFixed + nf).(*array.List)
	st := ng.ListValues().(*array.Struct)
	stream := st.Field(0).(*array.Uint8)
	hash := st.Field(1).(*array.Uint64)
	count := st.Field(2).(*array.Uint32)
	cols := make([]*array.Float64, nf)
	for j := range cols {
		cols[j] = rec.Column(nFixed + j).(*array.Float64)
	}
	var lastVM, lastHost string
	for i := 0; i < int(rec.NumRows()); i++ {
		if v := vm.Value(i); v != lastVM {
			lastVM = strings.Clone(v)
		}
		if h := host.Value(i); h != lastHost {
			lastHost = strings.Clone(h)
		}
		r := features.Row{
			VMID: lastVM, Host: lastHost,
			Start: int64At(rec.Column(2), i), End: int64At(rec.Column(3), i),
			Values: make([]float64, nf),
		}
		for j, c := range cols {
			r.Values[j] = c.Value(i)
		}
		if ng.IsValid(i) {
			lo, hi := ng.ValueOffsets(i)
			if hi > lo {
				r.NGrams = make([]features.NGram, 0, hi-lo)
			}
			for k := int(lo); k < int(hi); k++ {
				r.NGrams = append(r.NGrams, features.NGram{Stream: stream.Value(k), Hash: hash.Value(k), Count: count.Value(k)})
			}
		}
		rows = append(rows, r)
	}
	return rows
}

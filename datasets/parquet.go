package datasets

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/compress"
	"github.com/apache/arrow/go/v15/parquet/file"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"
)

// Row-group sizes: large enough for good compression and scans, small
// enough that a writer's buffered row group stays in the tens of MB.
const (
	RowGroupEvents   = 256 << 10
	RowGroupFeatures = 16 << 10
)

// readBatch is the number of rows a reader hands out at a time.
const readBatch = 64 << 10

func newParquetWriter(w io.Writer, schema *arrow.Schema, rowGroup int64) (*pqarrow.FileWriter, error) {
	// Feature values (float64) are written plain: a dictionary made
	// writes about 15 % slower for files about 11 % smaller
	// (docs/archive.md).
	var extra []parquet.WriterProperty
	for _, f := range schema.Fields() {
		if f.Type.ID() == arrow.FLOAT64 {
			extra = append(extra, parquet.WithDictionaryFor(f.Name, false))
		}
	}
	props := parquet.NewWriterProperties(append([]parquet.WriterProperty{
		// Snappy, not zstd: Arrow Go v15 builds a new zstd encoder for every
		// page it compresses, which made writes 2-3x slower for files 1.5x
		// smaller (docs/archive.md has the numbers).
		parquet.WithCompression(compress.Codecs.Snappy),
		parquet.WithMaxRowGroupLength(rowGroup),
		parquet.WithDictionaryDefault(true),
		// n-gram hashes are near-unique: a dictionary only costs time.
		parquet.WithDictionaryFor("ngrams.list.element.hash", false),
		// Data page v2: Arrow Go v15's v1 pages reserve room for a level
		// count in front of the level buffers, and with that offset every
		// append re-grows the buffer by a few bytes (quadratic in the rows of
		// a page); v2 pages carry the counts in the page header instead.
		parquet.WithDataPageVersion(parquet.DataPageV2),
	}, extra...)...)
	fw, err := pqarrow.NewFileWriter(schema, w, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		return nil, fmt.Errorf("datasets: create parquet writer: %w", err)
	}
	return fw, nil
}

// writeRecord appends rec to the current buffered row group and starts a new
// one when it holds rowGroup rows.
func writeRecord(fw *pqarrow.FileWriter, rec arrow.Record, rowGroup int) error {
	if err := fw.WriteBuffered(rec); err != nil {
		return fmt.Errorf("datasets: write parquet: %w", err)
	}
	n, err := fw.RowGroupNumRows()
	if err != nil {
		return fmt.Errorf("datasets: write parquet: %w", err)
	}
	if n >= rowGroup {
		fw.NewBufferedRowGroup()
	}
	return nil
}

// openParquet opens path for Arrow reading; the caller closes the file.
func openParquet(path string) (*os.File, *pqarrow.FileReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("datasets: %w", err)
	}
	pr, err := file.NewParquetReader(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("datasets: %s is not a Parquet file: %w", path, err)
	}
	fr, err := pqarrow.NewFileReader(pr, pqarrow.ArrowReadProperties{BatchSize: readBatch}, memory.DefaultAllocator)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("datasets: read %s: %w", path, err)
	}
	return f, fr, nil
}

// eachRecord calls fn with every record of the given row groups (all when
// nil).
func eachRecord(fr *pqarrow.FileReader, rowGroups []int, fn func(arrow.Record) error) error {
	return eachColumns(fr, nil, rowGroups, fn)
}

// eachColumns calls fn with every record of the given leaf columns and row
// groups.
func eachColumns(fr *pqarrow.FileReader, cols, rowGroups []int, fn func(arrow.Record) error) error {
	rr, err := fr.GetRecordReader(context.Background(), cols, rowGroups)
	if err != nil {
		return fmt.Errorf("datasets: read parquet: %w", err)
	}
	defer rr.Release()
	for rr.Next() {
		if err := fn(rr.Record()); err != nil {
			return err
		}
	}
	if err := rr.Err(); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("datasets: read parquet: %w", err)
	}
	return nil
}

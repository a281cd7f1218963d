package features

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"bytes"
	"fmt"
	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/stretchr/testify/require"
)

func sampleRows(n int, seed uint64) []Row {
	r := rand.New(rand.NewPCG(seed, 2))
	rows := make([]Row, n)
	for i := range rows {
		vals := make([]float64, len(Catalog))
		for j := range vals {
			vals[j] = r.Float64() * 1000
		}
		var ngs []NGram
		for k := r.IntN(5); k > 0; k-- {
			ngs = append(ngs, NGram{Stream: uint8(r.IntN(2)), Hash: r.Uint64(), Count: r.Uint32()})
		}
		rows[i] = Row{VMID: fmt.Sprintf("vm-%d", i%3), Host: "host-a", Start: t0 + int64(i)*sec, End: t0 + int64(i+1)*sec, Values: vals, NGrams: ngs}
	}
	return rows
}

func TestRowsRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 100} {
		rows := sampleRows(n, uint64(n))
		data, err := EncodeRows(rows)
		require.NoError(t, err)
		got, err := DecodeRows(data, nil)
		require.NoError(t, err)
		if n == 0 {
			require.Empty(t, got)
			continue
		}
		require.Equal(t, rows, got)
	}
}

func TestEncodeRowsRejectsShortRows(t *testing.T) {
	_, err := EncodeRows([]Row{{VMID: "a", Values: []float64{1}}})
	require.ErrorContains(t, err, "values")
}

func TestDecodeRowsSchemaErrors(t *testing.T) {
	writeWith := func(s *arrow.Schema) []byte {
		var buf bytes.Buffer
		w := ipc.NewWriter(&buf, ipc.WithSchema(s))
		require.NoError(t, w.Close())
		return buf.Bytes()
	}
	md := func(kv ...string) *arrow.Metadata {
		m := arrow.NewMetadata([]string{MetaSchema, MetaSchemaHash}, kv)
		return &m
	}
	wrongType := append([]arrow.Field(nil), Schema.Fields()...)
	wrongType[numFixedCols] = arrow.Field{Name: Catalog[0].Name, Type: arrow.PrimitiveTypes.Int64}
	cases := []struct {
		name   string
		schema *arrow.Schema
		want   string
	}{
		{"version", arrow.NewSchema(Schema.Fields(), md("features.v0", SchemaHash())), "version"},
		{"catalog hash", arrow.NewSchema(Schema.Fields(), md(SchemaVersion, "0123456789abcdef")), "catalog hash"},
		{"columns", arrow.NewSchema(Schema.Fields()[:5], md(SchemaVersion, SchemaHash())), "columns"},
		{"column type", arrow.NewSchema(wrongType, md(SchemaVersion, SchemaHash())), "column 4"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeRows(writeWith(tc.schema), nil)
			require.ErrorIs(t, err, ErrSchema)
			require.ErrorContains(t, err, tc.want)
		})
	}
	_, err := DecodeRows([]byte("garbage"), nil)
	require.Error(t, err)
	require.NotErrorIs(t, err, ErrSchema)
}

// TestDecodeRowsNullNGrams reads a batch whose ngrams list is null.
func TestDecodeRowsNullNGrams(t *testing.T) {
	b := array.NewRecordBuilder(memory.DefaultAllocator, Schema)
	defer b.Release()
	b.Field(colVM).(*array.StringBuilder).Append("a")
	b.Field(colHost).(*array.StringBuilder).Append("h")
	b.Field(colStart).(*array.Int64Builder).Append(1)
	b.Field(colEnd).(*array.Int64Builder).Append(2)
	for j := range Catalog {
		b.Field(numFixedCols + j).(*array.Float64Builder).Append(float64(j))
	}
	b.Field(numFixedCols + len(Catalog)).(*array.ListBuilder).AppendNull()
	rec := b.NewRecord()
	defer rec.Release()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(Schema))
	require.NoError(t, w.Write(rec))
	require.NoError(t, w.Close())
	got, err := DecodeRows(buf.Bytes(), nil)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Nil(t, got[0].NGrams)
	require.Equal(t, float64(3), got[0].Values[3])
}

// TestWriteFuzzSeeds keeps the checked-in corpus in step with the encoder
// (UPDATE_FUZZ_SEEDS=1 rewrites it).
func TestWriteFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzDecodeRows")
	if os.Getenv("UPDATE_FUZZ_SEEDS") == "" {
		entries, err := os.ReadDir(dir)
		require.NoError(t, err, "seed corpus missing: run UPDATE_FUZZ_SEEDS=1 go test -run TestWriteFuzzSeeds ./features")
		require.NotEmpty(t, entries)
		return
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for i, n := range []int{0, 1, 3} {
		data, err := EncodeRows(sampleRows(n, uint64(i)))
		require.NoError(t, err)
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%d", i)), []byte(body), 0o644))
	}
}

func FuzzDecodeRows(f *testing.F) {
	data, err := EncodeRows(sampleRows(2, 9))
	require.NoError(f, err)
	f.Add(data)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := DecodeRows(data, nil)
		if err != nil {
			return
		}
		for _, r := range rows {
			require.Len(t, r.Values, len(Catalog))
		}
		// A stream that decodes re-encodes to rows that decode the same.
		again, err := EncodeRows(rows)
		require.NoError(t, err)
		got, err := DecodeRows(again, nil)
		require.NoError(t, err)
		require.Len(t, got, len(rows))
	})
}

func BenchmarkEncodeRows(b *testing.B) {
	rows := sampleRows(1000, 1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeRows(rows); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(rows)*b.N)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkDecodeRows(b *testing.B) {
	rows := sampleRows(1000, 1)
	data, err := EncodeRows(rows)
	if err != nil {
		b.Fatal(err)
	}
	dst := make([]Row, 0, len(rows))
	b.ReportAllocs()
	for b.Loop() {
		if dst, err = DecodeRows(data, dst[:0]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(rows)*b.N)/b.Elapsed().Seconds(), "rows/s")
}

func TestDecodeRowsRejectsHugeSizes(t *testing.T) {
	data, err := EncodeRows(sampleRows(1, 1))
	require.NoError(t, err)
	cases := map[string][]byte{
		"legacy length prefix": []byte("\x04\xc1)k`\xf5\xd0"),
		"message length":       append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, data[8:]...),
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeRows(in, nil)
			require.ErrorContains(t, err, "corrupt")
		})
	}
}

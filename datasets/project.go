package datasets

import (
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/parquet/metadata"

	"github.com/escapement/escapement/features"
)

// ReadOptions select what ReadFeaturesWith reads.
type ReadOptions struct {
	// NGrams reads the ngrams column (the largest by far); without it
	// Row.NGrams is nil.
	NGrams bool
	// Host reads the host column; without it Row.Host is "".
	Host bool
	// Since and Until (ns since the epoch, 0 = open) skip row groups whose
	// window_start statistics lie wholly outside [Since, Until). Rows of a
	// row group that is read are not filtered: the caller does that.
	Since, Until int64
}

// ReadStats counts what ReadFeaturesWith read and skipped.
type ReadStats struct {
	RowGroups, SkippedRowGroups int
	Rows                        int64
}

// ReadFeaturesWith streams the rows of a features file to fn one row group
// at a time, reading only the columns opts asks for (vm_id, window_start,
// window_end and the features always) and only the row groups that may hold
// window starts in [opts.Since, opts.Until). It adds to st when not nil.
func ReadFeaturesWith(path string, opts ReadOptions, st *ReadStats, fn func(names []string, rows []features.Row) error) error {
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
	// Leaf columns: vm_id 0, host 1, window_start 2, window_end 3, the
	// features, then the three leaves of ngrams.
	cols := []int{0}
	if opts.Host {
		cols = append(cols, 1)
	}
	for c := 2; c < nFixed+len(names); c++ {
		cols = append(cols, c)
	}
	if opts.NGrams {
		cols = append(cols, nFixed+len(names), nFixed+len(names)+1, nFixed+len(names)+2)
	}
	pr := fr.ParquetReader()
	md := pr.MetaData()
	var rows []features.Row
	for g := 0; g < pr.NumRowGroups(); g++ {
		if !startsMayOverlap(md, g, opts.Since, opts.Until) {
			if st != nil {
				st.SkippedRowGroups++
			}
			continue
		}
		rows = rows[:0]
		err := eachColumns(fr, cols, []int{g}, func(rec arrow.Record) error {
			rows = appendProjectedRows(rec, names, rows)
			return nil
		})
		if err != nil {
			return fmt.Errorf("datasets: read %s: %w", path, err)
		}
		if st != nil {
			st.RowGroups++
			st.Rows += int64(len(rows))
		}
		if err := fn(names, rows); err != nil {
			return err
		}
	}
	return nil
}

// startsMayOverlap reports whether row group g's window_start statistics
// allow a start in [since, until); no statistics means it may.
func startsMayOverlap(md *metadata.FileMetaData, g int, since, until int64) bool {
	if since == 0 && until == 0 {
		return true
	}
	rg := md.RowGroup(g)
	cc, err := rg.ColumnChunk(2)
	if err != nil {
		return true
	}
	ok, err := cc.StatsSet()
	if err != nil || !ok {
		return true
	}
	stats, err := cc.Statistics()
	if err != nil || stats == nil || !stats.HasMinMax() {
		return true
	}
	s, ok := stats.(interface {
		Min() int64
		Max() int64
	})
	if !ok {
		return true
	}
	if since != 0 && s.Max() < since {
		return false
	}
	if until != 0 && s.Min() >= until {
		return false
	}
	return true
}

// appendProjectedRows converts a record of a subset of the feature file's
// columns (found by name) to rows.
func appendProjectedRows(rec arrow.Record, names []string, rows []features.Row) []features.Row {
	idx := map[string]int{}
	for i, f := range rec.Schema().Fields() {
		idx[f.Name] = i
	}
	vm := rec.Column(idx[colVMID]).(*array.String)
	var host *array.String
	if i, ok := idx[colHost]; ok {
		host = rec.Column(i).(*array.String)
	}
	ws, we := rec.Column(idx[colWindowStart]), rec.Column(idx[colWindowEnd])
	cols := make([]*array.Float64, len(names))
	for j, n := range names {
		cols[j] = rec.Column(idx[n]).(*array.Float64)
	}
	var ng *array.List
	var stream *array.Uint8
	var hash *array.Uint64
	var count *array.Uint32
	if i, ok := idx[colNGrams]; ok {
		ng = rec.Column(i).(*array.List)
		st := ng.ListValues().(*array.Struct)
		stream, hash, count = st.Field(0).(*array.Uint8), st.Field(1).(*array.Uint64), st.Field(2).(*array.Uint32)
	}
	n := int(rec.NumRows())
	// One backing array for the values of the record's rows.
	vals := make([]float64, n*len(names))
	var lastVM, lastHost string
	for i := 0; i < n; i++ {
		if v := vm.Value(i); v != lastVM {
			lastVM = strings.Clone(v)
		}
		r := features.Row{VMID: lastVM, Start: int64At(ws, i), End: int64At(we, i)}
		if host != nil {
			if h := host.Value(i); h != lastHost {
				lastHost = strings.Clone(h)
			}
			r.Host = lastHost
		}
		r.Values = vals[i*len(names) : (i+1)*len(names) : (i+1)*len(names)]
		for j, c := range cols {
			r.Values[j] = c.Value(i)
		}
		if ng != nil && ng.IsValid(i) {
			lo, hi := ng.ValueOffsets(i)
			for k := int(lo); k < int(hi); k++ {
				r.NGrams = append(r.NGrams, features.NGram{Stream: stream.Value(k), Hash: hash.Value(k), Count: count.Value(k)})
			}
		}
		rows = append(rows, r)
	}
	return rows
}

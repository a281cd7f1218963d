package archive

import (
	"fmt"
	"io"
	"sort"

	"github.com/escapement/escapement/datasets"
	"github.com/escapement/escapement/events"
	"github.com/escapement/escapement/features"
)

// records is what an Archiver keeps of one kind of message (feature rows or
// raw events): a per-partition scratch of the decoded records of the
// current message.
type records interface {
	// decode replaces the scratch with the records of a message value.
	decode(value []byte) error
	len() int
	// start is the time (ns) that files record i by hour.
	start(i int) int64
	// sortByHour orders the scratch by the hour of start, stably.
	sortByHour()
	// newFile starts a Parquet file of this kind on w.
	newFile(w io.Writer) (recordFile, error)
	// clear drops references the scratch holds.
	clear()
}

// recordFile buffers records and writes them a row group at a time: Arrow
// Go's writer is several times slower with many small writes.
type recordFile interface {
	// take buffers scratch records [i, j) of r and reports whether a row
	// group is buffered (flush is due).
	take(r records, i, j int) bool
	flush() error
	close() error
}

// featureRecords are feature rows of a catalog.
type featureRecords struct {
	names []string
	rows  []features.Row
}

func (r *featureRecords) decode(v []byte) error {
	rows, err := features.DecodeRows(v, r.rows[:0])
	r.rows = rows
	if err != nil {
		return err
	}
	for i := range rows {
		if len(rows[i].Values) != len(r.names) {
			return fmt.Errorf("row %d has %d values for %d feature names", i, len(rows[i].Values), len(r.names))
		}
	}
	return nil
}

func (r *featureRecords) len() int          { return len(r.rows) }
func (r *featureRecords) start(i int) int64 { return r.rows[i].Start }
func (r *featureRecords) clear()            { clear(r.rows) }
func (r *featureRecords) sortByHour() {
	sort.SliceStable(r.rows, func(i, j int) bool { return HourOf(r.rows[i].Start).Before(HourOf(r.rows[j].Start)) })
}

func (r *featureRecords) newFile(w io.Writer) (recordFile, error) {
	fw, err := datasets.NewFeatureWriter(w, r.names)
	if err != nil {
		return nil, err
	}
	return &featureFile{w: fw}, nil
}

type featureFile struct {
	w   *datasets.FeatureWriter
	buf []features.Row
}

func (f *featureFile) take(r records, i, j int) bool {
	f.buf = append(f.buf, r.(*featureRecords).rows[i:j]...)
	return len(f.buf) >= datasets.RowGroupFeatures
}

func (f *featureFile) flush() error {
	if len(f.buf) == 0 {
		return nil
	}
	err := f.w.Write(f.buf)
	clear(f.buf)
	f.buf = f.buf[:0]
	return err
}

func (f *featureFile) close() error { return f.w.Close() }

// eventRecords are raw events (escapement.events.v1), filed by event time.
type eventRecords struct {
	evs []events.Event
}

func (r *eventRecords) decode(v []byte) error {
	evs, err := events.Decode(v, r.evs[:0])
	r.evs = evs
	return err
}

func (r *eventRecords) len() int          { return len(r.evs) }
func (r *eventRecords) start(i int) int64 { return r.evs[i].TimeNs }
func (r *eventRecords) clear()            { clear(r.evs) }
func (r *eventRecords) sortByHour() {
	sort.SliceStable(r.evs, func(i, j int) bool { return HourOf(r.evs[i].TimeNs).Before(HourOf(r.evs[j].TimeNs)) })
}

func (r *eventRecords) newFile(w io.Writer) (recordFile, error) {
	ew, err := datasets.NewEventWriter(w)
	if err != nil {
		return nil, err
	}
	return &eventFile{w: ew}, nil
}

type eventFile struct {
	w   *datasets.EventWriter
	buf []events.Event
}

func (f *eventFile) take(r records, i, j int) bool {
	f.buf = append(f.buf, r.(*eventRecords).evs[i:j]...)
	return len(f.buf) >= datasets.RowGroupEvents
}

func (f *eventFile) flush() error {
	if len(f.buf) == 0 {
		return nil
	}
	err := f.w.Write(f.buf)
	clear(f.buf)
	f.buf = f.buf[:0]
	return err
}

func (f *eventFile) close() error { return f.w.Close() }

package transport

import (
	"fmt"
	"sync"
)

// tracker follows the deliveries of one partition in one generation and
// computes the offset that may be committed: the offset of the oldest
// delivery still referenced, or the last handled offset + 1 when none is.
//
// Deliveries are appended in offset order, so the live ones form a deque:
// entries[head:] with sequence numbers base, base+1, ... Released entries at
// the front are popped; the slice is compacted when half of it is dead, so
// tracking costs O(1) amortised per message and no allocation in steady state.
type tracker struct {
	mu      sync.Mutex
	entries []trackEntry
	head    int    // index of the oldest live entry
	base    uint64 // sequence number of entries[head]
	last    int64  // last handled offset, -1 before the first
	closed  bool
}

type trackEntry struct {
	offset int64
	refs   int32
}

func newTracker() *tracker {
	return &tracker{last: -1}
}

// add records a delivery at offset holding one reference and returns its
// sequence number. Offsets must increase.
func (t *tracker) add(offset int64) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if offset <= t.last {
		panic(fmt.Sprintf("transport: tracker: offset %d added after %d", offset, t.last))
	}
	t.last = offset
	seq := t.base + uint64(len(t.entries)-t.head)
	t.entries = append(t.entries, trackEntry{offset: offset, refs: 1})
	return seq
}

// retain adds a reference to the delivery seq.
func (t *tracker) retain(seq uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	e := t.entry(seq)
	if e.refs <= 0 {
		panic(fmt.Sprintf("transport: Retain of delivery at offset %d after its last Release", e.offset))
	}
	e.refs++
}

// release drops a reference to the delivery seq; after close it does nothing.
func (t *tracker) release(seq uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	e := t.entry(seq)
	if e.refs <= 0 {
		panic(fmt.Sprintf("transport: Release of delivery at offset %d without a matching Retain", e.offset))
	}
	e.refs--
	if seq == t.base {
		t.popReleased()
	}
}

// entry returns the live entry seq. Must hold mu.
func (t *tracker) entry(seq uint64) *trackEntry {
	if seq < t.base {
		// Popped entries have no references left.
		panic(fmt.Sprintf("transport: delivery %d used after its last Release", seq))
	}
	return &t.entries[t.head+int(seq-t.base)]
}

// popReleased drops released entries from the front. Must hold mu.
func (t *tracker) popReleased() {
	for t.head < len(t.entries) && t.entries[t.head].refs == 0 {
		t.head++
		t.base++
	}
	if t.head == len(t.entries) {
		t.entries = t.entries[:0]
		t.head = 0
	} else if t.head > 64 && t.head*2 > len(t.entries) {
		n := copy(t.entries, t.entries[t.head:])
		t.entries = t.entries[:n]
		t.head = 0
	}
}

// committable returns the offset to commit and false when nothing was
// handled yet.
func (t *tracker) committable() (int64, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.committableLocked()
}

func (t *tracker) committableLocked() (int64, bool) {
	if t.last < 0 {
		return 0, false
	}
	if t.head < len(t.entries) {
		return t.entries[t.head].offset, true
	}
	return t.last + 1, true
}

// close ends tracking: later Retain and Release calls are no-ops. It
// returns the final committable offset.
func (t *tracker) close() (int64, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	return t.committableLocked()
}

// outstanding is the number of deliveries still referenced.
func (t *tracker) outstanding() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, e := range t.entries[t.head:] {
		if e.refs > 0 {
			n++
		}
	}
	return n
}

// delivery is the Delivery handed to Handler.Handle.
type delivery struct {
	msg Message
	t   *tracker
	seq uint64
}

func (d *delivery) Message() *Message { return &d.msg }
func (d *delivery) Retain()           { d.t.retain(d.seq) }
func (d *delivery) Release()          { d.t.release(d.seq) }

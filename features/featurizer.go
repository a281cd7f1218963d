package features

import (
	"math"
	"strings"
	"time"
	"unsafe"

	"github.com/escapement/escapement/events"
)

// Config parameterises a Featurizer. Zero fields take their defaults.
type Config struct {
	// Window is the length of the tumbling windows, aligned to multiples of
	// Window since the Unix epoch. Default 1s.
	Window time.Duration
	// Lateness is how far behind a VM's newest event time an event may be
	// and still count: a window closes once the VM's event time (or the
	// watermark given to Advance) reaches its end + Lateness; events of a
	// closed window are dropped and counted as late. Default 2s.
	Lateness time.Duration
	// IdleTTL evicts a VM's state (history included) after this long
	// without events, measured against the Advance watermark. Default 5m.
	IdleTTL time.Duration
	// MaxVMs bounds the VMs held; a new VM beyond it evicts the least
	// recently seen one (its open windows are emitted first). Default 20000.
	MaxVMs int
	// SketchK is the number of n-grams kept per row. Default 64.
	SketchK int
	// NGramN is the n of the n-gram sketch, 2 to 4. Default 3.
	NGramN int
	// WarmupWindows is the number of first windows of a VM whose novelty
	// features are reported as 0 while its history fills. Default 5;
	// negative means none.
	WarmupWindows int
}

// Defaults of Config.
const (
	DefaultWindow        = time.Second
	DefaultLateness      = 2 * time.Second
	DefaultIdleTTL       = 5 * time.Minute
	DefaultMaxVMs        = 20000
	DefaultSketchK       = 64
	DefaultNGramN        = 3
	DefaultWarmupWindows = 5
)

func (c Config) withDefaults() Config {
	if c.Window <= 0 {
		c.Window = DefaultWindow
	}
	if c.Lateness < 0 {
		c.Lateness = 0
	} else if c.Lateness == 0 {
		c.Lateness = DefaultLateness
	}
	if c.IdleTTL <= 0 {
		c.IdleTTL = DefaultIdleTTL
	}
	if c.MaxVMs <= 0 {
		c.MaxVMs = DefaultMaxVMs
	}
	if c.SketchK <= 0 {
		c.SketchK = DefaultSketchK
	}
	if c.NGramN == 0 {
		c.NGramN = DefaultNGramN
	}
	c.NGramN = min(max(c.NGramN, 2), maxNGramN)
	if c.WarmupWindows == 0 {
		c.WarmupWindows = DefaultWarmupWindows
	} else if c.WarmupWindows < 0 {
		c.WarmupWindows = 0
	}
	return c
}

// Stats are a Featurizer's running totals.
type Stats struct {
	Events      uint64 // events given to Add
	Windows     uint64 // rows emitted
	LateDrops   uint64 // events whose window had already closed
	VMs         int    // VMs held now
	Evictions   uint64 // VMs evicted (idle or over MaxVMs)
	SketchDrops uint64 // n-gram occurrences left out of a full window sketch
}

// maxPooledWindows bounds the closed windows kept for reuse.
const maxPooledWindows = 4096

// vmState is everything a Featurizer keeps about one VM.
type vmState struct {
	id, host      string
	maxTime       int64     // greatest event time seen
	closedThrough int64     // every window ending at or before this is closed
	open          []*window // open windows, by start
	cur           *window   // window of the last event
	age           int       // windows emitted
	prev, next    *vmState  // recency list, head = most recent
	threads       threads
	hist          history
}

// Featurizer turns events into per-VM window rows. It is not safe for
// concurrent use: run one per partition (the streaming Stage does, under a
// per-partition lock).
type Featurizer struct {
	cfg        Config
	win, late  int64
	ttl        int64
	secs       float64
	vms        map[string]*vmState
	head, tail *vmState
	last       *vmState
	pool       []*window
	advanced   int64 // closedThrough floor given by Advance
	scratch    []int
	stats      Stats
}

// New returns a Featurizer with cfg (zero fields take defaults).
func New(cfg Config) *Featurizer {
	cfg = cfg.withDefaults()
	return &Featurizer{
		cfg:      cfg,
		win:      int64(cfg.Window),
		late:     int64(cfg.Lateness),
		ttl:      int64(cfg.IdleTTL),
		secs:     cfg.Window.Seconds(),
		vms:      make(map[string]*vmState),
		advanced: math.MinInt64,
	}
}

// Config returns the configuration in use, defaults filled in.
func (f *Featurizer) Config() Config { return f.cfg }

// WindowStart returns the start of the window holding time t (ns).
func (f *Featurizer) WindowStart(t int64) int64 {
	s := t / f.win * f.win
	if t < 0 && s != t {
		s -= f.win
	}
	return s
}

// Add folds evs into their VMs' windows (by event time) and emits, in window
// order per VM, the rows of windows that close because a VM's event time
// moved past their end + Lateness. Batches of one VM are the fast path: the
// VM is looked up only when it changes between consecutive events.
func (f *Featurizer) Add(evs []events.Event, emit func(Row)) {
	f.stats.Events += uint64(len(evs))
	v := f.last
	for i := range evs {
		ev := &evs[i]
		if v == nil || v.id != ev.VMID {
			v = f.lookup(ev, emit)
		}
		t := ev.TimeNs
		start := f.WindowStart(t)
		if start+f.win <= v.closedThrough {
			f.stats.LateDrops++
			continue
		}
		w := v.cur
		if w == nil || w.start != start {
			w = f.window(v, start)
		}
		w.add(ev, v, f.cfg.NGramN)
		if t > v.maxTime {
			v.maxTime = t
			if ct := t - f.late; ct > v.closedThrough {
				v.closedThrough = ct
				if v.open[0].start+f.win <= ct {
					f.close(v, ct, emit)
				}
			}
		}
	}
}

// Advance closes, for every VM, the windows whose end + Lateness ≤ nowNs and
// evicts VMs without events for IdleTTL before nowNs. nowNs is a watermark:
// wall-clock time, or the stream's event time advanced by the wall time it
// has been quiet, so that a VM that goes silent still has its windows
// closed. Events later than it are then late.
func (f *Featurizer) Advance(nowNs int64, emit func(Row)) {
	ct := nowNs - f.late
	if ct > f.advanced {
		f.advanced = ct
	}
	for v := f.tail; v != nil; {
		prev := v.prev
		if ct > v.closedThrough {
			v.closedThrough = ct
			f.close(v, ct, emit)
		}
		if nowNs-v.maxTime >= f.ttl {
			f.evict(v, emit)
		}
		v = prev
	}
}

// Flush closes every open window of every VM and emits its row. VM history
// is kept; later events of the flushed windows are late.
func (f *Featurizer) Flush(emit func(Row)) {
	for v := f.tail; v != nil; v = v.prev {
		if n := len(v.open); n > 0 {
			end := v.open[n-1].start + f.win
			f.close(v, end, emit)
			v.closedThrough = max(v.closedThrough, end)
		}
	}
}

// OpenEnd returns the end of the newest open window of vmID, or 0 when the
// VM has no open window: every event given so far has had its row emitted.
func (f *Featurizer) OpenEnd(vmID string) int64 {
	v := f.vms[vmID]
	if v == nil || len(v.open) == 0 {
		return 0
	}
	return v.open[len(v.open)-1].start + f.win
}

// Stats returns the running totals.
func (f *Featurizer) Stats() Stats {
	s := f.stats
	s.VMs = len(f.vms)
	return s
}

// VMStateBytes returns the bytes held for vmID now (its state, open windows
// with their sketches, its id and host, and its map entry), or 0 if the VM
// is not held.
func (f *Featurizer) VMStateBytes(vmID string) int {
	v := f.vms[vmID]
	if v == nil {
		return 0
	}
	const mapEntry = 48 // key header, value pointer, tophash and load slack
	n := int(unsafe.Sizeof(*v)) + len(v.id) + len(v.host) + mapEntry + cap(v.open)*8
	for _, w := range v.open {
		n += windowBytes(w)
	}
	return n
}

func windowBytes(w *window) int {
	return int(unsafe.Sizeof(*w)) + cap(w.sk.hash)*8 + cap(w.sk.count)*4
}

func (f *Featurizer) lookup(ev *events.Event, emit func(Row)) *vmState {
	v := f.vms[ev.VMID]
	if v == nil {
		if len(f.vms) >= f.cfg.MaxVMs && f.tail != nil {
			f.evict(f.tail, emit)
		}
		v = &vmState{
			id:            strings.Clone(ev.VMID),
			host:          strings.Clone(ev.Host),
			maxTime:       ev.TimeNs,
			closedThrough: f.advanced,
			open:          make([]*window, 0, 1+int((f.late+f.win-1)/f.win)),
		}
		f.vms[v.id] = v
	} else if v == f.head {
		f.last = v
		return v
	} else {
		f.unlink(v)
	}
	v.next = f.head
	if f.head != nil {
		f.head.prev = v
	}
	f.head = v
	if f.tail == nil {
		f.tail = v
	}
	f.last = v
	return v
}

func (f *Featurizer) unlink(v *vmState) {
	if v.prev != nil {
		v.prev.next = v.next
	} else {
		f.head = v.next
	}
	if v.next != nil {
		v.next.prev = v.prev
	} else {
		f.tail = v.prev
	}
	v.prev, v.next = nil, nil
}

func (f *Featurizer) evict(v *vmState, emit func(Row)) {
	f.close(v, math.MaxInt64, emit)
	f.unlink(v)
	delete(f.vms, v.id)
	if f.last == v {
		f.last = nil
	}
	f.stats.Evictions++
}

// window returns v's open window starting at start, opening it if needed.
func (f *Featurizer) window(v *vmState, start int64) *window {
	i := len(v.open)
	for i > 0 && v.open[i-1].start >= start {
		if v.open[i-1].start == start {
			v.cur = v.open[i-1]
			return v.cur
		}
		i--
	}
	var w *window
	if n := len(f.pool); n > 0 {
		w = f.pool[n-1]
		f.pool = f.pool[:n-1]
		w.reset(start)
	} else {
		w = &window{start: start, sk: newSketch(f.cfg.SketchK)}
	}
	v.open = append(v.open, nil)
	copy(v.open[i+1:], v.open[i:])
	v.open[i] = w
	v.cur = w
	return w
}

// close emits and recycles v's open windows ending at or before through.
func (f *Featurizer) close(v *vmState, through int64, emit func(Row)) {
	n := 0
	for _, w := range v.open {
		if w.start > through-f.win {
			break
		}
		row := Row{
			VMID:   v.id,
			Host:   v.host,
			Start:  w.start,
			End:    w.start + f.win,
			Values: w.values(f.secs, v.age >= f.cfg.WarmupWindows),
		}
		row.NGrams, f.scratch = w.sk.top(f.cfg.SketchK, f.scratch)
		f.stats.SketchDrops += uint64(w.sk.dropped)
		f.stats.Windows++
		v.age++
		if v.cur == w {
			v.cur = nil
		}
		if len(f.pool) < maxPooledWindows {
			f.pool = append(f.pool, w)
		}
		n++
		emit(row)
	}
	if n > 0 {
		m := copy(v.open, v.open[n:])
		clear(v.open[m:])
		v.open = v.open[:m]
	}
}

package kvm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"

	"github.com/escapement/escapement/events"
)

// Config configures a live Collector. Zero values take the defaults.
type Config struct {
	Tracefs  string // tracefs mount point; default /sys/kernel/tracing (mounted if absent)
	ProcRoot string // procfs; default /proc
	Host     string // host name in events; default os.Hostname()
	BufferKB int    // per-CPU ring buffer of the main instance; default 8192
	// EmulationBufferKB is the per-CPU buffer of the instance counting
	// kvm_emulate_insn; default 2048. Negative disables emulation counting.
	EmulationBufferKB int
	Poll              time.Duration // how often the per-CPU buffers are drained; default 50 ms
	Rescan            time.Duration // how often /proc is scanned for VMMs; default 1 s
	FlushEvery        time.Duration // emulation counts and loss reports; default 100 ms
	// RawPages, when set, receives every raw ring-buffer page read from the
	// main instance (a copy the callee may keep). Used to save samples.
	RawPages func(page []byte)
}

func (c *Config) setDefaults() error {
	if c.Tracefs == "" {
		c.Tracefs = DefaultTracefs
	}
	if c.ProcRoot == "" {
		c.ProcRoot = "/proc"
	}
	if c.Host == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("kvm: host name (set Config.Host): %w", err)
		}
		c.Host = h
	}
	if c.BufferKB <= 0 {
		c.BufferKB = 8192
	}
	if c.EmulationBufferKB == 0 {
		c.EmulationBufferKB = 2048
	}
	if c.Poll <= 0 {
		c.Poll = 50 * time.Millisecond
	}
	if c.Rescan <= 0 {
		c.Rescan = time.Second
	}
	if c.FlushEvery <= 0 {
		c.FlushEvery = 100 * time.Millisecond
	}
	return nil
}

// Collector is the live KVM collector (collectors.Collector).
type Collector struct {
	cfg Config
	log *slog.Logger
	m   *metrics
}

// New returns a live collector. log and reg may be nil.
func New(cfg Config, log *slog.Logger, reg prometheus.Registerer) (*Collector, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &Collector{cfg: cfg, log: log, m: m}, nil
}

// Name implements collectors.Collector.
func (c *Collector) Name() string { return "tracefs" }

// CheckAccess returns an error naming what is missing for live capture:
// root (CAP_SYS_ADMIN for tracefs), /dev/kvm (the kvm module), tracefs.
func CheckAccess(tracefs string) error {
	if os.Geteuid() != 0 {
		return errors.New("kvm: live capture needs root (CAP_SYS_ADMIN to create a tracefs instance and CAP_DAC_READ_SEARCH to read /proc/PID/fd): run as root or grant them, e.g. AmbientCapabilities= in the systemd unit")
	}
	if _, err := os.Stat("/dev/kvm"); err != nil {
		return fmt.Errorf("kvm: no /dev/kvm on this host (load the module: modprobe kvm_intel, kvm_amd or kvm_pvm): %w", err)
	}
	if err := ensureTracefs(tracefs); err != nil {
		return err
	}
	if _, err := os.Stat(tracefs + "/events/kvm/kvm_pio"); err != nil {
		return fmt.Errorf("kvm: no kvm tracepoints under %s/events/kvm (kernel without CONFIG_TRACEPOINTS or kvm not loaded): %w", tracefs, err)
	}
	return nil
}

// monoOffset returns wall-clock minus CLOCK_MONOTONIC nanoseconds, the
// offset that turns the "mono" trace clock into Unix time.
func monoOffset() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return time.Now().UnixNano() - ts.Nano()
}

// loadFormats reads the format files of tps, skipping optional ones absent
// from this kernel.
func loadFormats(root string, tps []tracepoint) ([]*Format, error) {
	var out []*Format
	for _, tp := range tps {
		f, err := ReadFormat(root, tp.system, tp.name)
		if err != nil {
			if tp.optional && errors.Is(err, os.ErrNotExist) {
				continue
			}
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// Run implements collectors.Collector: it captures until ctx is done.
func (c *Collector) Run(ctx context.Context, emit func(context.Context, []events.Event) error) error {
	if err := CheckAccess(c.cfg.Tracefs); err != nil {
		return err
	}
	layout, err := ReadPageLayout(c.cfg.Tracefs)
	if err != nil {
		return err
	}
	tps := Tracepoints
	if c.cfg.EmulationBufferKB > 0 {
		tps = append(slices.Clone(tps), EmulationTracepoint)
	}
	formats, err := loadFormats(c.cfg.Tracefs, tps)
	if err != nil {
		return err
	}
	tr := newTracker(c.cfg.ProcRoot)
	dec, err := NewDecoder(layout, formats, c.cfg.Host, monoOffset(), tr)
	if err != nil {
		return err
	}
	name := fmt.Sprintf("escapement-%d", os.Getpid())
	main, err := openInstance(c.cfg.Tracefs, name, Tracepoints, c.cfg.BufferKB)
	if err != nil {
		return err
	}
	defer func() {
		if err := main.close(); err != nil {
			c.log.Warn("tracefs cleanup failed", "err", err)
		}
	}()
	instances := []*instance{main}
	if c.cfg.EmulationBufferKB > 0 {
		emul, err := openInstance(c.cfg.Tracefs, name+"-emul", []tracepoint{EmulationTracepoint}, c.cfg.EmulationBufferKB)
		if err != nil {
			return err
		}
		defer func() {
			if err := emul.close(); err != nil {
				c.log.Warn("tracefs cleanup failed", "err", err)
			}
		}()
		instances = append(instances, emul)
	}
	c.log.Info("kvm capture started", "instance", main.dir, "tracepoints", len(formats), "cpus", len(main.pipes))

	rescan := func() error {
		vmms, err := Discover(c.cfg.ProcRoot, c.cfg.Host)
		if err != nil {
			return err
		}
		added, removed := tr.update(vmms)
		var pids []int32
		for _, v := range added {
			c.log.Info("VM found", "vm_id", v.VMID, "pid", v.PID, "vmm", v.Type, "threads", len(v.Threads))
			for tid := range v.Threads {
				pids = append(pids, tid)
			}
		}
		for _, id := range removed {
			c.log.Info("VM gone", "vm_id", id)
		}
		c.m.vms.Set(float64(len(tr.vms)))
		for _, in := range instances {
			if err := in.addPIDs(pids); err != nil {
				return err
			}
		}
		return nil
	}
	if err := rescan(); err != nil {
		return err
	}
	poll := time.NewTicker(c.cfg.Poll)
	defer poll.Stop()
	lastScan, lastFlush := time.Now(), time.Now()
	page := make([]byte, layout.PageSize)
	var out []events.Event
	var prev DecodeStats
	var pendingLoss uint64
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-poll.C:
		}
		out = out[:0]
		for ii, in := range instances {
			for pi := range in.pipes {
				p := &in.pipes[pi]
				for range 4096 { // bounded per poll so that ctx is honoured
					n, err := p.read(page)
					if err != nil {
						return fmt.Errorf("kvm: read cpu%d trace_pipe_raw: %w", p.cpu, err)
					}
					if n == 0 {
						break
					}
					if ii == 0 && c.cfg.RawPages != nil {
						c.cfg.RawPages(slices.Clone(page[:n]))
					}
					out = dec.Page(page[:n], out)
				}
			}
		}
		out = dec.FlushPending(out)
		now := time.Now()
		if now.Sub(lastFlush) >= c.cfg.FlushEvery {
			lastFlush = now
			out = dec.FlushEmulation(out)
			// Only the main instance's losses leave gaps in the event
			// stream; the emulation instance's make counts low (metric only).
			for pi := range main.pipes {
				pendingLoss += main.pipes[pi].lostDelta()
			}
			for _, in := range instances[1:] {
				for pi := range in.pipes {
					c.m.lostEmulation.Add(float64(in.pipes[pi].lostDelta()))
				}
			}
			if pendingLoss > 0 {
				c.m.lost.Add(float64(pendingLoss))
				out = appendLoss(out, tr, c.cfg.Host, now.UnixNano(), pendingLoss)
				c.log.Warn("trace records lost in the kernel", "lost", pendingLoss, "hint", "raise the per-CPU buffer size")
				pendingLoss = 0
			}
		}
		c.m.observe(&prev, dec.Stats)
		if len(out) > 0 {
			slices.SortStableFunc(out, func(a, b events.Event) int {
				switch {
				case a.TimeNs < b.TimeNs:
					return -1
				case a.TimeNs > b.TimeNs:
					return 1
				}
				return 0
			})
			if err := emit(ctx, out); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("kvm: emit: %w", err)
			}
			c.m.emitted.Add(float64(len(out)))
		}
		if now.Sub(lastScan) >= c.cfg.Rescan {
			lastScan = now
			if err := rescan(); err != nil {
				return err
			}
		}
	}
}

// appendLoss reports lost records to every followed VM: the kernel counts
// losses per CPU, not per task, so each VM learns that its stream has a gap
// of up to n records.
func appendLoss(out []events.Event, tr *tracker, host string, wall int64, n uint64) []events.Event {
	for _, vm := range tr.vms {
		out = append(out, events.Event{
			TimeNs: wall, Host: host, VMID: vm.id, VCPU: -1, TID: vm.pid, Source: events.SourceTracefs,
			Kind: events.KindExitOther, Code: LossCode, Args: [4]uint64{n},
		})
	}
	return out
}

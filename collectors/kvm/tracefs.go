package kvm

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// DefaultTracefs is where tracefs is mounted (and mounted by the collector
// when it is not).
const DefaultTracefs = "/sys/kernel/tracing"

// ensureTracefs mounts tracefs at root when it is not mounted yet.
func ensureTracefs(root string) error {
	if _, err := os.Stat(filepath.Join(root, "instances")); err == nil {
		return nil
	}
	if err := unix.Mount("nodev", root, "tracefs", 0, ""); err != nil {
		return fmt.Errorf("kvm: tracefs is not mounted at %s and mounting it failed (run as root or with CAP_SYS_ADMIN, or mount it: mount -t tracefs nodev %s): %w", root, root, err)
	}
	if _, err := os.Stat(filepath.Join(root, "instances")); err != nil {
		return fmt.Errorf("kvm: tracefs at %s has no instances directory (kernel built without CONFIG_FTRACE instances?): %w", root, err)
	}
	return nil
}

// instance is a tracefs instance of the collector's own: its buffers,
// clock, pid filter and enabled events are independent of the global trace
// and of other tools.
type instance struct {
	dir   string
	pipes []cpuPipe
}

type cpuPipe struct {
	cpu  int
	fd   int // raw non-blocking descriptor: the Go poller would block on EAGAIN
	stat string
	// lost is the kernel's overrun + dropped count at the last stats read.
	lost uint64
}

// openInstance creates instance name under root, with the trace clock
// "mono", per-CPU buffers of bufKB, the event-fork option (children of
// filtered tasks are filtered in) and the given tracepoints enabled.
// Tracing stays off until setPIDs is called with at least one pid.
func openInstance(root, name string, tps []tracepoint, bufKB int) (*instance, error) {
	dir := filepath.Join(root, "instances", name)
	if _, err := os.Stat(dir); err == nil {
		_ = unix.Rmdir(dir) // left by a crashed collector of the same pid
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("kvm: create tracefs instance %s (needs root or CAP_SYS_ADMIN): %w", dir, err)
	}
	in := &instance{dir: dir}
	steps := []struct{ file, val string }{
		{"tracing_on", "0"},
		{"trace_clock", "mono"},
		{"buffer_size_kb", strconv.Itoa(bufKB)},
		{"options/event-fork", "1"},
	}
	for _, s := range steps {
		if err := in.write(s.file, s.val); err != nil {
			in.close()
			return nil, err
		}
	}
	for _, tp := range tps {
		err := in.write(filepath.Join("events", tp.system, tp.name, "enable"), "1")
		if err != nil && !(tp.optional && errors.Is(err, os.ErrNotExist)) {
			in.close()
			return nil, fmt.Errorf("kvm: enable tracepoint %s:%s (load the kvm module and check CONFIG_FTRACE_SYSCALLS / tracepoint support): %w", tp.system, tp.name, err)
		}
	}
	cpus, err := os.ReadDir(filepath.Join(dir, "per_cpu"))
	if err != nil {
		in.close()
		return nil, fmt.Errorf("kvm: list per-CPU buffers of %s: %w", dir, err)
	}
	for _, c := range cpus {
		n, err := strconv.Atoi(strings.TrimPrefix(c.Name(), "cpu"))
		if err != nil {
			continue
		}
		fd, err := unix.Open(filepath.Join(dir, "per_cpu", c.Name(), "trace_pipe_raw"), unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			in.close()
			return nil, fmt.Errorf("kvm: open %s trace_pipe_raw: %w", c.Name(), err)
		}
		in.pipes = append(in.pipes, cpuPipe{cpu: n, fd: fd, stat: filepath.Join(dir, "per_cpu", c.Name(), "stats")})
	}
	if len(in.pipes) == 0 {
		in.close()
		return nil, fmt.Errorf("kvm: tracefs instance %s has no per-CPU buffers", dir)
	}
	return in, nil
}

func (in *instance) write(file, val string) error {
	path := filepath.Join(in.dir, file)
	if err := os.WriteFile(path, []byte(val), 0); err != nil {
		return fmt.Errorf("kvm: write %q to %s: %w", val, path, err)
	}
	return nil
}

// addPIDs adds pids to the instance's event pid filter and turns tracing
// on. Tasks they fork are added by the kernel (event-fork).
func (in *instance) addPIDs(pids []int32) error {
	if len(pids) == 0 {
		return nil
	}
	var b strings.Builder
	for _, p := range pids {
		b.WriteString(strconv.Itoa(int(p)))
		b.WriteByte(' ')
	}
	path := filepath.Join(in.dir, "set_event_pid")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("kvm: open %s: %w", path, err)
	}
	_, err = f.WriteString(b.String())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kvm: add %d pids to %s: %w", len(pids), path, err)
	}
	return in.write("tracing_on", "1")
}

// read appends to pages every page available on the CPU, without blocking.
func (p *cpuPipe) read(buf []byte) (int, error) {
	for {
		n, err := unix.Read(p.fd, buf)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return 0, nil
		case err != nil:
			return 0, err
		}
		return n, nil
	}
}

// lostDelta returns how many records the kernel lost on the CPU since the
// previous call (overrun plus dropped events of its stats file).
func (p *cpuPipe) lostDelta() uint64 {
	f, err := os.Open(p.stat)
	if err != nil {
		return 0
	}
	defer f.Close()
	var total uint64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "overrun" && k != "dropped events") {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err == nil {
			total += n
		}
	}
	d := total - p.lost
	if total < p.lost {
		d = 0
	}
	p.lost = total
	return d
}

// close stops tracing and removes the instance.
func (in *instance) close() error {
	_ = in.write("tracing_on", "0")
	for _, p := range in.pipes {
		unix.Close(p.fd)
	}
	in.pipes = nil
	if err := unix.Rmdir(in.dir); err != nil {
		return fmt.Errorf("kvm: remove tracefs instance %s (remove it by hand: rmdir %s): %w", in.dir, in.dir, err)
	}
	return nil
}

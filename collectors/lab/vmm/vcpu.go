package vmm

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// vcpu is one virtual CPU: its fd, its mmapped kvm_run and its thread.
type vcpu struct {
	id   int
	fd   int
	run  []byte
	tid  atomic.Int32
	rng  *rand.Rand
	next time.Time // next timer tick
}

func (m *Machine) newVCPU(id int) (*vcpu, error) {
	fd, err := ioctl(m.vm, kvmCreateVCPU, uintptr(id))
	if err != nil {
		return nil, fmt.Errorf("vmm: KVM_CREATE_VCPU %d: %w", id, err)
	}
	c := &vcpu{id: id, fd: int(fd), rng: rand.New(rand.NewPCG(m.cfg.Seed, uint64(id)+1))}
	size, err := ioctl(m.kvm, kvmGetVCPUMmapSize, 0)
	if err != nil {
		c.close()
		return nil, fmt.Errorf("vmm: KVM_GET_VCPU_MMAP_SIZE: %w", err)
	}
	if c.run, err = unix.Mmap(c.fd, 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
		c.close()
		return nil, fmt.Errorf("vmm: mmap kvm_run of vCPU %d: %w", id, err)
	}
	if err := c.reset(); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// reset puts the vCPU in real mode at 0000:LoadAddr with flat 64 KiB
// segments, its own stack and its index in SI.
func (c *vcpu) reset() error {
	var s Sregs
	if err := ioctlPtr(c.fd, kvmGetSregs, &s); err != nil {
		return fmt.Errorf("vmm: KVM_GET_SREGS: %w", err)
	}
	for _, seg := range []*Segment{&s.CS, &s.DS, &s.ES, &s.FS, &s.GS} {
		seg.Base, seg.Selector = 0, 0
	}
	s.SS.Base, s.SS.Selector = StackSeg<<4, StackSeg
	if err := ioctlPtr(c.fd, kvmSetSregs, &s); err != nil {
		return fmt.Errorf("vmm: KVM_SET_SREGS: %w", err)
	}
	r := Regs{RIP: LoadAddr, RFLAGS: 2, RSP: uint64(StackTop - 0x800*c.id), RSI: uint64(c.id)}
	if err := ioctlPtr(c.fd, kvmSetRegs, &r); err != nil {
		return fmt.Errorf("vmm: KVM_SET_REGS: %w", err)
	}
	return nil
}

func (c *vcpu) close() {
	if c.run != nil {
		_ = unix.Munmap(c.run)
		c.run = nil
	}
	if c.fd >= 0 {
		unix.Close(c.fd)
		c.fd = -1
	}
}

func (c *vcpu) header() *runHeader { return (*runHeader)(unsafe.Pointer(&c.run[0])) }

// Regs returns the registers of vCPU i; call it after Run returns.
func (m *Machine) Regs(i int) (Regs, error) {
	var r Regs
	err := ioctlPtr(m.vcpus[i].fd, kvmGetRegs, &r)
	return r, err
}

// Run runs every vCPU, each on its own locked OS thread, until ctx is done
// (it returns nil) or a vCPU stops with an error (shutdown, internal error,
// failed entry), which it returns after stopping the others. A vCPU stuck
// in the kernel (a guest instruction the kernel re-emulates forever) is
// interrupted with a signal when ctx ends.
func (m *Machine) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for _, c := range m.vcpus {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := m.loop(ctx, c); err != nil {
				cancel(err)
			}
		}()
	}
	kicked := make(chan struct{})
	stopKick := context.AfterFunc(ctx, func() {
		defer close(kicked)
		for _, c := range m.vcpus {
			c.kick()
		}
	})
	wg.Wait()
	if !stopKick() {
		<-kicked // the kick is running: let it finish before the caller may unmap kvm_run
	}
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// kick makes a running KVM_RUN return: immediate_exit stops the next entry
// and SIGURG (which the Go runtime handles and tolerates) interrupts the
// current one with EINTR.
func (c *vcpu) kick() {
	atomic.OrUint32((*uint32)(unsafe.Pointer(&c.run[0])), 1<<8) // immediate_exit is byte 1
	if tid := c.tid.Load(); tid > 0 {
		_ = unix.Tgkill(unix.Getpid(), int(tid), unix.SIGURG)
	}
}

func (m *Machine) loop(ctx context.Context, c *vcpu) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c.tid.Store(int32(unix.Gettid()))
	defer c.tid.Store(0)
	c.next = time.Now()
	atomic.AndUint32((*uint32)(unsafe.Pointer(&c.run[0])), ^uint32(1<<8)) // clear a previous run's immediate_exit
	h := c.header()
	for {
		if ctx.Err() != nil {
			return nil
		}
		if _, err := ioctl(c.fd, kvmRun, 0); err != nil {
			if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
				m.bus.count(&m.bus.c.Interrupted)
				continue
			}
			return fmt.Errorf("vmm: KVM_RUN on vCPU %d: %w", c.id, err)
		}
		switch h.ExitReason {
		case ExitIO:
			m.handleIO(c)
		case ExitMMIO:
			m.handleMMIO(c)
		case ExitHLT:
			m.bus.count(&m.bus.c.HLT)
			if !c.sleep(ctx, m.cfg.TickHz, m.cfg.Jitter) {
				return nil
			}
		case ExitIntr:
			m.bus.count(&m.bus.c.Interrupted)
		case ExitShutdown, ExitFailEntry, ExitInternalError, ExitUnknown, ExitException:
			return m.fatal(c, h.ExitReason)
		default:
			m.bus.count(&m.bus.c.OtherExits)
		}
	}
}

// sleep waits for the vCPU's next timer tick; false when ctx ended first.
func (c *vcpu) sleep(ctx context.Context, hz, jitter float64) bool {
	period := float64(time.Second) / hz
	if jitter > 0 {
		period *= 1 + jitter*(2*c.rng.Float64()-1)
	}
	c.next = c.next.Add(time.Duration(period))
	now := time.Now()
	if d := c.next.Sub(now); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	} else if -d > 100*time.Millisecond {
		c.next = now // fell behind (host busy): do not burst to catch up
	}
	return true
}

func (m *Machine) fatal(c *vcpu, reason uint32) error {
	r, _ := m.Regs(c.id)
	msg := fmt.Sprintf("vmm: vCPU %d stopped with KVM exit %s at IP %#x", c.id, exitName(reason), r.RIP)
	if reason == ExitInternalError {
		ie := (*internalExit)(unsafe.Pointer(&c.run[runUnionOffset]))
		msg += fmt.Sprintf(" (internal error suberror %d: 1 is an emulation failure of the payload's instruction)", ie.Suberror)
	}
	if reason == ExitShutdown {
		msg += " (triple fault: the payload took an exception it has no handler for)"
	}
	return errors.New(msg)
}

func (m *Machine) handleIO(c *vcpu) {
	io := (*ioExit)(unsafe.Pointer(&c.run[runUnionOffset]))
	size := int(io.Size)
	off := int(io.DataOffset)
	for i := 0; i < int(io.Count); i++ {
		data := c.run[off+i*size : off+(i+1)*size]
		if io.Direction == 1 {
			m.bus.out(c.id, io.Port, data)
		} else {
			m.bus.in(c.id, io.Port, data)
		}
	}
}

func (m *Machine) handleMMIO(c *vcpu) {
	mm := (*mmioExit)(unsafe.Pointer(&c.run[runUnionOffset]))
	n := min(int(mm.Len), 8)
	if mm.IsWrite != 0 {
		m.bus.mmioWrite(mm.PhysAddr, mm.Data[:n])
	} else {
		m.bus.mmioRead(mm.PhysAddr, mm.Data[:n])
	}
}

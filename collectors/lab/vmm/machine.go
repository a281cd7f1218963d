package vmm

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Config describes one lab machine.
type Config struct {
	VCPUs   int    // 1..MaxVCPUs; default 1
	Program []byte // real-mode payload, loaded at LoadAddr
	Params  []byte // parameter block, written at ParamsAddr (≤ 256 bytes)
	// TickHz is the rate of the timer that wakes a halted vCPU: a HLT exit
	// sleeps until the vCPU's next tick. Default 100.
	TickHz float64
	// Jitter spreads each tick interval uniformly by ±Jitter of its length
	// (0..0.9).
	Jitter float64
	Seed   uint64 // seeds the tick jitter and the disk contents
	// OnControl is called, on the vCPU's thread, for every 16- or 8-bit
	// write to PortControl. It must not block for long.
	OnControl func(vcpu int, code uint16)
	Logger    *slog.Logger
}

// ErrNoKVM is returned by New when /dev/kvm cannot be opened.
var ErrNoKVM = errors.New("vmm: /dev/kvm is not available")

// Machine is a real-mode KVM guest with the lab device models.
type Machine struct {
	cfg      Config
	log      *slog.Logger
	kvm, vm  int
	mem, rom []byte
	readonly bool // ROM slot mapped KVM_MEM_READONLY
	vcpus    []*vcpu
	bus      *bus
}

// New creates the VM, maps its memory, loads the payload and creates the
// vCPUs in real mode at 0000:LoadAddr.
func New(cfg Config) (*Machine, error) {
	if cfg.VCPUs == 0 {
		cfg.VCPUs = 1
	}
	if cfg.VCPUs < 1 || cfg.VCPUs > MaxVCPUs {
		return nil, fmt.Errorf("vmm: %d vCPUs requested: use 1..%d", cfg.VCPUs, MaxVCPUs)
	}
	if len(cfg.Program) == 0 || len(cfg.Program) > MaxProgram {
		return nil, fmt.Errorf("vmm: payload is %d bytes: give 1..%d bytes", len(cfg.Program), MaxProgram)
	}
	if len(cfg.Params) > ReportAddr-ParamsAddr {
		return nil, fmt.Errorf("vmm: parameter block is %d bytes: give at most %d", len(cfg.Params), ReportAddr-ParamsAddr)
	}
	if cfg.TickHz == 0 {
		cfg.TickHz = 100
	}
	if cfg.TickHz < 0 || cfg.Jitter < 0 || cfg.Jitter > 0.9 {
		return nil, fmt.Errorf("vmm: TickHz %v and Jitter %v: TickHz must be positive and Jitter in [0, 0.9]", cfg.TickHz, cfg.Jitter)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Machine{cfg: cfg, log: cfg.Logger, kvm: -1, vm: -1}
	if err := m.open(); err != nil {
		m.Close()
		return nil, err
	}
	m.bus = newBus(cfg.Seed, cfg.OnControl)
	for i := 0; i < cfg.VCPUs; i++ {
		c, err := m.newVCPU(i)
		if err != nil {
			m.Close()
			return nil, err
		}
		m.vcpus = append(m.vcpus, c)
	}
	return m, nil
}

func (m *Machine) open() error {
	fd, err := unix.Open("/dev/kvm", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("%w: open: %v (run as root on a host with KVM enabled)", ErrNoKVM, err)
	}
	m.kvm = fd
	v, err := ioctl(fd, kvmGetAPIVersion, 0)
	if err != nil || v != APIVersion {
		return fmt.Errorf("vmm: KVM_GET_API_VERSION = %d (%v), want %d: this kernel's KVM is not supported", v, err, APIVersion)
	}
	vm, err := ioctl(fd, kvmCreateVM, 0)
	if err != nil {
		return fmt.Errorf("vmm: KVM_CREATE_VM: %w (is another hypervisor holding VMX/SVM?)", err)
	}
	m.vm = int(vm)
	// Intel needs a TSS address for real mode; elsewhere it is harmless or
	// unsupported.
	_, _ = ioctl(m.vm, kvmSetTSSAddr, 0xFFFBD000)

	if m.mem, err = anonMap(RAMSize); err != nil {
		return err
	}
	if err := m.setRegion(0, 0, 0, m.mem); err != nil {
		return err
	}
	if m.rom, err = anonMap(ROMSize); err != nil {
		return err
	}
	for i := range m.rom {
		m.rom[i] = byte(i) ^ 0x5A
	}
	if r, _ := ioctl(m.kvm, kvmCheckExtension, capReadonlyMem); r > 0 {
		if err := m.setRegion(1, memReadonly, ROMBase, m.rom); err != nil {
			return err
		}
		m.readonly = true
	}
	copy(m.mem[LoadAddr:], m.cfg.Program)
	copy(m.mem[ParamsAddr:], m.cfg.Params)
	return nil
}

func anonMap(n int) ([]byte, error) {
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return nil, fmt.Errorf("vmm: mmap %d bytes of guest memory: %w", n, err)
	}
	return b, nil
}

func (m *Machine) setRegion(slot, flags uint32, gpa uint64, b []byte) error {
	r := userMemoryRegion{Slot: slot, Flags: flags, GuestPhysAddr: gpa, MemorySize: uint64(len(b)),
		UserspaceAddr: uint64(uintptr(unsafe.Pointer(&b[0])))}
	if err := ioctlPtr(m.vm, kvmSetUserMemoryRegion, &r); err != nil {
		return fmt.Errorf("vmm: KVM_SET_USER_MEMORY_REGION slot %d at %#x: %w", slot, gpa, err)
	}
	return nil
}

// ReadOnlyROM reports whether the ROM slot is a KVM_MEM_READONLY slot (writes
// to it exit as MMIO) rather than absent (reads exit too).
func (m *Machine) ReadOnlyROM() bool { return m.readonly }

// Memory returns guest RAM (RAMSize bytes from guest-physical 0). The
// payload writes its reports there; read it after Run returns, or accept
// torn values while it runs.
func (m *Machine) Memory() []byte { return m.mem }

// Close releases the vCPUs, the VM and guest memory. It is safe to call
// more than once, and must not be called while Run runs.
func (m *Machine) Close() error {
	for _, c := range m.vcpus {
		c.close()
	}
	m.vcpus = nil
	for _, fd := range []*int{&m.vm, &m.kvm} {
		if *fd >= 0 {
			unix.Close(*fd)
			*fd = -1
		}
	}
	for _, b := range []*[]byte{&m.mem, &m.rom} {
		if *b != nil {
			_ = unix.Munmap(*b)
			*b = nil
		}
	}
	return nil
}

// Available reports whether /dev/kvm can be opened by this process, and why
// not.
func Available() error {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("%w: %v (run as root on a host with KVM enabled)", ErrNoKVM, err)
	}
	return f.Close()
}

package kvm

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// VMM is a discovered virtual machine monitor process.
type VMM struct {
	PID  int32
	VMID string // -name guest=X / -name X, else -uuid, else Firecracker --id, else host/pid
	Name string // the VM's name when the command line gives one
	UUID string
	Type string // qemu, firecracker, cloud-hypervisor, crosvm, or kvm-fd (any process holding /dev/kvm)
	// Threads maps every thread id of the process to its vCPU index, -1 for
	// threads that are not vCPU threads or whose name does not say.
	Threads map[int32]int32
}

// vmmTypes maps executable base names (or prefixes ending in '-') to VMM types.
var vmmTypes = []struct{ prefix, typ string }{
	{"qemu-system-", "qemu"},
	{"qemu-kvm", "qemu"},
	{"firecracker", "firecracker"},
	{"cloud-hypervisor", "cloud-hypervisor"},
	{"crosvm", "crosvm"},
}

// Discover lists the VMM processes under procRoot (normally /proc): those
// whose executable is a known VMM and any other process holding /dev/kvm or
// a KVM VM file descriptor open. host names VMs that have no id of their own.
// Processes that vanish while being read are skipped.
func Discover(procRoot, host string) ([]VMM, error) {
	ents, err := os.ReadDir(procRoot)
	if err != nil {
		return nil, fmt.Errorf("kvm: list processes in %s (mount procfs): %w", procRoot, err)
	}
	self := int32(os.Getpid())
	var out []VMM
	for _, e := range ents {
		pid64, err := strconv.ParseInt(e.Name(), 10, 32)
		if err != nil || int32(pid64) == self {
			continue
		}
		pid := int32(pid64)
		dir := filepath.Join(procRoot, e.Name())
		raw, err := os.ReadFile(filepath.Join(dir, "cmdline"))
		if err != nil || len(raw) == 0 {
			continue // gone, or a kernel thread
		}
		args := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
		typ := vmmType(args[0])
		if typ == "" && holdsKVM(dir) {
			typ = "kvm-fd"
		}
		if typ == "" {
			continue
		}
		v := VMM{PID: pid, Type: typ}
		v.VMID, v.Name, v.UUID = VMIDFromCmdline(args, host, pid)
		v.Threads = threads(dir)
		out = append(out, v)
	}
	return out, nil
}

func vmmType(argv0 string) string {
	base := filepath.Base(argv0)
	for _, t := range vmmTypes {
		if strings.HasPrefix(base, t.prefix) {
			return t.typ
		}
	}
	return ""
}

// holdsKVM reports whether the process in dir has /dev/kvm or a KVM VM or
// vCPU file descriptor open.
func holdsKVM(dir string) bool {
	fds, err := os.ReadDir(filepath.Join(dir, "fd"))
	if err != nil {
		return false
	}
	for _, fd := range fds {
		l, err := os.Readlink(filepath.Join(dir, "fd", fd.Name()))
		if err != nil {
			continue
		}
		if l == "/dev/kvm" || strings.HasPrefix(l, "anon_inode:kvm-vm") {
			return true
		}
	}
	return false
}

// VMIDFromCmdline derives a VM's id from its VMM command line: QEMU/libvirt
// "-name guest=X,..." or "-name X", then "-uuid U", then Firecracker
// "--id X", else "host/pid". name and uuid are returned when present.
func VMIDFromCmdline(args []string, host string, pid int32) (id, name, uuid string) {
	var fcID string
	for i := 0; i < len(args); i++ {
		a := args[i]
		val := func() string {
			if k, v, ok := strings.Cut(a, "="); ok && strings.HasPrefix(k, "-") && !strings.Contains(k, ",") {
				return v
			}
			if i+1 < len(args) {
				i++
				return args[i]
			}
			return ""
		}
		key, _, _ := strings.Cut(a, "=")
		switch key {
		case "-name", "--name":
			name = qemuName(val())
		case "-uuid", "--uuid":
			uuid = val()
		case "--id", "-id":
			fcID = val()
		}
	}
	switch {
	case name != "":
		return name, name, uuid
	case uuid != "":
		return uuid, name, uuid
	case fcID != "":
		return fcID, name, uuid
	}
	return fmt.Sprintf("%s/%d", host, pid), name, uuid
}

// qemuName extracts the guest name from a QEMU -name option value:
// "guest=X,debug-threads=on", "X,process=Y" or "X". Doubled commas are
// QEMU's escape for a comma inside the value.
func qemuName(v string) string {
	var parts []string
	cur := ""
	for i := 0; i < len(v); i++ {
		if v[i] == ',' {
			if i+1 < len(v) && v[i+1] == ',' {
				cur += ","
				i++
				continue
			}
			parts = append(parts, cur)
			cur = ""
			continue
		}
		cur += string(v[i])
	}
	parts = append(parts, cur)
	for _, p := range parts {
		if g, ok := strings.CutPrefix(p, "guest="); ok {
			return g
		}
	}
	if !strings.Contains(parts[0], "=") {
		return parts[0]
	}
	return ""
}

var vcpuComm = regexp.MustCompile(`(?i)cpu[ _]?(\d+)`)

// threads lists the threads of the process in dir with their vCPU index,
// read from the thread names VMMs give their vCPU threads ("CPU 0/KVM" in
// QEMU, "fc_vcpu 0" in Firecracker, "vcpu0" in cloud-hypervisor,
// "crosvm_vcpu0" in crosvm).
func threads(dir string) map[int32]int32 {
	out := make(map[int32]int32)
	ents, err := os.ReadDir(filepath.Join(dir, "task"))
	if err != nil {
		return out
	}
	for _, e := range ents {
		tid, err := strconv.ParseInt(e.Name(), 10, 32)
		if err != nil {
			continue
		}
		out[int32(tid)] = vcpuFromComm(filepath.Join(dir, "task", e.Name(), "comm"))
	}
	return out
}

func vcpuFromComm(path string) int32 {
	comm, err := os.ReadFile(path)
	if err != nil {
		return -1
	}
	m := vcpuComm.FindSubmatch(bytes.TrimSpace(comm))
	if m == nil {
		return -1
	}
	n, err := strconv.Atoi(string(m[1]))
	if err != nil {
		return -1
	}
	return int32(n)
}

// procParent returns the thread group id and the parent pid of task tid.
func procParent(procRoot string, tid int32) (tgid, ppid int32, err error) {
	data, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(int(tid)), "status"))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch k {
		case "Tgid":
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			tgid = int32(n)
		case "PPid":
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			ppid = int32(n)
		}
	}
	return tgid, ppid, nil
}

func vcpuFromProc(procRoot string, pid, tid int32) int32 {
	return vcpuFromComm(filepath.Join(procRoot, strconv.Itoa(int(pid)), "task", strconv.Itoa(int(tid)), "comm"))
}

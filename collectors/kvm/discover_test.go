package kvm

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestVMIDFromCmdline(t *testing.T) {
	for _, tc := range []struct {
		args           []string
		id, name, uuid string
	}{
		{[]string{"qemu-system-x86_64", "-name", "guest=web-1,debug-threads=on", "-uuid", "u-1"}, "web-1", "web-1", "u-1"},
		{[]string{"qemu-system-x86_64", "-name", "plain"}, "plain", "plain", ""},
		{[]string{"qemu-system-x86_64", "-name", "a,,b,process=x"}, "a,b", "a,b", ""},
		{[]string{"qemu-system-x86_64", "-uuid", "5f1d"}, "5f1d", "", "5f1d"},
		{[]string{"firecracker", "--id", "fc-7", "--api-sock", "/run/fc.sock"}, "fc-7", "", ""},
		{[]string{"firecracker", "--id=fc-8"}, "fc-8", "", ""},
		{[]string{"labvmm"}, "host-a/42", "", ""},
	} {
		id, name, uuid := VMIDFromCmdline(tc.args, "host-a", 42)
		require.Equal(t, tc.id, id, "%v", tc.args)
		require.Equal(t, tc.name, name)
		require.Equal(t, tc.uuid, uuid)
	}
}

// fakeProc builds a /proc with a QEMU (two threads), a process holding
// /dev/kvm and an unrelated process.
func fakeProc(t *testing.T) string {
	root := t.TempDir()
	mk := func(pid, cmdline string, threads map[string]string, fds map[string]string) {
		dir := filepath.Join(root, pid)
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "fd"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "cmdline"), []byte(cmdline), 0o644))
		for tid, comm := range threads {
			require.NoError(t, os.MkdirAll(filepath.Join(dir, "task", tid), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "task", tid, "comm"), []byte(comm+"\n"), 0o644))
		}
		for fd, target := range fds {
			require.NoError(t, os.Symlink(target, filepath.Join(dir, "fd", fd)))
		}
	}
	mk("10", "/usr/bin/qemu-system-x86_64\x00-name\x00guest=esc-1\x00", map[string]string{"10": "qemu-system-x86", "11": "CPU 0/KVM"}, nil)
	mk("20", "./labvmm\x00", map[string]string{"20": "labvmm"}, map[string]string{"3": "/dev/kvm"})
	mk("30", "/bin/bash\x00", map[string]string{"30": "bash"}, map[string]string{"0": "/dev/null"})
	return root
}

func TestDiscover(t *testing.T) {
	vmms, err := Discover(fakeProc(t), "host-a")
	require.NoError(t, err)
	require.Len(t, vmms, 2)
	byPID := map[int32]VMM{}
	for _, v := range vmms {
		byPID[v.PID] = v
	}
	require.Equal(t, "esc-1", byPID[10].VMID)
	require.Equal(t, "qemu", byPID[10].Type)
	require.Equal(t, map[int32]int32{10: -1, 11: 0}, byPID[10].Threads)
	require.Equal(t, "host-a/20", byPID[20].VMID)
	require.Equal(t, "kvm-fd", byPID[20].Type)

	tr := newTracker("")
	added, removed := tr.update(vmms)
	require.Len(t, added, 2)
	require.Empty(t, removed)
	tr.fork(11, 99)
	require.Equal(t, "esc-1", tr.lookup(99).vm.id)
	added, removed = tr.update(vmms[:0])
	require.Empty(t, added)
	require.ElementsMatch(t, []string{"esc-1", "host-a/20"}, removed)
	require.Nil(t, tr.lookup(99), "threads of a VM that went away are forgotten")
}

func TestDetectPlatform(t *testing.T) {
	dir := t.TempDir()
	cpu := filepath.Join(dir, "cpuinfo")
	require.NoError(t, os.WriteFile(cpu, []byte("processor\t: 0\nflags\t\t: fpu vme svm lm\n"), 0o644))
	require.Equal(t, PlatformSVM, DetectPlatform(dir, cpu))
	require.NoError(t, os.WriteFile(cpu, []byte("flags\t\t: fpu vmx\n"), 0o644))
	require.Equal(t, PlatformVMX, DetectPlatform(dir, cpu))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "kvm_pvm"), 0o755))
	require.Equal(t, PlatformPVM, DetectPlatform(dir, cpu))
}

package kvm

import (
	"os"
	"strings"
)

// Platforms a recording notes.
const (
	PlatformPVM = "pvm"
	PlatformVMX = "vmx"
	PlatformSVM = "svm"
)

// DetectPlatform tells how guests run on this host: "pvm" when the kvm_pvm
// module is loaded (software nested mode; real-mode code is emulated and
// kvm_exit does not fire), else "vmx" or "svm" from the CPU flags, else "".
func DetectPlatform(sysModule, cpuinfo string) string {
	if _, err := os.Stat(sysModule + "/kvm_pvm"); err == nil {
		return PlatformPVM
	}
	data, err := os.ReadFile(cpuinfo)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(k) != "flags" {
			continue
		}
		for _, f := range strings.Fields(v) {
			switch f {
			case "vmx":
				return PlatformVMX
			case "svm":
				return PlatformSVM
			}
		}
		return ""
	}
	return ""
}

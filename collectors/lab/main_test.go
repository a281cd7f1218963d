package lab

import (
	"os"
	"testing"
)

// TestMain lets the test binary serve as the lab VMM: lab.Run re-executes
// it with EnvVMM set.
func TestMain(m *testing.M) {
	if IsVMM() {
		os.Exit(VMMMain(os.Args[1:], os.Stdout))
	}
	os.Exit(m.Run())
}

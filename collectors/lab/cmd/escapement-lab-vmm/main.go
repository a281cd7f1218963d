// Command escapement-lab-vmm is the lab VMM as a binary of its own: one KVM
// VM running lab payloads, started as
//
//	escapement-lab-vmm -name guest=<vm> -vcpus 1 -phases '[{"workload":"idle","seed":1,"duration":2000000000}]'
//
// It prints its lab.Result as JSON. lab.Run starts it when Spec.Exe names
// it; by default lab.Run re-executes the running binary instead.
package main

import (
	"os"

	"github.com/escapement/escapement/collectors/lab"
)

func main() { os.Exit(lab.VMMMain(os.Args[1:], os.Stdout)) }

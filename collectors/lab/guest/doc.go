// Package guest holds the lab's guest payloads: real-mode x86 programs
// written in nasm (the .asm files beside this one, sharing common.inc) and
// their assembled bytes (the .bin files, checked in and embedded), so a
// build needs no assembler. TestAssembledBytesMatchSource re-assembles every
// source with nasm, when it is installed, and fails if a .bin is stale:
// after editing a payload run `go generate ./collectors/lab/guest`.
//
// Every payload follows the frame of common.inc: loaded at 0000:1000, one
// copy run by every vCPU, parameters read from the block at 0x600 (burst,
// seed, flags, workload argument), a report block per vCPU at 0x700 (ops,
// ticks, #GP and #UD taken), and a HLT after each burst so the VMM paces it.
package guest

//go:generate sh assemble.sh

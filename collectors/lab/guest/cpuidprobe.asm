; cpuidprobe: CPUID fingerprinting: hypervisor leaves 0x40000000-0x400000FF
; (4 in 10), extended leaves 0x80000000-0x800000FF (3 in 10), basic leaves
; 0-0x3F (3 in 10), each with a random subleaf 0-15.
%include "common.inc"
init:
	ret
unit:
	call rand
	mov bx, ax
	xor dx, dx
	mov cx, 10
	div cx
	movzx eax, bh
	cmp dx, 4
	jb .hv
	cmp dx, 7
	jb .ext
	and eax, 0x3F
	jmp .go
.hv:
	or eax, 0x40000000
	jmp .go
.ext:
	or eax, 0x80000000
.go:
	movzx ecx, bl
	and cl, 15
	cpuid
	ret

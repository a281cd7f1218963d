; msrprobe: RDMSR and WRMSR across indices: architectural (0-0x1FFF), AMD64
; (0xC0000000+), hypervisor (0x40000000-0x400000FF) and random 32-bit
; indices. Unimplemented ones raise #GP, which the payload's vector 13
; handler skips. Writes (one op in four) go only to the hypervisor range
; and random indices, never to architectural MSRs the payload relies on.
%include "common.inc"
init:
	mov word [di+R_SKIP], 2
	ret
unit:
	call rand
	mov bx, ax
	call rand32
	mov ecx, eax
	test bl, 3
	jz .write
	and bh, 3
	jz .arch
	cmp bh, 1
	je .amd
	cmp bh, 2
	je .hv
	jmp .read               ; random 32-bit index
.arch:
	and ecx, 0x1FFF
	jmp .read
.amd:
	and ecx, 0x1FFF
	or ecx, 0xC0000000
	jmp .read
.hv:
	and ecx, 0xFF
	or ecx, 0x40000000
.read:
	rdmsr
	ret
.write:
	test bh, 1
	jz .wrand
	and ecx, 0xFF
	or ecx, 0x40000000
.wrand:
	call rand32
	mov edx, eax
	wrmsr
	ret

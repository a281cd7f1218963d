; bootprobe: what firmware and a kernel do once per boot, repeated: one op
; is one step of the sequence (the op count selects it). PCI bus 0 vendor
; ID scan (32 devices) through 0xCF8/0xCFC; CPUID leaves 0, 1, 0x40000000,
; 0x40000001, 0x80000000, 0x80000001; RDMSR of APIC base, TSC, MTRRcap,
; PAT and EFER; the floppy controller's DOR and MSR; COM1 scratch register.
%include "common.inc"
init:
	ret
unit:
	mov ax, [di+R_OPS]
	xor dx, dx
	mov cx, 5
	div cx
	cmp dx, 0
	je pci
	cmp dx, 1
	je leaves
	cmp dx, 2
	je msrs
	cmp dx, 3
	je legacy
	ret
pci:
	xor bx, bx
.dev:
	mov eax, 0x80000000
	movzx ecx, bx
	shl ecx, 11
	or eax, ecx
	mov dx, 0xCF8
	out dx, eax
	mov dx, 0xCFC
	in eax, dx
	inc bx
	cmp bx, 32
	jb .dev
	ret
leaves:
	mov bx, cpuid_leaves
.l:
	mov eax, [bx]
	or eax, eax
	jz .done
	push bx
	xor ecx, ecx
	cpuid
	pop bx
	add bx, 4
	jmp .l
.done:
	ret
msrs:
	mov bx, msr_list
	mov word [di+R_SKIP], 2
.m:
	mov ecx, [bx]
	or ecx, ecx
	jz .done
	rdmsr
	add bx, 4
	jmp .m
.done:
	ret
legacy:
	mov dx, 0x3F2
	mov al, 0x0C
	out dx, al              ; DOR: controller enabled, DMA
	mov dx, 0x3F4
	in al, dx               ; main status
	mov dx, 0x3FF
	mov al, 0x5A
	out dx, al              ; UART scratch register probe
	in al, dx
	ret
cpuid_leaves: dd 0, 1, 0x40000000, 0x40000001, 0x80000000, 0x80000001, 0
msr_list: dd 0x1B, 0x10, 0xFE, 0x277, 0xC0000080, 0

; faultstorm: writes that the guest's memory map cannot satisfy: a byte to
; a random page of the read-only slot 0xC0000-0xCFFFF (3 in 8) or of the
; unbacked holes 0xA1000-0xAFFFF and 0xD0000-0xFFFFF. On this host every
; such write is an MMIO exit; on VMX/SVM each is an EPT/NPT violation first.
%include "common.inc"
init:
	ret
unit:
	call rand
	mov bx, ax
	and bx, 0x0FFF          ; offset in the page
	call rand
	mov cx, ax
	and ax, 0x0F
	shl ax, 8               ; page within a 64 KiB window, as a segment delta
	cmp ch, 0x60
	jb .rom
	test ch, 1
	jnz .holeA
	test ch, 2
	jnz .d
	test ch, 4
	jnz .e
	add ax, 0xF000
	jmp .seg
.e:
	add ax, 0xE000
	jmp .seg
.d:
	add ax, 0xD000
	jmp .seg
.holeA:
	or ax, ax               ; page 0xA0000 is the virtio window: use 0xA1000
	jnz .a
	mov ax, 0x100
.a:
	add ax, 0xA000
	jmp .seg
.rom:
	add ax, 0xC000
.seg:
	mov es, ax
	mov [es:bx], cl
	xor ax, ax
	mov es, ax
	ret

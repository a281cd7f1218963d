; console: a guest printing log lines on COM1, polling the line status
; register before every byte as a polled UART driver does.
%include "common.inc"
init:
	ret
unit:
	mov bx, line
.next:
	mov al, [bx]
	or al, al
	jz .num
	call putc
	inc bx
	jmp .next
.num:                           ; the op count in hex, then CR LF
	mov ax, [di+R_OPS]
	mov cx, 4
.hex:
	rol ax, 4
	push ax
	and al, 0x0F
	add al, '0'
	cmp al, '9'
	jbe .d
	add al, 7
.d:
	call putc
	pop ax
	loop .hex
	mov al, 13
	call putc
	mov al, 10
	call putc
	ret
putc:
	push ax
	mov dx, 0x3FD
.wait:
	in al, dx
	test al, 0x20           ; THR empty
	jz .wait
	pop ax
	mov dx, 0x3F8
	out dx, al
	ret
line: db "lab console: service heartbeat ", 0

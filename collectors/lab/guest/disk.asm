; disk: PIO transfers on the primary ATA channel. Each op reads (3 in 4) or
; writes one to four sectors at a random LBA: select drive, sector count,
; LBA, command 0x20/0x30, then per sector poll status for DRQ and move 256
; words with rep insw/outsw through 0x1F0 (buffer at 2000:0000).
%include "common.inc"
init:
	ret
unit:
	call ready
	call rand
	mov cx, ax
	and al, 3
	inc al
	mov [di+R_S0], ax       ; low byte: sectors
	mov dx, 0x1F2
	out dx, al
	mov ax, cx
	mov dx, 0x1F3
	out dx, al
	mov al, ah
	inc dx
	out dx, al
	xor al, al
	inc dx
	out dx, al
	mov al, 0xE0            ; LBA, master
	inc dx
	out dx, al
	mov bl, 0x20            ; READ SECTORS
	test ch, 0xC0
	jnz .cmd
	mov bl, 0x30            ; WRITE SECTORS
.cmd:
	mov al, bl
	mov dx, 0x1F7
	out dx, al
	mov ax, 0x2000
	mov es, ax
	xor ch, ch
	mov cl, [di+R_S0]
.sector:
	push cx
	call ready
	push di
	xor di, di
	mov dx, 0x1F0
	mov cx, 256
	cmp bl, 0x20
	jne .write
	rep insw
	jmp .done
.write:
	push si
	xor si, si
	es rep outsw
	pop si
.done:
	pop di
	pop cx
	loop .sector
	xor ax, ax
	mov es, ax
	ret
; ready: poll the status register until BSY is clear.
ready:
	mov dx, 0x1F7
.w:
	in al, dx
	test al, 0x80
	jnz .w
	ret

; Benign boot sector for lab VMs run by QEMU (plan VMs with vmm: qemu,
; workload console-pit). SeaBIOS loads it at 0000:7C00 from an IDE disk image.
; It talks to QEMU's own device models only: the 16550 UART at COM1
; (0x3F8-0x3FF) and the 8254 PIT (0x40-0x43). Each round it waits 1..4 of
; SeaBIOS's timer ticks (sti; hlt: about 18.2 Hz), latches and reads PIT
; channel 0, and writes 1..4 lines "lab NNNN PPPP" to COM1, polling the line
; status register before each byte: console chatter at a randomised pace.
; The randomness is a 16-bit xorshift seeded from the PIT at start.
; Assemble: nasm -f bin -o qemuboot.bin qemuboot.asm (go generate ./collectors/lab)
bits 16
org 0x7c00

COM1 equ 0x3f8

start:
	cli
	xor ax, ax
	mov ds, ax
	mov es, ax
	mov ss, ax
	mov sp, 0x7c00
	cld
	; 16550: 115200 8N1, FIFOs on, DTR/RTS/OUT2
	mov dx, COM1+3
	mov al, 0x80
	out dx, al              ; DLAB
	mov dx, COM1
	mov al, 1
	out dx, al              ; divisor low
	inc dx
	xor al, al
	out dx, al              ; divisor high
	mov dx, COM1+3
	mov al, 0x03
	out dx, al              ; 8N1
	dec dx
	mov al, 0xc7
	out dx, al              ; FCR
	mov dx, COM1+4
	mov al, 0x0b
	out dx, al              ; MCR
	call pit
	or ax, 1
	mov [seed], ax
	xor bp, bp              ; round counter

round:
	call rand
	and ax, 3
	inc ax
	mov cx, ax              ; ticks to wait
wait_tick:
	sti
	hlt
	cli
	loop wait_tick
	inc bp
	call rand
	and ax, 3
	inc ax
	mov cx, ax              ; lines this round
line:
	push cx
	mov si, msg
	call puts
	mov ax, bp
	call hex4
	mov al, ' '
	call putc
	call pit
	call hex4
	mov al, 13
	call putc
	mov al, 10
	call putc
	pop cx
	loop line
	jmp round

; pit: latch PIT channel 0 and return its count in ax.
pit:
	xor al, al
	out 0x43, al            ; counter latch, channel 0
	in al, 0x40
	mov ah, al
	in al, 0x40
	xchg al, ah             ; ax = high:low
	ret

; rand: 16-bit xorshift (7, 9, 8) of [seed], returned in ax.
rand:
	mov ax, [seed]
	mov bx, ax
	shl bx, 7
	xor ax, bx
	mov bx, ax
	shr bx, 9
	xor ax, bx
	mov bx, ax
	shl bx, 8
	xor ax, bx
	mov [seed], ax
	ret

; putc: write al to COM1 once the transmit holding register is empty.
putc:
	push ax
	mov dx, COM1+5
.busy:
	in al, dx
	test al, 0x20
	jz .busy
	pop ax
	mov dx, COM1
	out dx, al
	ret

; puts: write the NUL-terminated string at ds:si.
puts:
	lodsb
	test al, al
	jz .done
	call putc
	jmp puts
.done:
	ret

; hex4: write ax as four hex digits.
hex4:
	mov cx, 4
.digit:
	rol ax, 4
	push ax
	and al, 0x0f
	add al, '0'
	cmp al, '9'
	jbe .out
	add al, 'a' - '9' - 1
.out:
	call putc
	pop ax
	loop .digit
	ret

msg: db "lab ", 0
seed: dw 0

times 510-($-$$) db 0
dw 0xaa55

; Boot sector for QEMU VMs that attack (plan VMs with vmm: qemu, workload
; console-pit and pci-config-scan windows). SeaBIOS loads it at 0000:7C00
; from an IDE disk image. It is qemuboot.asm (UART chatter and PIT reads on
; SeaBIOS's 18.2 Hz tick) plus a PCI configuration-space scan switched by
; the keyboard: the lab presses 'a' (QMP send-key) when the window starts and
; 'b' when it ends; the sector polls the BIOS keyboard buffer (int 16h) once
; per round and says "scan on" / "scan off" on COM1. While on, each timer tick runs 128 accesses of a random
; bus/device/function/register through QEMU's own PCI host bridge (out
; 0xCF8, in 0xCFC): about 2 300 a second, nearly all to absent functions.
; Assemble: nasm -f bin -o qemuattack.bin qemuattack.asm (go generate ./collectors/lab)
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
	call key
	cmp byte [scan], 0
	je benign
	; PCI scan: one tick, then 128 random configuration reads.
	sti
	hlt
	cli
	mov cx, 128
pci:
	push cx
	call rand
	push ax                 ; bus:devfn
	call rand
	and ax, 0xfc            ; register
	movzx eax, ax
	pop bx
	movzx ebx, bx
	shl ebx, 8
	or eax, ebx
	or eax, 0x80000000
	mov dx, 0xcf8
	out dx, eax
	mov dx, 0xcfc
	in eax, dx
	pop cx
	loop pci
	jmp round

benign:
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

; key: take a key from the BIOS keyboard buffer if there is one: 'a'
; starts the scan, 'b' stops it.
key:
	mov ah, 1
	int 0x16
	jz .none
	xor ah, ah
	int 0x16
	cmp al, 'a'
	jne .b
	mov byte [scan], 1
	mov si, on
	jmp puts
.b:
	cmp al, 'b'
	jne .none
	mov byte [scan], 0
	mov si, off
	jmp puts
.none:
	ret

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
on: db "scan on", 13, 10, 0
off: db "scan off", 13, 10, 0
seed: dw 0
scan: db 0

times 510-($-$$) db 0
dw 0xaa55

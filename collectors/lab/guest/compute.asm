; compute: a number-crunching guest with periodic output. Each op runs
; `arg` (default 64) rounds of integer arithmetic in registers and memory,
; then writes the checksum's low byte to COM1 and reads the ATA status.
%include "common.inc"
init:
	ret
unit:
	mov cx, [P_ARG]
	or cx, cx
	jnz .go
	mov cx, 64
.go:
	mov eax, [di+R_OPS]
	mov ebx, 0x9E3779B9
.round:
	imul eax, ebx
	add eax, ecx
	rol eax, 5
	xor [0x2F00], eax
	loop .round
	mov dx, 0x3F8
	out dx, al
	mov dx, 0x1F7
	in al, dx
	ret

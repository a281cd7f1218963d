; pciscan: configuration-space scan beyond what boot does: random bus
; (0-255), device, function and register (the whole 256-byte space), read
; through 0xCF8/0xCFC; one op in eight writes the register back instead.
%include "common.inc"
init:
	ret
unit:
	call rand32
	and eax, 0x00FFFFFC     ; bus, device, function, register
	or eax, 0x80000000
	mov dx, 0xCF8
	out dx, eax
	mov dx, 0xCFC
	call rand
	test al, 7
	jz .write
	in eax, dx
	ret
.write:
	in eax, dx
	out dx, eax
	ret

; idle: a guest with nothing to do. Each timer tick it latches and reads the
; PIT channel 0 counter (as a kernel's tick handler reads its clocksource)
; and halts again.
%include "common.inc"
init:
	ret
unit:
	xor al, al
	out 0x43, al            ; latch counter 0
	in al, 0x40
	in al, 0x40
	ret

; net: a virtio-net-like driver on the MMIO window at 0xA0000. init checks
; the magic/version/device id and sets up queue 0; each op fills a
; descriptor in RAM, notifies the device (QueueNotify write), reads the
; interrupt status and acknowledges it; every 16th op reads the MAC from
; the config space.
%include "common.inc"
%define VIO 0xA000
init:
	mov ax, VIO
	mov es, ax
	mov eax, [es:0x000]     ; MagicValue
	mov eax, [es:0x004]     ; Version
	mov eax, [es:0x008]     ; DeviceID
	mov dword [es:0x070], 1 ; Status: ACKNOWLEDGE
	mov dword [es:0x070], 3 ; DRIVER
	mov dword [es:0x030], 0 ; QueueSel
	mov eax, [es:0x034]     ; QueueNumMax
	mov dword [es:0x038], 256
	mov dword [es:0x080], 0x3000 ; QueueDescLow
	mov dword [es:0x044], 1 ; QueueReady
	mov dword [es:0x070], 7 ; DRIVER_OK
	xor ax, ax
	mov es, ax
	ret
unit:
	call rand
	and ax, 0xFF
	mov bx, ax
	shl bx, 4
	mov dword [0x3000+bx], 0x4000 ; descriptor address
	mov word [0x3004+bx], 1514    ; length
	mov ax, VIO
	mov es, ax
	mov dword [es:0x050], 0       ; QueueNotify
	mov eax, [es:0x060]           ; InterruptStatus
	mov [es:0x064], eax           ; InterruptACK
	test word [di+R_OPS], 15
	jnz .out
	mov eax, [es:0x100]           ; MAC
	mov ax, [es:0x104]
.out:
	xor ax, ax
	mov es, ax
	ret

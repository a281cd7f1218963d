; Boot sector for the real-guest test of collectors/kvm. Each pass makes
; guest actions whose operands the test knows in advance, then waits for a
; timer tick with hlt. Assemble: nasm -f bin -o guest.img guest.asm
bits 16
org 0x7c00

start:
	cli
	xor ax, ax
	mov ds, ax
	mov ss, ax
	mov sp, 0x7c00
	; Unreal mode: give fs a 4 GiB limit so that a 32-bit address reaches
	; 0xe0000000, in the PCI hole where nothing answers.
	lgdt [gdtr]
	mov eax, cr0
	or al, 1
	mov cr0, eax
	mov bx, 0x08
	mov fs, bx
	and al, 0xfe
	mov cr0, eax
	xor ax, ax
	mov fs, ax
	mov edi, 0xe0000000
	mov si, 120             ; passes: about 6 s of 18.2 Hz timer ticks
pass:
	mov dx, 0x7f0           ; unassigned port: byte write 0x5a
	mov al, 0x5a
	out dx, al
	mov dx, 0x7f2           ; unassigned port: word write 0xbeef
	mov ax, 0xbeef
	out dx, ax
	mov byte [fs:edi], 0xa5 ; MMIO write, gpa 0xe0000000, len 1
	mov ecx, 0x1b           ; rdmsr IA32_APIC_BASE (0xfee00900 on the BSP)
	rdmsr
	mov eax, 0x40000000     ; cpuid hypervisor leaf (KVM signature)
	xor ecx, ecx
	cpuid
	sti
	hlt                     ; wait for the next timer tick
	cli
	dec si
	jnz pass
done:
	cli
	hlt
	jmp done

align 8
gdt:
	dq 0
	dq 0x00cf92000000ffff   ; flat 4 GiB data segment
gdtr:
	dw gdtr - gdt - 1
	dd gdt

times 510-($-$$) db 0
dw 0xaa55

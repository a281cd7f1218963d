; hypercall: hypercall fuzzing as far as a real-mode guest can go here.
; Half the ops execute VMMCALL with a random call number in EAX and random
; arguments in EBX, ECX, EDX, ESI-free (SI is the vCPU index); KVM's
; emulator answers it in real mode with #UD, which vector 6 skips. (VMCALL
; is not used: under PVM in real mode it is re-emulated forever.) The other
; half calls the VMware-style backdoor, the I/O-port hypercall interface
; hypervisors expose to guests: EAX = 0x564D5868 ("VMXh"), ECX = random
; command, EBX = random argument, IN EAX, DX at port 0x5658.
%include "common.inc"
init:
	mov word [di+R_SKIP], 3
	ret
unit:
	call rand
	test al, 1
	jz .backdoor
	call rand32
	mov ebx, eax
	call rand32
	mov edx, eax
	call rand32
	mov ecx, eax
	call rand
	movzx eax, ax
	vmmcall
	ret
.backdoor:
	call rand32
	mov ebx, eax
	call rand
	movzx ecx, ax
	mov eax, 0x564D5868
	mov dx, 0x5658
	in eax, dx
	ret

/* pvh.S: PVH entry of the tiny guest: a Xen ELF note, then 32-bit protected mode to long mode. */
#define XEN_ELFNOTE_PHYS32_ENTRY 18

	.section .note.Xen, "a", @note
	.balign 4
	.long 4				/* name size */
	.long 4				/* desc size */
	.long XEN_ELFNOTE_PHYS32_ENTRY
	.asciz "Xen"
	.long pvh_start

	.section .text.pvh, "ax"
	.code32
	.globl pvh_start
pvh_start:
	/* EBX: struct hvm_start_info. Paging is off; the VMM's identity
	 * page tables at 0x9000 and GDT (0x10 = 64-bit code) are in place. */
	cli
	mov %ebx, %esi
	mov %cr4, %eax
	or $0x20, %eax			/* PAE */
	mov %eax, %cr4
	mov $0x9000, %eax
	mov %eax, %cr3
	mov $0xc0000080, %ecx		/* EFER */
	rdmsr
	or $0x100, %eax			/* LME */
	wrmsr
	mov %cr0, %eax
	or $0x80000001, %eax		/* PG | PE */
	mov %eax, %cr0
	ljmp $0x10, $pvh_long

	.code64
pvh_long:
	mov $0x18, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	lea pvh_stack_top(%rip), %rsp
	mov %esi, %edi			/* zero-extended start info */
	call tiny_main_pvh
1:	cli
	hlt
	jmp 1b

	.section .bss
	.balign 16
pvh_stack:	.skip 8192
pvh_stack_top:

	.section .note.GNU-stack, "", @progbits

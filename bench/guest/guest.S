/* guest.S: the start/stop benchmark guest, a PVH ELF both microvm and QEMU boot: marker 123 to port 0x80, one line on the UART, then a triple fault (or, built with -DHALT, cli; hlt for ever). */
#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define UART_THR 0x3f8
#define DEBUG_PORT 0x80
#define BOOT_MARKER_INIT 123

	.section .note.Xen, "a", @note
	.balign 4
	.long 4				/* name size */
	.long 4				/* desc size */
	.long XEN_ELFNOTE_PHYS32_ENTRY
	.asciz "Xen"
	.long pvh_start

	/*
	 * PVH entry: 32-bit protected mode, paging off, flat segments. Only
	 * port I/O: no stack, no page tables, nothing a VMM must prepare
	 * beyond the PVH contract.
	 */
	.text
	.code32
	.globl pvh_start
pvh_start:
	cli
	mov $BOOT_MARKER_INIT, %al
	outb %al, $DEBUG_PORT
	mov $msg, %esi
	mov $UART_THR, %dx
1:	movb (%esi), %al
	test %al, %al
	jz 2f
	outb %al, %dx
	inc %esi
	jmp 1b
2:
#ifdef HALT
3:	hlt
	jmp 3b
#else
	/* An empty IDT: #UD cannot be delivered, so #DF, then shutdown. */
	lidt null_idt
	ud2
#endif

	.section .rodata
	.balign 8
null_idt:
	.word 0
	.long 0
msg:
#ifdef HALT
	.asciz "BENCH-GUEST: ready\n"
#else
	.asciz "BENCH-GUEST: stop\n"
#endif

	.section .note.GNU-stack, "", @progbits

/* head.S: arm64 Image header and entry points of the aarch64 tiny test guest (primary, PSCI secondaries, exception vectors). */
/*
 * Documentation/arch/arm64/booting.rst: entered at EL1 (or EL2) with the MMU
 * off, x0 = the FDT's physical address, anywhere 2 MiB aligned in RAM. The
 * image is linked at 0 as a static PIE: the code is PC-relative, and the
 * R_AARCH64_RELATIVE relocations of any absolute pointers are applied here
 * before C runs. MMU off: every data access is to Device memory, so only
 * aligned ones (the C is built with -mstrict-align).
 */
#define R_AARCH64_RELATIVE 1027

	.macro adr_l, reg, sym
	adrp	\reg, \sym
	add	\reg, \reg, :lo12:\sym
	.endm

	.section .head, "ax"
	.globl	_head
_head:
	b	primary_entry		/* code0 */
	.long	0			/* code1 */
	.quad	0			/* text_offset */
	.quad	_image_size		/* image_size: file plus bss and stacks */
	/* flags: little-endian (bit 0 = 0), 4K pages (bits 1-2 = 1),
	 * placement anywhere in RAM (bit 3 = 1). */
	.quad	(1 << 1) | (1 << 3)
	.quad	0			/* res2 */
	.quad	0			/* res3 */
	.quad	0			/* res4 */
	.ascii	"ARM\x64"		/* magic, at offset 56 */
	.long	0			/* res5 (PE header offset: none) */

	.text
primary_entry:
	msr	daifset, #0xf
	mov	x19, x0			/* the FDT */
	adr_l	x20, _head		/* where we run; linked at 0 */

	/* Apply R_AARCH64_RELATIVE: *(base + offset) = base + addend. */
	adr_l	x1, __rela_start
	adr_l	x2, __rela_end
1:	cmp	x1, x2
	b.hs	3f
	ldp	x3, x4, [x1], #16	/* r_offset, r_info */
	ldr	x5, [x1], #8		/* r_addend */
	cmp	w4, #R_AARCH64_RELATIVE
	b.ne	1b			/* the link step allows no other kind */
	add	x5, x5, x20
	str	x5, [x20, x3]
	b	1b
3:
	/* Zero .bss (8-byte aligned at both ends), stacks included. */
	adr_l	x1, __bss_start
	adr_l	x2, __bss_end
4:	cmp	x1, x2
	b.hs	5f
	str	xzr, [x1], #8
	b	4b
5:
	bl	cpu_setup
	adr_l	x1, stack_top
	mov	sp, x1
	mov	x0, x19
	bl	tiny_main
6:	msr	daifset, #0xf
	wfi
	b	6b

/* PSCI CPU_ON lands here, MMU off, x0 = context_id = the CPU's index. */
	.globl	secondary_entry
secondary_entry:
	msr	daifset, #0xf
	mov	x19, x0
	bl	cpu_setup
	/* One secondary runs at a time (the boot CPU waits for each). */
	adr_l	x1, secondary_stack_top
	mov	sp, x1
	mov	x0, x19
	bl	tiny_secondary
	/* Off the stack from here on: the next secondary gets it. */
	adr_l	x1, secondary_up
	str	w0, [x1]
	dsb	sy
7:	wfi
	b	7b

/* Handler stack pointer and, at EL1, the vectors. Clobbers x0. */
cpu_setup:
	msr	spsel, #1
	mrs	x0, CurrentEL
	cmp	x0, #(1 << 2)
	b.ne	8f
	adr_l	x0, vectors
	msr	vbar_el1, x0
	isb
8:	ret

/* Sixteen vectors: each reports which one, ESR, ELR and FAR, and stops. */
	.macro vector, n
	.balign	0x80
	mov	x0, #\n
	b	exception
	.endm

	.balign	0x800
vectors:
	.irp	n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
	vector	\n
	.endr

exception:
	mrs	x1, esr_el1
	mrs	x2, elr_el1
	mrs	x3, far_el1
	bl	tiny_exception
9:	wfi
	b	9b

	.section .bss
	.balign	16
stack:	.skip	16384
stack_top:
secondary_stack: .skip 8192
secondary_stack_top:

	.section .note.GNU-stack, "", @progbits

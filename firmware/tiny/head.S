/* head.S: bzImage header and 64-bit entry of the tiny test guest. */
	.section .header, "a"
	.code16
	.org 0x1f1
setup_sects:	.byte 1			/* one 512-byte setup sector */
root_flags:	.word 0
syssize:	.long 0
ram_size:	.word 0
vid_mode:	.word 0
root_dev:	.word 0
boot_flag:	.word 0xaa55
	.org 0x200
jump:		.byte 0xeb, 0x66
header:		.ascii "HdrS"
version:	.word 0x020f
realmode_swtch:	.long 0
start_sys_seg:	.word 0
kernel_version:	.word 0
type_of_loader:	.byte 0
loadflags:	.byte 1			/* LOADED_HIGH */
setup_move_size: .word 0
code32_start:	.long 0x100000
ramdisk_image:	.long 0
ramdisk_size:	.long 0
bootsect_kludge: .long 0
heap_end_ptr:	.word 0
ext_loader_ver:	.byte 0
ext_loader_type: .byte 0
cmd_line_ptr:	.long 0
initrd_addr_max: .long 0x7fffffff
kernel_alignment: .long 0x200000
relocatable_kernel: .byte 0
min_alignment:	.byte 0
xloadflags:	.word 1			/* XLF_KERNEL_64 */
cmdline_size:	.long 255
hardware_subarch: .long 0
hardware_subarch_data: .quad 0
payload_offset:	.long 0
payload_length:	.long 0
setup_data:	.quad 0
pref_address:	.quad 0x100000
init_size:	.long __init_size
handover_offset: .long 0
kernel_info_offset: .long 0
	.org 0x400

	.section .text.entry32, "ax"
	.code32
startup_32:
	/* We only support the 64-bit entry. */
	cli
1:	hlt
	jmp 1b

	.section .text.startup64, "ax"
	.code64
	.globl startup_64
startup_64:
	/* RSI: struct boot_params. Own stack, clear bss, call C. */
	cli
	lea stack_top(%rip), %rsp
	mov %rsi, %r12
	lea __bss_start(%rip), %rdi
	lea __bss_end(%rip), %rcx
	sub %rdi, %rcx
	xor %eax, %eax
	rep stosb
	mov %r12, %rdi
	call tiny_main
2:	cli
	hlt
	jmp 2b

	.section .bss
	.balign 16
stack:	.skip 16384
stack_top:

	.section .note.GNU-stack, "", @progbits

# tiny.mk: builds the aarch64 tiny bare-metal guest as an arm64 Image (build/firmware/tiny-aarch64.Image) with its own cross compiler, whatever ARCH and CC the VMM is built with.
# On an arm64 host the host's own tools are the arm64 ones.
A64_TOOL_PREFIX := $(if $(filter aarch64,$(shell uname -m)),,aarch64-linux-gnu-)
AARCH64_CC ?= $(A64_TOOL_PREFIX)gcc
AARCH64_OBJCOPY ?= $(A64_TOOL_PREFIX)objcopy
AARCH64_READELF ?= $(A64_TOOL_PREFIX)readelf

# MMU off, all memory is Device memory: aligned accesses only. A static PIE
# linked at 0 (head.S applies its relocations), so it runs wherever the
# loader puts it (microvm: 0x80000000; QEMU's virt: 0x40200000).
TINY_A64_CFLAGS := -std=gnu11 -O2 -Wall -Wextra -Werror -ffreestanding -fpie \
	-mstrict-align -mgeneral-regs-only -fno-stack-protector \
	-fno-asynchronous-unwind-tables -fno-unwind-tables -nostdlib \
	-Ifirmware/tiny-aarch64 -Ifirmware/tiny -I.
TINY_A64_LDFLAGS := -static-pie -Wl,--no-dynamic-linker -Wl,-z,notext \
	-Wl,--build-id=none -Wl,--no-warn-rwx-segments \
	-Wl,-T,firmware/tiny-aarch64/tiny.ld
TINY_A64_SRCS := firmware/tiny-aarch64/head.S firmware/tiny-aarch64/tiny.c \
	firmware/tiny-aarch64/board.c firmware/tiny-aarch64/dt.c \
	firmware/tiny/lib.c firmware/tiny/pci.c firmware/tiny/edu.c
TINY_A64_HDRS := firmware/tiny-aarch64/board.h firmware/tiny-aarch64/dt.h \
	firmware/tiny-aarch64/mmio.h firmware/tiny/lib.h firmware/tiny/pci.h \
	firmware/tiny/edu.h \
	arch/aarch64/layout.h

ifneq ($(shell command -v $(AARCH64_CC) 2>/dev/null),)
$(FW_BUILD)/tiny-aarch64.elf: $(TINY_A64_SRCS) $(TINY_A64_HDRS) \
		firmware/tiny-aarch64/tiny.ld firmware/tiny-aarch64/tiny.mk
	@mkdir -p $(dir $@)
	$(AARCH64_CC) $(TINY_A64_CFLAGS) $(TINY_A64_LDFLAGS) -o $@ $(TINY_A64_SRCS)

# The header checks: magic "ARM\x64" at 56, text_offset 0, image_size the
# ELF's _image_size and at least the file, flags 0xa; only RELATIVE (and NONE) relocs.
$(FW_BUILD)/tiny-aarch64.Image: $(FW_BUILD)/tiny-aarch64.elf
	$(AARCH64_OBJCOPY) -O binary $< $@.tmp
	@set -e; f=$@.tmp; \
	q() { od -An -t u8 -j $$1 -N 8 $$f | tr -d ' '; }; \
	magic=$$(od -An -c -j 56 -N 4 $$f | tr -d ' '); \
	want=$$($(AARCH64_READELF) -s $< | awk '$$8 == "_image_size" { print $$2 }'); \
	[ "$$magic" = 'ARMd' ] || { echo "$@: no ARM\\x64 magic at 56 ($$magic)"; exit 1; }; \
	[ "$$(q 8)" = 0 ] || { echo "$@: text_offset $$(q 8), want 0"; exit 1; }; \
	[ "$$(q 16)" = "$$((0x$$want))" ] || { echo "$@: image_size $$(q 16), want 0x$$want"; exit 1; }; \
	[ "$$(q 16)" -ge "$$(stat -c %s $$f)" ] || { echo "$@: image_size below the file size"; exit 1; }; \
	[ "$$(q 24)" = 10 ] || { echo "$@: flags $$(q 24), want 0xa"; exit 1; }; \
	if $(AARCH64_READELF) -rW $< | grep -q 'R_AARCH64_' && \
	   $(AARCH64_READELF) -rW $< | grep 'R_AARCH64_' | grep -vqE 'R_AARCH64_(RELATIVE|NONE)'; then \
		echo "$@: relocations head.S does not apply:"; $(AARCH64_READELF) -rW $<; exit 1; fi
	mv $@.tmp $@

FW_TINY_BINS += $(FW_BUILD)/tiny-aarch64.Image
else
.PHONY: tiny-aarch64-skip
tiny-aarch64-skip:
	@echo "firmware: skipping tiny-aarch64.Image: no $(AARCH64_CC) (apt-get install gcc-aarch64-linux-gnu)"
FW_TINY_BINS += tiny-aarch64-skip
endif

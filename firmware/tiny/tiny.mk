# tiny.mk: builds the tiny bare-metal guest as a bzImage (build/firmware/tiny.bzImage).
# x86 code, built with the host's compiler: only on an x86_64 host.
ifeq ($(shell uname -m),x86_64)
TINY_CFLAGS := -std=gnu11 -O2 -Wall -Wextra -Werror -ffreestanding -fno-pic \
	-fno-pie -mno-red-zone -mgeneral-regs-only -fno-stack-protector \
	-fno-asynchronous-unwind-tables -nostdlib -Ifirmware/tiny
TINY_SRCS := firmware/tiny/head.S firmware/tiny/lib.c firmware/tiny/x86.c \
	firmware/tiny/tiny.c firmware/tiny/acpi.c firmware/tiny/pci.c \
	firmware/tiny/virtio.c firmware/tiny/virtio_blk.c firmware/tiny/edu.c \
	firmware/tiny/edu_msi.c firmware/tiny/chaos.c
TINY_HDRS := firmware/tiny/lib.h firmware/tiny/tiny.h firmware/tiny/mmio.h \
	firmware/tiny/virtio.h firmware/tiny/pci.h firmware/tiny/edu.h

$(FW_BUILD)/tiny.elf: $(TINY_SRCS) $(TINY_HDRS) firmware/tiny/tiny.ld
	@mkdir -p $(dir $@)
	$(CC) $(TINY_CFLAGS) -mcmodel=small -static -no-pie -Wl,--build-id=none -Wl,--no-warn-rwx-segments \
		-Wl,-T,firmware/tiny/tiny.ld -o $@ $(TINY_SRCS)

$(FW_BUILD)/tiny.bzImage: $(FW_BUILD)/tiny.elf
	objcopy -O binary $< $@

FW_TINY_BINS += $(FW_BUILD)/tiny.bzImage

# The same guest as an ELF vmlinux with a PVH note (32-bit entry).
TINY_PVH_SRCS := firmware/tiny/pvh.S $(filter-out firmware/tiny/head.S,$(TINY_SRCS))
$(FW_BUILD)/tiny-pvh.elf: $(TINY_PVH_SRCS) $(TINY_HDRS) firmware/tiny/pvh.ld
	@mkdir -p $(dir $@)
	$(CC) $(TINY_CFLAGS) -mcmodel=small -static -no-pie -Wl,--build-id=none \
		-Wl,--no-warn-rwx-segments -Wl,-T,firmware/tiny/pvh.ld -o $@ $(TINY_PVH_SRCS)

FW_TINY_BINS += $(FW_BUILD)/tiny-pvh.elf
endif

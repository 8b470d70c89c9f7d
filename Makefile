# Makefile: builds microvm (CLI), libmicrovm.{a,so}, firmware and tests.
HOST_ARCH := $(shell uname -m)
ARCH ?= $(HOST_ARCH)
# Another ARCH is a cross build (make ARCH=aarch64): its own build tree and
# toolchain, and only the VMM (CLI and library); firmware and tests are the
# host's. CROSS_COMPILE names the toolchain prefix; CC=... still wins.
CROSS := $(if $(filter $(HOST_ARCH),$(ARCH)),,1)
ifeq ($(CROSS)$(ARCH),1aarch64)
CROSS_COMPILE ?= aarch64-linux-gnu-
# libfdt-dev:arm64 cannot sit next to the amd64 one: scripts/deps.sh
# unpacks its library here instead.
A64_LIBDIR ?= /usr/local/lib/aarch64-linux-gnu
LDFLAGS += -L$(A64_LIBDIR)
endif
ifneq ($(CROSS_COMPILE),)
ifeq ($(origin CC),default)
CC := $(CROSS_COMPILE)gcc
endif
ifeq ($(origin AR),default)
AR := $(CROSS_COMPILE)ar
endif
endif
CC ?= gcc
SAN ?=
BUILD ?= build$(if $(CROSS),-$(ARCH))$(if $(SAN),-san)
CACHE ?= build/cache

CFLAGS_BASE := -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wshadow \
	-Wno-unused-parameter -Wmissing-prototypes -Wstrict-prototypes \
	-D_GNU_SOURCE -Iinclude -I. -pthread -fPIC
ifneq ($(SAN),)
CFLAGS_BASE += -fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SAN)
endif
CFLAGS += $(CFLAGS_BASE)
# aarch64 decompresses gzip kernels (Debian's vmlinuz) with zlib.
ARCH_LDLIBS := $(if $(filter aarch64,$(ARCH)),-lz)
LDLIBS += -luring -lfdt $(ARCH_LDLIBS) -pthread

LIB_SRCS := $(filter-out vmm/main.c,$(wildcard vmm/*.c)) \
	$(wildcard devices/*.c devices/*/*.c) \
	$(wildcard arch/$(ARCH)/*.c)
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
CLI_OBJS := $(BUILD)/obj/vmm/main.o

UNIT_SRCS := $(wildcard tests/unit/*.c tests/unit/$(ARCH)/*.c)
UNIT_BIN := $(BUILD)/tests/unit

all: $(BUILD)/microvm $(BUILD)/libmicrovm.a $(BUILD)/libmicrovm.so \
	$(if $(CROSS),,firmware)

# Library objects hide everything but the API (include/microvm.h says default).
$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fvisibility=hidden -MMD -MP -c $< -o $@

$(BUILD)/libmicrovm.a: $(LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

# The ABI: SONAME libmicrovm.so.0, only microvm_* exported (vmm/libmicrovm.map).
SOVERSION := 0
$(BUILD)/libmicrovm.so.$(SOVERSION): $(LIB_OBJS) vmm/libmicrovm.map
	$(CC) -shared -Wl,-soname,libmicrovm.so.$(SOVERSION) -Wl,--no-undefined \
		-Wl,--version-script=vmm/libmicrovm.map \
		$(LDFLAGS) -o $@ $(LIB_OBJS) $(LDLIBS)

$(BUILD)/libmicrovm.so: $(BUILD)/libmicrovm.so.$(SOVERSION)
	ln -sf libmicrovm.so.$(SOVERSION) $@

# ---- install: make install PREFIX=/usr/local DESTDIR= ----
PREFIX ?= /usr/local
DESTDIR ?=
LIBDIR ?= $(PREFIX)/lib
VERSION := $(shell sed -n 's/^\#define MICROVM_VERSION "\(.*\)"/\1/p' vmm/api.c)
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(LIBDIR)/pkgconfig \
		$(DESTDIR)$(PREFIX)/include
	install -m 0755 $(BUILD)/microvm $(DESTDIR)$(PREFIX)/bin/microvm
	install -m 0644 $(BUILD)/libmicrovm.a $(DESTDIR)$(LIBDIR)/libmicrovm.a
	install -m 0755 $(BUILD)/libmicrovm.so.$(SOVERSION) \
		$(DESTDIR)$(LIBDIR)/libmicrovm.so.$(SOVERSION)
	ln -sf libmicrovm.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libmicrovm.so
	install -m 0644 include/microvm.h $(DESTDIR)$(PREFIX)/include/microvm.h
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
		-e 's|@VERSION@|$(VERSION)|g' \
		-e 's|@ARCH_LIBS@|$(ARCH_LDLIBS)|g' vmm/microvm.pc.in \
		>$(DESTDIR)$(LIBDIR)/pkgconfig/microvm.pc

# The CLI links statically unless sanitizing (STATIC=0 to link it dynamically):
# no dynamic loading at start, and ~0.8 MiB less resident outside guest RAM
# (docs/PERFORMANCE.md). libmicrovm.so stays for embedders.
STATIC ?= $(if $(SAN),0,1)
$(BUILD)/microvm: $(CLI_OBJS) $(BUILD)/libmicrovm.a
	$(CC) $(LDFLAGS) $(if $(filter 1,$(STATIC)),-static) -o $@ $^ $(LDLIBS)

# ---- firmware: tiny bare-metal guests and the guest /init ----
include firmware/firmware.mk
# A cross build makes that arch's guest /init too (its initramfs needs
# one); the tiny test guests are built by the host's `make` (firmware.mk).
ifneq ($(CROSS),)
all: $(INIT_BIN)
endif

# ---- tests ----
$(UNIT_BIN): $(UNIT_SRCS) $(BUILD)/libmicrovm.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $(UNIT_SRCS) $(BUILD)/libmicrovm.a $(LDFLAGS) \
		$(LDLIBS) -lcriterion

# The aarch64 FDT builder, Image header parser and page-table walk are pure,
# so their L0 tests build and run on any host.
UNIT_FDT_SRCS := $(wildcard tests/unit/fdt/*.c) arch/aarch64/fdt.c \
	arch/aarch64/image.c arch/aarch64/mmu.c devices/pci/plan.c devices/textbuf.c \
	devices/size.c
UNIT_FDT_BIN := $(BUILD)/tests/unit-fdt
$(UNIT_FDT_BIN): $(UNIT_FDT_SRCS) $(wildcard arch/aarch64/*.h) devices/pci/plan.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $(UNIT_FDT_SRCS) $(LDFLAGS) -lfdt -lcriterion
test-unit: $(UNIT_FDT_BIN)
test: $(UNIT_FDT_BIN)

TEST_KVM_BINS := $(patsubst tests/kvm/%.c,$(BUILD)/tests/kvm/%,$(wildcard tests/kvm/*.c))
$(BUILD)/tests/kvm/%: tests/kvm/%.c $(BUILD)/libmicrovm.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libmicrovm.a $(LDFLAGS) $(LDLIBS)

.PHONY: FORCE all deps install test test-unit test-kvm test-boot test-aarch64 test-rust run guest rig-shell \
	clean format firmware check-format

# ---- benchmark (bench/): bench-launch and the start/stop guest; `make bench` ----
BENCH_BINS := $(BUILD)/bench/launch $(BUILD)/bench/guest-stop.elf $(BUILD)/bench/guest-halt.elf

# A cross build's launch is static like its CLI: the aarch64 rig runs it with no libc.
$(BUILD)/bench/launch: bench/launch.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS) $(if $(CROSS),-static)

$(BUILD)/bench/guest-%.elf: bench/guest/guest.S bench/guest/guest.ld
	@mkdir -p $(dir $@)
	$(CC) -nostdlib -static -no-pie -ffreestanding $(if $(filter halt,$*),-DHALT) \
		-Wl,--build-id=none -Wl,-T,bench/guest/guest.ld -o $@ $<

.PHONY: bench
bench: all $(BENCH_BINS)
	BUILD=$(BUILD) bench/run.sh

deps:
	scripts/deps.sh

test-unit: $(UNIT_BIN)
	$(UNIT_BIN) --jobs 2
	$(UNIT_FDT_BIN) --jobs 2

# The embedding and soak tests also run under ASan+UBSan (LeakSanitizer
# included); tests/kvm/run.sh finds the soak binary beside the embed one.
EMBED_SAN := build-san/tests/kvm/embed
ifeq ($(SAN),)
$(EMBED_SAN): FORCE
	$(MAKE) --no-print-directory SAN=address,undefined $(EMBED_SAN) \
		build-san/tests/kvm/soak
endif

test-kvm: all $(TEST_KVM_BINS) $(if $(SAN),,$(EMBED_SAN))
	BUILD=$(BUILD) SAN=$(SAN) EMBED_SAN=$(if $(SAN),,$(EMBED_SAN)) tests/kvm/run.sh

test-rust: all
	BUILD=$(BUILD) SAN=$(SAN) tests/rust.sh

test-boot: all guest
	BUILD=$(BUILD) tests/boot/run.sh

# The aarch64 layer: the cross build, then the nested aarch64 rig (tests/aarch64).
test-aarch64: all
	BUILD=$(BUILD) tests/aarch64/run.sh

# The one test command: every layer, then one summary line.
test: all $(UNIT_BIN) $(TEST_KVM_BINS) $(if $(SAN),,$(EMBED_SAN))
	BUILD=$(BUILD) SAN=$(SAN) EMBED_SAN=$(if $(SAN),,$(EMBED_SAN)) tests/run-all.sh

guest: all
	BUILD=$(BUILD) scripts/guest-assets.sh

run: all
	BUILD=$(BUILD) scripts/run-default.sh $(ARGS)

rig-shell: all
	BUILD=$(BUILD) tests/rig/x86-rig.sh --interactive -- /bin/sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

check-format:
	clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-san build-aarch64 build-aarch64-san

-include $(LIB_OBJS:.o=.d) $(CLI_OBJS:.o=.d)

# ---- fuzzing: libFuzzer targets (clang, libclang-rt-14-dev) ----
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_DIR := build/fuzz
FUZZ_CFLAGS := -std=gnu11 -O1 -g -Wall -Wextra -Werror -Wshadow \
	-Wno-unused-parameter -Wmissing-prototypes -Wstrict-prototypes \
	-D_GNU_SOURCE -Iinclude -I. -fno-omit-frame-pointer \
	-fsanitize=address,undefined -fno-sanitize-recover=all
# Each target is tests/fuzz/fuzz_<name>.c with its seeds in
# tests/fuzz/corpus/<name>/, linked with FUZZ_SRCS_<name> (the real
# sources it drives) and FUZZ_LIBS_<name>.
FUZZ_TARGETS := virtqueue parsers uart vsock planner pci_config virtio_pci
FUZZ_SRCS_virtqueue := devices/virtio/virtqueue.c devices/virtio/blk_req.c \
	devices/textbuf.c vmm/memory.c
FUZZ_MAXLEN_virtqueue := 16384
FUZZ_SRCS_parsers := vmm/parse.c devices/size.c devices/pci/plan.c \
	devices/textbuf.c
FUZZ_SRCS_uart := devices/serial.c devices/pl011.c
FUZZ_SRCS_vsock := devices/virtio/vsock_proto.c
FUZZ_SRCS_planner := devices/pci/plan.c devices/size.c devices/textbuf.c
FUZZ_PCI_SRCS := tests/fuzz/fake_machine.c devices/pci/config.c \
	devices/pci/host.c devices/pci/pci.c devices/pci/pcie.c \
	devices/pci/plan.c devices/pci/testdev.c devices/machine.c \
	devices/size.c devices/textbuf.c vmm/bus.c vmm/log.c
FUZZ_SRCS_pci_config := $(FUZZ_PCI_SRCS)
FUZZ_LIBS_pci_config := -pthread
FUZZ_SRCS_virtio_pci := $(FUZZ_PCI_SRCS) devices/virtio/virtio_pci.c \
	devices/virtio/rng.c devices/virtio/virtqueue.c vmm/evloop.c \
	vmm/memory.c
FUZZ_LIBS_virtio_pci := -luring -pthread
FUZZ_HDRS := $(wildcard include/*.h devices/*.h devices/*/*.h vmm/*.h \
	tests/fuzz/*.h)
FUZZ_VQ_SRCS := tests/fuzz/fuzz_virtqueue.c $(FUZZ_SRCS_virtqueue)
FUZZ_VQ_SEEDS := tests/fuzz/corpus/virtqueue

.PHONY: fuzz fuzz-run fuzz-seeds fuzz-targets $(FUZZ_TARGETS:%=fuzz-run-%)

fuzz: $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)

# fuzz-run-<name> runs one target FUZZ_SECONDS from its seeds; new inputs
# go to build/, crashes to $(FUZZ_DIR)/artifacts/<name>/. Exits non-zero
# on a crash, leak or timeout.
define FUZZ_TARGET
$(FUZZ_DIR)/fuzz_$(1): tests/fuzz/fuzz_$(1).c $$(FUZZ_SRCS_$(1)) $$(FUZZ_HDRS)
	@mkdir -p $$(dir $$@)
	$$(FUZZ_CC) $$(FUZZ_CFLAGS) -fsanitize=fuzzer -o $$@ \
		tests/fuzz/fuzz_$(1).c $$(FUZZ_SRCS_$(1)) $$(FUZZ_LIBS_$(1))

fuzz-run-$(1): $(FUZZ_DIR)/fuzz_$(1)
	@mkdir -p $(FUZZ_DIR)/corpus/$(1) $(FUZZ_DIR)/artifacts/$(1)
	$$< -max_total_time=$$(FUZZ_SECONDS) -timeout=10 \
		-max_len=$$(or $$(FUZZ_MAXLEN_$(1)),4096) -print_final_stats=1 \
		-artifact_prefix=$(FUZZ_DIR)/artifacts/$(1)/ \
		$(FUZZ_DIR)/corpus/$(1) tests/fuzz/corpus/$(1)
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call FUZZ_TARGET,$(t))))

# Every target in turn (make -k fuzz-run goes on after a crash).
fuzz-run: $(FUZZ_TARGETS:%=fuzz-run-%)

# The target names, for tests/fuzz-smoke.sh.
fuzz-targets:
	@echo $(FUZZ_TARGETS)

# Rewrites the seed corpus from the scenarios in fuzz_virtqueue.c.
fuzz-seeds: $(FUZZ_VQ_SRCS) $(FUZZ_HDRS)
	@mkdir -p $(FUZZ_DIR) $(FUZZ_VQ_SEEDS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -DFUZZ_VIRTQUEUE_SEEDS \
		-o $(FUZZ_DIR)/virtqueue_seeds $(FUZZ_VQ_SRCS)
	$(FUZZ_DIR)/virtqueue_seeds $(FUZZ_VQ_SEEDS)

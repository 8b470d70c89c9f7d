# kvm-probe.mk: builds the aarch64 rig's KVM probe, a static arm64 binary: make -f tests/rig/kvm-probe.mk
#
# Then: tests/rig/aarch64-rig.sh -- build/rig/kvm-probe-aarch64
# May be included by another Makefile (after its default goal); RIG_BUILD and AARCH64_CC
# can be set from there.
AARCH64_CC ?= aarch64-linux-gnu-gcc
RIG_BUILD ?= build/rig

.PHONY: kvm-probe-aarch64
kvm-probe-aarch64: $(RIG_BUILD)/kvm-probe-aarch64

$(RIG_BUILD)/kvm-probe-aarch64: tests/rig/kvm-probe-aarch64.c
	@mkdir -p $(@D)
	$(AARCH64_CC) -static -O2 -std=gnu11 -Wall -Wextra -Werror -o $@ $<

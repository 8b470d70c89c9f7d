# firmware.mk: guest-side code we build: tiny bare-metal guests (tests/kvm)
# and the guest /init used by tests, `make run` and benchmarks.
FW_BUILD := $(BUILD)/firmware

-include firmware/tiny/tiny.mk
-include firmware/tiny-aarch64/tiny.mk
-include firmware/init/init.mk

firmware: $(FW_TINY_BINS)

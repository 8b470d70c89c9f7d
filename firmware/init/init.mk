# init.mk: builds the guest /init (firmware/init/init.c), a static program packed into the initramfs.
# Its own flags: no sanitizers (static), no -fPIC, whatever SAN the VMM is built with.
INIT_BIN := $(FW_BUILD)/init
INIT_CFLAGS := -std=gnu11 -O2 -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
	-Wmissing-prototypes -Wstrict-prototypes -D_GNU_SOURCE
# A cross-built /init goes into an image packed here, where its busybox cannot run to
# list its applets: it makes their links itself (busybox --install -s) when they are missing.
INIT_CFLAGS += $(if $(CROSS),-DINIT_INSTALL_APPLETS)

$(INIT_BIN): firmware/init/init.c firmware/init/init.mk
	@mkdir -p $(dir $@)
	$(CC) $(INIT_CFLAGS) -static -s -o $@ $<

firmware: $(INIT_BIN)

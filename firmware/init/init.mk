# init.mk: builds the guest /init (firmware/init/init.c), a static program packed into the initramfs.
# Its own flags: no sanitizers (static), no -fPIC, whatever SAN the VMM is built with.
INIT_BIN := $(FW_BUILD)/init
INIT_CFLAGS := -std=gnu11 -O2 -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
	-Wmissing-prototypes -Wstrict-prototypes -D_GNU_SOURCE

$(INIT_BIN): firmware/init/init.c firmware/init/init.mk
	@mkdir -p $(dir $@)
	$(CC) $(INIT_CFLAGS) -static -s -o $@ $<

firmware: $(INIT_BIN)

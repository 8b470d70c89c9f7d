/* testdev.c: the synthetic endpoint: BARs backed by read-back register files. */
#include "devices/pci/testdev.h"

#include <stdio.h>
#include <string.h>

#include "devices/pci/pcie.h"

static void testdev_bar_access(struct pci_function *f, unsigned int bar,
			       uint64_t off, uint8_t *data, unsigned int len,
			       bool is_write)
{
	struct testdev *t = f->opaque;

	pthread_mutex_lock(&t->lock);
	if (off < TESTDEV_REGS && len <= TESTDEV_REGS - off) {
		if (is_write)
			memcpy(&t->regs[bar][off], data, len);
		else
			memcpy(data, &t->regs[bar][off], len);
	} else if (!is_write) {
		memset(data, 0, len);
	}
	pthread_mutex_unlock(&t->lock);
}

int testdev_init(struct testdev *t, const char *name, const uint64_t size[6],
		 const unsigned int flags[6])
{
	int r;

	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
	pci_config_init(&t->fn.cfg, TESTDEV_VENDOR, TESTDEV_DEVICE, 0xff0000, 1,
			false);
	snprintf(t->fn.name, sizeof(t->fn.name), "%s", name);
	r = pcie_cap_init_endpoint(&t->fn.cfg);
	if (r < 0)
		return r;
	for (unsigned int i = 0; i < 6; i++) {
		uint32_t magic = TESTDEV_MAGIC, idx = i;

		if (!size[i])
			continue;
		r = pci_bar_init(&t->fn.cfg, i, size[i], flags[i]);
		if (r < 0)
			return r;
		memcpy(&t->regs[i][0], &magic, 4);
		memcpy(&t->regs[i][4], &idx, 4);
		memcpy(&t->regs[i][8], &size[i], 8);
	}
	t->fn.bar_access = testdev_bar_access;
	t->fn.opaque = t;
	return 0;
}

void testdev_destroy(struct testdev *t)
{
	pthread_mutex_destroy(&t->lock);
}

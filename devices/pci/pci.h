/* pci.h: the PCIe root complex at run time: functions, ECAM decode, bus routing, BAR mapping. */
#ifndef DEVICES_PCI_PCI_H
#define DEVICES_PCI_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/pci/config.h"
#include "vmm/bus.h"
#include "vmm/log.h"

struct pci_function;

/* Access to one BAR of a function; `off` is relative to the BAR base. */
typedef void (*pci_bar_access_fn)(struct pci_function *f, unsigned int bar,
				  uint64_t off, uint8_t *data, unsigned int len,
				  bool is_write);

struct pci_bar_ctx {
	struct pci_function *f;
	unsigned int bar;
};

struct pci_function {
	struct pci_config cfg;
	char name[32];
	struct pci_root *root;
	bool is_root_port;
	unsigned int port_index; /* root ports */
	struct pci_function *child; /* root port: its endpoint, or NULL */
	struct pci_function *parent; /* endpoint: its root port */
	uint8_t devfn; /* on its own bus */
	pci_bar_access_fn bar_access;
	/*
	 * Optional hooks, called with the root's config lock held: before a
	 * config read (to refresh dynamic bytes), after a config write, and
	 * after the BARs moved on the MMIO bus.
	 */
	void (*config_read_hook)(struct pci_function *f, unsigned int off,
				 unsigned int len);
	void (*config_written)(struct pci_function *f, unsigned int off,
			       unsigned int len);
	void (*bars_changed)(struct pci_function *f);
	void *opaque;
	uint64_t mapped[6]; /* base the BAR is mapped at on the bus, 0: not */
	struct pci_bar_ctx bar_ctx[6];
};

/* How the root complex places BARs on the guest's MMIO bus. */
struct pci_root_ops {
	int (*map)(void *opaque, uint64_t addr, uint64_t len, bus_access_fn fn,
		   void *ctx, const char *name);
	void (*unmap)(void *opaque, uint64_t addr);
};

struct pci_root {
	pthread_mutex_t lock; /* config space of every function */
	const struct logger *log;
	unsigned int bus_first, bus_last;
	uint64_t ecam_base, ecam_size;
	struct pci_function *bus0[256]; /* by devfn */
	struct pci_function **ports;
	unsigned int nports;
	const struct pci_root_ops *ops;
	void *ops_opaque;
	struct ratelimit rl;
};

void pci_root_init(struct pci_root *r, const struct logger *lg,
		   unsigned int bus_first, unsigned int bus_last,
		   uint64_t ecam_base, const struct pci_root_ops *ops,
		   void *ops_opaque);
void pci_root_destroy(struct pci_root *r);

/* Put a root port on the root bus at `devfn`; 0 or -errno. */
__attribute__((warn_unused_result)) int
pci_root_add_port(struct pci_root *r, struct pci_function *port, uint8_t devfn);

/* Put an endpoint below `port` (device 0, function 0 of its bus). */
__attribute__((warn_unused_result)) int
pci_root_add_endpoint(struct pci_root *r, struct pci_function *port,
		      struct pci_function *ep);

/*
 * The requester ID the function's MSIs carry, bus << 8 | devfn, with the
 * bus number its root port forwards now: the guest may renumber buses
 * while it enumerates (Linux does without "linux,pci-probe-only"), before
 * it enables MSI. An arm64 ITS tells devices apart by this ID.
 */
uint16_t pci_function_requester_id(const struct pci_function *f);

/* The function a config access for bus/devfn reaches, or NULL. */
struct pci_function *pci_root_lookup(struct pci_root *r, unsigned int bus,
				     uint8_t devfn);

/*
 * Configuration mechanism #1 (ports 0xcf8-0xcff): `addr` is the value
 * latched at 0xcf8 (enable bit 31, bus 23:16, devfn 15:8, register 7:2),
 * `offset` 0-3 the byte within the data port 0xcfc. Only the first 256
 * bytes of config space are reachable this way.
 */
void pci_conf1_data(struct pci_root *r, uint32_t addr, unsigned int offset,
		    uint8_t *data, unsigned int len, bool is_write);

/* ECAM MMIO access callback (opaque: struct pci_root). */
void pci_ecam_access(void *opaque, uint64_t offset, uint8_t *data,
		     unsigned int len, bool is_write);

/*
 * Map or unmap the function's BARs on the MMIO bus to match its config
 * (memory decode bit and BAR addresses). Caller holds r->lock.
 */
void pci_function_update_bars(struct pci_function *f);

#endif

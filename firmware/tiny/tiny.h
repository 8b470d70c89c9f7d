/* tiny.h: the x86 tiny bare-metal test guest: port I/O, CPUID, what its boot protocols hand over, and its modes. */
#ifndef TINY_H
#define TINY_H

#include "lib.h"

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;

	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid"
			 : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(sub));
}

/* What either boot protocol told the guest. */
struct tiny_boot {
	const char *how; /* "64-bit" or "PVH" */
	const char *cmdline;
	uint64_t rsdp;
	unsigned int nmm;
	struct {
		uint64_t addr, size;
		uint32_t type;
	} mm[32];
};

/* list: one line per function, port (ACS, windows) and BAR (tiny.list=1). */
void tiny_pci(uint64_t rsdp, bool list);
void tiny_virtio(uint64_t rsdp);
/* ro: the disk was given with ,ro (tiny.ro=1). */
void tiny_virtio_blk(uint64_t rsdp, bool ro);
/* QEMU's edu device: ID, liveness, DMA both ways, one MSI. */
void tiny_edu(uint64_t rsdp);
/* chaos.c: garbage into every port, BAR and config byte; then power off. */
void tiny_chaos(uint64_t rsdp);


#endif

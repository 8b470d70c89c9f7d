/* tiny.h: freestanding helpers for the tiny bare-metal test guests. */
#ifndef TINY_H
#define TINY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

void tiny_pci(uint64_t rsdp);
void tiny_virtio(uint64_t rsdp);
/* ro: the disk was given with ,ro (tiny.ro=1). */
void tiny_virtio_blk(uint64_t rsdp, bool ro);
/* QEMU's edu device: ID, liveness, DMA both ways, one MSI. */
void tiny_edu(uint64_t rsdp);

void putc_uart(char c);
int getc_uart(void);
void puts_uart(const char *s);
void put_hex(uint64_t v);
void put_dec(uint64_t v);
size_t tiny_strlen(const char *s);
int tiny_memcmp(const void *a, const void *b, size_t n);
/* The value of "key=" in the command line, copied into buf; 0 if absent. */
int cmdline_get(const char *cmdline, const char *key, char *buf, size_t len);
bool str_eq(const char *a, const char *b);

void poweroff(void) __attribute__((noreturn));
void halt_forever(void) __attribute__((noreturn));

#endif

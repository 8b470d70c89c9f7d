/* mmio.h: the x86 tiny guest's MMIO accessors (plain volatile accesses: KVM's x86 emulator decodes any instruction); shared code reaches it as <mmio.h>. */
#ifndef TINY_MMIO_H
#define TINY_MMIO_H

#include <stdint.h>

static inline uint8_t mmio_read8(const volatile void *p)
{
	return *(const volatile uint8_t *)p;
}

static inline uint16_t mmio_read16(const volatile void *p)
{
	return *(const volatile uint16_t *)p;
}

static inline uint32_t mmio_read32(const volatile void *p)
{
	return *(const volatile uint32_t *)p;
}

static inline uint64_t mmio_read64(const volatile void *p)
{
	return *(const volatile uint64_t *)p;
}

static inline void mmio_write8(volatile void *p, uint8_t v)
{
	*(volatile uint8_t *)p = v;
}

static inline void mmio_write16(volatile void *p, uint16_t v)
{
	*(volatile uint16_t *)p = v;
}

static inline void mmio_write32(volatile void *p, uint32_t v)
{
	*(volatile uint32_t *)p = v;
}

#endif

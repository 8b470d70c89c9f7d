/* edu.h: the tiny guests' driver for QEMU's edu device (passed through with --vfio), shared by every arch; the interrupt test is each arch's. */
#ifndef TINY_EDU_H
#define TINY_EDU_H

#include "pci.h"

/* BAR0 registers (QEMU docs/specs/edu.rst); all used with 32-bit accesses. */
#define EDU_IRQ_STATUS 0x24
#define EDU_IRQ_RAISE  0x60
#define EDU_IRQ_ACK    0x64

/*
 * Polls of a register before giving up, edu_delay() apart. An edu DMA takes
 * 100 ms of QEMU's virtual clock: ~10,000 polls in the rig's L2 (measured),
 * so this gives up after ~5 s there.
 */
#define EDU_POLL_MAX 500000u

uint32_t edu_rd(unsigned int off);
void edu_wr(unsigned int off, uint32_t v);
void edu_delay(void);
/* "TINY: edu <test> FAIL <why> <a> <b>" */
void edu_fail(const char *test, const char *why, uint64_t a, uint64_t b);

/*
 * The "edu" mode on the ECAM `e`: find the first edu below a root port, check
 * its ID and liveness register, DMA a pattern RAM -> edu -> RAM (through the
 * host's IOMMU when passed through) and compare, then run `irq_test` on its
 * config space (NULL: the arch has no interrupt test; said so). Prints
 * "TINY: edu PASS" or "TINY: edu FAIL".
 */
void tiny_edu_run(const struct ecam *e,
		  bool (*irq_test)(volatile uint8_t *cfg));

#endif

/* board.h: the aarch64 tiny guest's machine: the PL011 and PSCI it found in the FDT, system registers, and the entry points of head.S. */
#ifndef TINY_A64_BOARD_H
#define TINY_A64_BOARD_H

#include "lib.h"

/* PSCI 0.2 function IDs (SMC32, CPU_ON SMC64; Arm DEN 0022). */
#define PSCI_VERSION	  0x84000000u
#define PSCI_CPU_ON_64	  0xc4000003u
#define PSCI_SYSTEM_OFF	  0x84000008u
#define PSCI_SYSTEM_RESET 0x84000009u

/* What the board code uses, filled in from the FDT before anything prints. */
struct board {
	uint64_t uart; /* PL011 registers */
	bool smc; /* PSCI conduit: smc rather than hvc */
};
extern struct board board;

/* One PSCI call through the FDT's conduit; x0 on return. */
int64_t psci_call(uint32_t fn, uint64_t a1, uint64_t a2, uint64_t a3);

#define read_sysreg(r)                                       \
	({                                                   \
		uint64_t __v;                                \
		__asm__ volatile("mrs %0, " #r : "=r"(__v)); \
		__v;                                         \
	})

/* MPIDR_EL1's affinity fields, Aff3 in 39:32 and Aff2-Aff0 in 23:0. */
#define MPIDR_AFF_MASK 0xff00ffffffull

/* head.S: where PSCI CPU_ON starts a secondary (x0 = its index). */
void secondary_entry(void);
/* tiny.c: head.S stores a secondary's index here once it is up, then parks it. */
extern volatile uint32_t secondary_up;

/* tiny.c: called by head.S. */
void tiny_main(uint64_t fdt);
uint32_t tiny_secondary(uint64_t index);
void tiny_exception(uint64_t kind, uint64_t esr, uint64_t elr, uint64_t far);

#endif

/* board.c: the aarch64 tiny guest's board code: PL011 output and input, PSCI calls and power-off, halting, and the MMIO mapping hook (nothing to map with the MMU off). */
#include "board.h"
#include "pci.h"

#define UART_DR	     0x00
#define UART_FR	     0x18
#define UART_FR_TXFF (1u << 5)
#define UART_FR_RXFE (1u << 4)

struct board board;

void putc_uart(char c)
{
	volatile uint8_t *u = (volatile uint8_t *)(uintptr_t)board.uart;

	while (mmio_read32(u + UART_FR) & UART_FR_TXFF)
		;
	mmio_write32(u + UART_DR, (uint8_t)c);
}

int getc_uart(void)
{
	volatile uint8_t *u = (volatile uint8_t *)(uintptr_t)board.uart;

	while (mmio_read32(u + UART_FR) & UART_FR_RXFE)
		;
	return (int)(mmio_read32(u + UART_DR) & 0xff);
}

int64_t psci_call(uint32_t fn, uint64_t a1, uint64_t a2, uint64_t a3)
{
	register uint64_t x0 __asm__("x0") = fn;
	register uint64_t x1 __asm__("x1") = a1;
	register uint64_t x2 __asm__("x2") = a2;
	register uint64_t x3 __asm__("x3") = a3;

	/* SMCCC 1.0: x4-x17 may come back changed. */
	if (board.smc)
		__asm__ volatile("smc #0"
				 : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3)
				 :
				 : "x4", "x5", "x6", "x7", "x8", "x9", "x10",
				   "x11", "x12", "x13", "x14", "x15", "x16",
				   "x17", "memory");
	else
		__asm__ volatile("hvc #0"
				 : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3)
				 :
				 : "x4", "x5", "x6", "x7", "x8", "x9", "x10",
				   "x11", "x12", "x13", "x14", "x15", "x16",
				   "x17", "memory");
	return (int64_t)x0;
}

void halt_forever(void)
{
	for (;;)
		__asm__ volatile("msr daifset, #0xf\n\twfi");
}

void poweroff(void)
{
	int64_t r = psci_call(PSCI_SYSTEM_OFF, 0, 0, 0);

	puts_uart("TINY: FAIL psci SYSTEM_OFF returned ");
	put_hex((uint64_t)r);
	puts_uart("\n");
	halt_forever();
}

void map_1g(uint64_t addr)
{
	(void)addr;
}

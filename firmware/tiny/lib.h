/* lib.h: what every tiny test guest shares (console, strings, stopping), with no arch's instructions; each guest's board code supplies the UART and power-off. */
#ifndef TINY_LIB_H
#define TINY_LIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* From the guest's board code: x86 COM1 and ACPI S5, or a PL011 and PSCI. */
void putc_uart(char c);
/* Blocks until a byte arrives. */
int getc_uart(void);
void poweroff(void) __attribute__((noreturn));
void halt_forever(void) __attribute__((noreturn));

/* lib.c: output through putc_uart ("\n" goes out as "\r\n"). */
void puts_uart(const char *s);
void put_hex(uint64_t v);
void put_dec(uint64_t v);
size_t tiny_strlen(const char *s);
int tiny_memcmp(const void *a, const void *b, size_t n);
/* The value of "key=" in the command line, copied into buf; 0 if absent. */
int cmdline_get(const char *cmdline, const char *key, char *buf, size_t len);
bool str_eq(const char *a, const char *b);
/*
 * The "echo" mode: "TINY: echo ready", then every byte received is sent
 * back until a 'q' ("TINY: echo done").
 */
void tiny_echo(void);

#endif

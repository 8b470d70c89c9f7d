/* console.h: connects the guest UART to the embedder's input and output fds. */
#ifndef VMM_CONSOLE_H
#define VMM_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/uart.h"

struct vm;
struct machine;

/* Create vm->console from vm->cfg; 0 or -errno. */
__attribute__((warn_unused_result)) int console_create(struct vm *vm);

/*
 * The console UART's side of the console: the board code creates its UART
 * model (devices/serial.c, devices/pl011.c) with these ops and
 * vm->console as their opaque, so output goes through the bounded buffer
 * below and the interrupt to the line console_attach_uart() names.
 */
extern const struct uart_ops console_uart_ops;

/*
 * Feed console input to `uart` with `receive`; its interrupt is line `gsi`
 * (vm_irq_line). After console_create(), before console_start().
 */
void console_attach_uart(struct vm *vm, uart_receive_fn receive, void *uart,
			 unsigned int gsi);

/* Start reading input on the event loop (after the loop exists). */
__attribute__((warn_unused_result)) int console_start(struct vm *vm);

void console_destroy(struct vm *vm);

/*
 * After the vCPUs and the loop stopped: write what guest output is left,
 * giving up (and counting it dropped) once the fd took nothing for a
 * second.
 */
void console_flush(struct vm *vm);

/* Bytes of guest UART output dropped because nobody read them. */
uint64_t console_dropped(const struct vm *vm);

/*
 * The escape key on console input (UART and virtio-console): `escape`
 * then x stops the VM, `escape` twice sends it once (0: no escape key).
 * `*seen` carries a pending escape byte between calls. Writes at most
 * n + 1 bytes to `out`; returns how many. After an x the rest of `in` is
 * dropped.
 */
size_t console_escape_filter(struct machine *m, uint8_t escape, bool *seen,
			     const uint8_t *in, size_t n, uint8_t *out);

#endif

/* console.h: connects the guest UART to the embedder's input and output fds. */
#ifndef VMM_CONSOLE_H
#define VMM_CONSOLE_H

struct vm;

/* Create vm->serial and vm->console from vm->cfg; 0 or -errno. */
__attribute__((warn_unused_result)) int console_create(struct vm *vm);

/* Start reading input on the event loop (after the loop exists). */
__attribute__((warn_unused_result)) int console_start(struct vm *vm);

void console_destroy(struct vm *vm);

#endif

/* pvpanic.c: the guest announces a kernel panic by writing to this register. */
#include "devices/pvpanic.h"

#include "vmm/vm.h"

#define PVPANIC_PANICKED     (1u << 0)
#define PVPANIC_CRASH_LOADED (1u << 1)

void pvpanic_access(void *opaque, uint64_t offset, uint8_t *data,
		    unsigned int len, bool is_write)
{
	struct vm *vm = opaque;

	if (!is_write) {
		/* Reading returns the events we support. */
		data[0] = PVPANIC_PANICKED | PVPANIC_CRASH_LOADED;
		for (unsigned int i = 1; i < len; i++)
			data[i] = 0;
		return;
	}
	if (data[0] & PVPANIC_PANICKED)
		vm_request_exit(vm, MICROVM_EXIT_PANIC, -1, 0,
				"guest kernel panicked (pvpanic event 0x%x)",
				data[0]);
	else if (data[0] & PVPANIC_CRASH_LOADED)
		log_info(&vm->log, "pvpanic",
			 "guest crashed; a crash kernel is loaded");
}

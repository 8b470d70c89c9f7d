/* machine.h (vmm): fills in the VM's struct machine, the interface its device models use. */
#ifndef VMM_MACHINE_H
#define VMM_MACHINE_H

#include "devices/machine.h"

struct vm;

/* After the config is copied and the KVM VM exists (or planning decided it will not). */
void vm_machine_init(struct vm *vm);

#endif

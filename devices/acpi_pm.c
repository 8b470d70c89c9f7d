/* acpi_pm.c: how a guest powers off or resets: ACPI sleep/reset registers and the i8042 reset line. */
#include "devices/acpi_pm.h"

#include <string.h>

#include "devices/machine.h"

void acpi_pm_sleep_access(void *opaque, uint64_t offset, uint8_t *data,
			  unsigned int len, bool is_write)
{
	struct machine *m = opaque;
	unsigned int slp_typ;

	if (!is_write) {
		/* Status: WAK_STS never set; control reads as zero. */
		memset(data, 0, len);
		return;
	}
	if (offset != 0 || !(data[0] & ACPI_PM_SLP_EN))
		return;
	slp_typ = (data[0] >> 2) & 7;
	if (slp_typ == ACPI_PM_SLP_TYP_S5)
		machine_end(m, MICROVM_EXIT_POWEROFF, 0,
			    "guest powered off (ACPI S5)");
	else
		log_warn(m->log, "acpi",
			 "guest asked for sleep type %u, which is not "
			 "supported; ignoring",
			 slp_typ);
}

void acpi_pm_reset_access(void *opaque, uint64_t offset, uint8_t *data,
			  unsigned int len, bool is_write)
{
	struct machine *m = opaque;

	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	/* 0xcf9: bit 2 starts the reset; bit 1 asks for a hard one. */
	if (data[0] & 0x04)
		machine_end(m, MICROVM_EXIT_REBOOT, 0,
			    "guest requested a reset (reset register)");
}

void i8042_access(void *opaque, uint64_t offset, uint8_t *data,
		  unsigned int len, bool is_write)
{
	struct machine *m = opaque;

	if (!is_write) {
		/* No keyboard: status 0 (output buffer empty, input ready). */
		memset(data, 0, len);
		return;
	}
	if (offset == 0 && data[0] == 0xfe)
		machine_end(m, MICROVM_EXIT_REBOOT, 0,
			    "guest requested a reset (i8042 pulse)");
}

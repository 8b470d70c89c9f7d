/* acpi_pm.h: HW-reduced ACPI sleep control/status and reset registers. */
#ifndef DEVICES_ACPI_PM_H
#define DEVICES_ACPI_PM_H

#include <stdbool.h>
#include <stdint.h>

/* SLP_TYP value our DSDT's _S5_ package hands the guest. */
#define ACPI_PM_SLP_TYP_S5 5
#define ACPI_PM_SLP_EN	   (1u << 5)

/* Sleep control (offset 0) and status (offset 1); opaque is the struct machine. */
void acpi_pm_sleep_access(void *opaque, uint64_t offset, uint8_t *data,
			  unsigned int len, bool is_write);

/* Reset register (0xcf9 style); opaque is the struct machine. */
void acpi_pm_reset_access(void *opaque, uint64_t offset, uint8_t *data,
			  unsigned int len, bool is_write);

/* i8042 command/status port (0x64): only the CPU-reset command 0xfe. */
void i8042_access(void *opaque, uint64_t offset, uint8_t *data,
		  unsigned int len, bool is_write);

#endif

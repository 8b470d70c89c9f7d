/* parse.h: parsing of numbers and device specs for the CLI and config (pure); sizes are devices/size.h's. */
#ifndef VMM_PARSE_H
#define VMM_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "devices/size.h" /* parse_size, format_size */


/* Parse a decimal or 0x-hex unsigned integer, whole string. */
__attribute__((warn_unused_result)) int parse_u64(const char *s, uint64_t *out);

struct microvm_disk;
struct microvm_net;
struct microvm_vsock;
struct microvm_vfio;

/*
 * Device specs of the CLI. Each writes a one-line reason into err on
 * -EINVAL. Strings in the result point into `spec`, which is modified
 * (options are split at commas), so it must outlive the result.
 */
/* "PATH[,ro][,id=NAME]" */
__attribute__((warn_unused_result)) int
parse_disk_spec(char *spec, struct microvm_disk *out, char *err, size_t len);
/* "tap=NAME[,mac=aa:bb:cc:dd:ee:ff]" */
__attribute__((warn_unused_result)) int
parse_net_spec(char *spec, struct microvm_net *out, char *err, size_t len);
/* "cid=N,uds=PATH" or "cid=N,vhost=on" */
__attribute__((warn_unused_result)) int
parse_vsock_spec(char *spec, struct microvm_vsock *out, char *err, size_t len);
/* "BDF[,id=NAME]"; the BDF is checked when the VM is built */
__attribute__((warn_unused_result)) int
parse_vfio_spec(char *spec, struct microvm_vfio *out, int *iommu,
		char *err, size_t len);
/*
 * A device name the topology and logs can carry as is: 1-31 letters,
 * digits, '-', '_' or '.'. 0 or -EINVAL.
 */
__attribute__((warn_unused_result)) int check_device_name(const char *s);
/* "aa:bb:cc:dd:ee:ff" */
__attribute__((warn_unused_result)) int parse_mac(const char *s,
						  uint8_t mac[6]);

#endif

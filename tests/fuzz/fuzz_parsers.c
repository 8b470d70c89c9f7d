/* fuzz_parsers.c: libFuzzer target: the size, number, MAC and device-spec parsers of the CLI, each on a NUL-terminated input. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/pci/plan.h"
#include "microvm.h"
#include "tests/fuzz/fuzz.h"
#include "vmm/parse.h"

/*
 * Input: byte 0 picks the parser (modulo FZ_NPARSERS), byte 1 the length
 * of the error buffer (1-64), the rest is the string (copied into a buffer
 * of exactly its length plus the NUL, so ASan sees any read past it).
 */
enum {
	FZ_SIZE,
	FZ_SIZE_MIB, /* parse_size with a default unit of 1 MiB */
	FZ_U64,
	FZ_DISK,
	FZ_NET,
	FZ_VSOCK,
	FZ_VFIO,
	FZ_MAC,
	FZ_TESTDEV,
	FZ_NPARSERS,
};

#define FZ_CANARY 16

/* The string lies in [buf, buf + n]: results must point into it. */
static bool inside(const char *s, const char *buf, size_t n)
{
	return s >= buf && s <= buf + n && s + strlen(s) <= buf + n;
}

/* Failure: a one-line reason, NUL-terminated within len, nothing past. */
static void check_err(int r, const char *err, size_t len)
{
	FZ_CHECK(r == -EINVAL || r == -ERANGE);
	FZ_CHECK(memchr(err, 0, len) != NULL);
	for (size_t i = len; i < len + FZ_CANARY; i++)
		FZ_CHECK((uint8_t)err[i] == 0xa5);
}

static void check_size(const char *s, uint64_t unit)
{
	static const char units[] = "KMGTPE";
	uint64_t v, again;
	char *end, buf[32];
	unsigned long long n;
	int r = parse_size(s, unit, &v);

	if (r < 0) {
		FZ_CHECK(r == -EINVAL || r == -ERANGE);
		return;
	}
	n = strtoull(s, &end, 10);
	if (!*end) {
		/* Suffix-free: the number times the default unit, both ways. */
		FZ_CHECK(v == n * unit && v / unit == n);
		snprintf(buf, sizeof(buf), "%llu", n);
		FZ_CHECK(parse_size(buf, unit, &again) == 0 && again == v);
	} else if (*end == 'b' || *end == 'B') {
		FZ_CHECK(v == n);
	} else {
		const char *u = strchr(units, *end & ~0x20);
		unsigned int shift;

		FZ_CHECK(u && *u);
		shift = 10 * (unsigned int)(u - units + 1);
		FZ_CHECK(v >> shift == n && (v & ((1ull << shift) - 1)) == 0);
		snprintf(buf, sizeof(buf), "%llu%c", n, *u);
		FZ_CHECK(parse_size(buf, unit, &again) == 0 && again == v);
	}
}

static void check_u64(const char *s)
{
	uint64_t v, again;
	char buf[32];
	int r = parse_u64(s, &v);

	if (r < 0) {
		FZ_CHECK(r == -EINVAL || r == -ERANGE);
		return;
	}
	FZ_CHECK(*s >= '0' && *s <= '9');
	FZ_CHECK(strtoull(s, NULL, 0) == v);
	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	FZ_CHECK(parse_u64(buf, &again) == 0 && again == v);
	snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
	FZ_CHECK(parse_u64(buf, &again) == 0 && again == v);
}

static void check_mac(const char *s)
{
	uint8_t mac[6], again[6];
	char buf[18];

	if (parse_mac(s, mac) < 0)
		return;
	FZ_CHECK(strlen(s) == 17 && !(mac[0] & 1));
	snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0],
		 mac[1], mac[2], mac[3], mac[4], mac[5]);
	FZ_CHECK(parse_mac(buf, again) == 0 && !memcmp(mac, again, 6));
}

static void check_testdev(const char *s, char *err, size_t len)
{
	struct pci_dev_req req;
	int r = pci_testdev_parse(s, 7, &req, err, len);

	if (r < 0) {
		check_err(r, err, len);
		FZ_CHECK(err[0] || len == 1);
		return;
	}
	FZ_CHECK(!strcmp(req.name, "testdev7"));
	FZ_CHECK(pci_dev_req_check(&req, NULL, 0) == 0);
	for (unsigned int b = 0; b < PCI_PLAN_MAX_BARS; b++) {
		const struct pci_bar_req *br = &req.bar[b];

		if (br->kind == PCI_BAR_KIND_NONE)
			continue;
		FZ_CHECK(br->kind <= PCI_BAR_KIND_MEM64_PREF);
		FZ_CHECK(br->size >= 16 && !(br->size & (br->size - 1)));
		if (br->kind == PCI_BAR_KIND_MEM32 ||
		    br->kind == PCI_BAR_KIND_MEM32_PREF) {
			FZ_CHECK(br->size <= (2ull << 30));
		} else {
			FZ_CHECK(b < PCI_PLAN_MAX_BARS - 1);
			FZ_CHECK(req.bar[b + 1].kind == PCI_BAR_KIND_NONE);
			FZ_CHECK(br->size <= (1ull << 52));
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned int which;
	size_t len, n;
	char *s, *err;
	int r, iommu;
	union {
		struct microvm_disk disk;
		struct microvm_net net;
		struct microvm_vsock vsock;
		struct microvm_vfio vfio;
	} out;

	if (size < 2)
		return 0;
	which = data[0] % FZ_NPARSERS;
	len = 1 + data[1] % 64;
	n = size - 2;
	s = malloc(n + 1);
	err = malloc(len + FZ_CANARY);
	if (!s || !err)
		abort();
	memcpy(s, data + 2, n);
	s[n] = 0;
	n = strlen(s);
	memset(err, 0xa5, len + FZ_CANARY);

	switch (which) {
	case FZ_SIZE:
		check_size(s, 1);
		break;
	case FZ_SIZE_MIB:
		check_size(s, 1u << 20);
		break;
	case FZ_U64:
		check_u64(s);
		break;
	case FZ_MAC:
		check_mac(s);
		break;
	case FZ_TESTDEV:
		check_testdev(s, err, len);
		break;
	case FZ_DISK:
		r = parse_disk_spec(s, &out.disk, err, len);
		if (r < 0) {
			check_err(r, err, len);
			break;
		}
		FZ_CHECK(out.disk.path && *out.disk.path &&
			 inside(out.disk.path, s, n));
		FZ_CHECK(!strchr(out.disk.path, ','));
		FZ_CHECK(!out.disk.id ||
			 (inside(out.disk.id, s, n) && *out.disk.id &&
			  strlen(out.disk.id) <= 20));
		break;
	case FZ_NET:
		r = parse_net_spec(s, &out.net, err, len);
		if (r < 0) {
			check_err(r, err, len);
			break;
		}
		FZ_CHECK(out.net.tap && inside(out.net.tap, s, n));
		FZ_CHECK(*out.net.tap && strlen(out.net.tap) < 16);
		FZ_CHECK(!out.net.mac_set || !(out.net.mac[0] & 1));
		break;
	case FZ_VSOCK:
		r = parse_vsock_spec(s, &out.vsock, err, len);
		if (r < 0) {
			check_err(r, err, len);
			break;
		}
		FZ_CHECK(out.vsock.guest_cid >= 3 &&
			 out.vsock.guest_cid <= 0xfffffffeu);
		FZ_CHECK(out.vsock.vhost || (out.vsock.uds && *out.vsock.uds &&
					     inside(out.vsock.uds, s, n)));
		break;
	case FZ_VFIO:
		r = parse_vfio_spec(s, &out.vfio, &iommu, err, len);
		if (r < 0) {
			check_err(r, err, len);
			break;
		}
		FZ_CHECK(out.vfio.bdf && *out.vfio.bdf &&
			 inside(out.vfio.bdf, s, n));
		FZ_CHECK(!strchr(out.vfio.bdf, '=') &&
			 !strchr(out.vfio.bdf, ','));
		FZ_CHECK(!out.vfio.id || (inside(out.vfio.id, s, n) &&
					  check_device_name(out.vfio.id) == 0));
		FZ_CHECK(iommu >= -1 && iommu <= MICROVM_VFIO_IOMMU_LEGACY);
		break;
	}
	free(err);
	free(s);
	return 0;
}

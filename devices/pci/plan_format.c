/* plan_format.c: renders a PCIe plan as the `microvm plan` text and as JSON. */
#include "devices/pci/plan_format.h"

#include "devices/textbuf.h"
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#define PF_JSON_VERSION 1


/* "448M" when exact, else "1.88T": for people, not for flags. */
static void pf_human(uint64_t v, char *buf, size_t len)
{
	static const char units[] = "KMGT";
	int u;

	for (u = 3; u >= 0; u--) {
		uint64_t unit = 1ull << (10 * (u + 1));

		if (v < unit)
			continue;
		if (v % unit == 0)
			snprintf(buf, len, "%" PRIu64 "%c", v / unit, units[u]);
		else
			snprintf(buf, len, "%.2f%c", (double)v / (double)unit,
				 units[u]);
		return;
	}
	snprintf(buf, len, "%" PRIu64, v);
}

static unsigned int pf_use_pct(const struct pci_plan_window *w)
{
	if (!w->size)
		return 0;
	return (unsigned int)((unsigned __int128)w->need * 100 / w->size);
}

/* "0xd0000000-0xd0ffffff (16M)" or "-" for a disabled window. */
static void pf_range(uint64_t base, uint64_t size, char *buf, size_t len)
{
	char h[24];

	if (!size) {
		snprintf(buf, len, "-");
		return;
	}
	pf_human(size, h, sizeof(h));
	snprintf(buf, len, "0x%" PRIx64 "-0x%" PRIx64 " (%s)", base,
		 base + size - 1, h);
}

static void pf_text_window(struct textbuf *o, const char *name,
			   const struct pci_plan_window *w)
{
	char s[24], n[24];

	pf_human(w->size, s, sizeof(s));
	pf_human(w->need, n, sizeof(n));
	textbuf_printf(o,
		  "%s MMIO window: base 0x%" PRIx64 " size 0x%" PRIx64
		  " (%s), need 0x%" PRIx64 " (%s), %u%% used\n",
		  name, w->base, w->size, s, w->need, n, pf_use_pct(w));
}

/* Names come from API callers: keep the text one line per item. */
static void pf_text_name(struct textbuf *o, const char *name)
{
	char clean[PCI_PLAN_NAME_LEN];
	size_t i;

	for (i = 0; i < sizeof(clean) - 1 && name[i]; i++)
		clean[i] = (name[i] > ' ' && name[i] < 0x7f) ? name[i] : '?';
	clean[i] = '\0';
	textbuf_printf(o, "%-10s", clean);
}

int pci_plan_format_text(const struct pci_plan *p, uint64_t ecam_base,
			 uint64_t ecam_size, char *buf, size_t len)
{
	struct textbuf o;
	char a[64], b[64], s[24];
	unsigned int i, j, k;

	if (!p || !buf || p->nports > PCI_PLAN_MAX_PORTS ||
	    p->ndevs > PCI_PLAN_MAX_PORTS)
		return -EINVAL;
	textbuf_init(&o, buf, len);
	textbuf_printf(&o, "PCIe root complex: segment 0000, buses %02x-%02x",
		  p->bus_first, p->bus_last);
	if (ecam_size) {
		pf_human(ecam_size, s, sizeof(s));
		textbuf_printf(&o, ", ECAM 0x%" PRIx64 "-0x%" PRIx64 " (%s)",
			  ecam_base, ecam_base + ecam_size - 1, s);
	}
	textbuf_printf(&o, "\n");
	pf_text_window(&o, "low ", &p->low);
	pf_text_window(&o, "high", &p->high);
	textbuf_printf(&o, "low RAM ends at or below 0x%" PRIx64 "\n",
		  p->hole_start);

	textbuf_printf(&o, "\nroot ports: %u\n", p->nports);
	textbuf_printf(&o, "port  dev.fn mf  bus  acs   %-32s %s\n", "memory window",
		  "prefetchable window");
	for (i = 0; i < p->nports; i++) {
		const struct pci_plan_port *pp = &p->port[i];
		char bus[16], acs[16];

		if (pp->secondary_bus >= 0)
			snprintf(bus, sizeof(bus), "%02x", pp->secondary_bus);
		else
			snprintf(bus, sizeof(bus), "--");
		if (pp->acs)
			snprintf(acs, sizeof(acs), "0x%02x", pp->acs_mask);
		else
			snprintf(acs, sizeof(acs), "off");
		pf_range(pp->mem_base, pp->mem_size, a, sizeof(a));
		pf_range(pp->pref_base, pp->pref_size, b, sizeof(b));
		textbuf_printf(&o, "%4u  %02x.%x   %-2s  %-3s  %-4s  %-32s %s\n",
			  pp->index, pp->device, pp->function,
			  pp->multifunction ? "mf" : "", bus, acs, a, b);
	}

	textbuf_printf(&o, "\ndevices: %u\n", p->ndevs);
	for (j = 0; j < p->ndevs; j++) {
		const struct pci_plan_dev *d = &p->dev[j];

		pci_plan_dev_bdf(p, j, a, sizeof(a));
		pci_plan_dev_path(p, j, b, sizeof(b));
		textbuf_printf(&o, "%4u  ", j);
		pf_text_name(&o, d->name);
		textbuf_printf(&o, "  bdf %s  path %s  port %u", a, b, d->port);
		if (d->host_bdf[0]) {
			textbuf_printf(&o, "  host ");
			pf_text_name(&o, d->host_bdf);
		}
		textbuf_printf(&o, "\n");
		for (k = 0; k < PCI_PLAN_MAX_BARS; k++) {
			const struct pci_plan_bar *bar = &d->bar[k];

			if (bar->kind == PCI_BAR_KIND_NONE)
				continue;
			pf_range(bar->addr, bar->size, a, sizeof(a));
			textbuf_printf(&o, "        bar%u  %-9s  %s\n", k,
				  pci_bar_kind_name(bar->kind), a);
		}
	}
	return textbuf_finish(&o) < 0 ? -ENOSPC : 0;
}

static void pf_json_str(struct textbuf *o, const char *s, size_t max)
{
	size_t i;

	textbuf_printf(o, "\"");
	for (i = 0; i < max && s[i]; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			textbuf_printf(o, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			textbuf_printf(o, "\\u%04x", c);
		else
			textbuf_printf(o, "%c", c);
	}
	textbuf_printf(o, "\"");
}

static void pf_json_window(struct textbuf *o, const char *key, uint64_t base,
			   uint64_t size, bool with_need, uint64_t need,
			   const char *tail)
{
	if (!size && !with_need) {
		textbuf_printf(o, "\"%s\": null%s", key, tail);
		return;
	}
	textbuf_printf(o,
		  "\"%s\": {\"base\": \"0x%" PRIx64 "\", \"size\": \"0x%" PRIx64
		  "\"",
		  key, base, size);
	if (with_need)
		textbuf_printf(o, ", \"need\": \"0x%" PRIx64 "\"", need);
	textbuf_printf(o, "}%s", tail);
}

int pci_plan_format_json(const struct pci_plan *p, uint64_t ecam_base,
			 uint64_t ecam_size, char *buf, size_t len)
{
	struct textbuf o;
	char a[32], b[32];
	unsigned int i, j, k, n;

	if (!p || !buf || p->nports > PCI_PLAN_MAX_PORTS ||
	    p->ndevs > PCI_PLAN_MAX_PORTS)
		return -EINVAL;
	textbuf_init(&o, buf, len);
	textbuf_printf(&o, "{\n  \"version\": %d,\n  \"segment\": 0,\n",
		  PF_JSON_VERSION);
	textbuf_printf(&o, "  \"bus_first\": %u,\n  \"bus_last\": %u,\n",
		  p->bus_first, p->bus_last);
	textbuf_printf(&o, "  ");
	pf_json_window(&o, "ecam", ecam_base, ecam_size, false, 0, ",\n  ");
	pf_json_window(&o, "low_mmio", p->low.base, p->low.size, true,
		       p->low.need, ",\n  ");
	pf_json_window(&o, "high_mmio", p->high.base, p->high.size, true,
		       p->high.need, ",\n");
	textbuf_printf(&o, "  \"hole_start\": \"0x%" PRIx64 "\",\n", p->hole_start);

	textbuf_printf(&o, "  \"root_ports\": [");
	for (i = 0; i < p->nports; i++) {
		const struct pci_plan_port *pp = &p->port[i];

		pci_plan_port_bdf(p, i, a, sizeof(a));
		textbuf_printf(
			&o,
			"%s\n    {\"index\": %u, \"bdf\": \"%s\", \"device\": "
			"%u, \"function\": %u, \"multifunction\": %s,\n     ",
			i ? "," : "", pp->index, a, pp->device, pp->function,
			pp->multifunction ? "true" : "false");
		if (pp->secondary_bus >= 0)
			textbuf_printf(&o, "\"secondary_bus\": %d, ",
				  pp->secondary_bus);
		else
			textbuf_printf(&o, "\"secondary_bus\": null, ");
		if (pp->dev_index >= 0)
			textbuf_printf(&o, "\"device_index\": %d, ", pp->dev_index);
		else
			textbuf_printf(&o, "\"device_index\": null, ");
		if (pp->acs)
			textbuf_printf(
				&o,
				"\"acs\": true, \"acs_mask\": \"0x%x\",\n     ",
				pp->acs_mask);
		else
			textbuf_printf(&o,
				  "\"acs\": false, \"acs_mask\": null,\n     ");
		pf_json_window(&o, "mem_window", pp->mem_base, pp->mem_size,
			       false, 0, ", ");
		pf_json_window(&o, "pref_window", pp->pref_base, pp->pref_size,
			       false, 0, "}");
	}
	textbuf_printf(&o, "%s],\n", p->nports ? "\n  " : "");

	textbuf_printf(&o, "  \"devices\": [");
	for (j = 0; j < p->ndevs; j++) {
		const struct pci_plan_dev *d = &p->dev[j];

		pci_plan_dev_bdf(p, j, a, sizeof(a));
		pci_plan_dev_path(p, j, b, sizeof(b));
		textbuf_printf(&o,
			  "%s\n    {\"index\": %u, \"name\": ", j ? "," : "",
			  j);
		pf_json_str(&o, d->name, sizeof(d->name));
		textbuf_printf(&o,
			  ", \"bdf\": \"%s\", \"pci_path\": \"%s\", "
			  "\"root_port\": %u, \"host_bdf\": ",
			  a, b, d->port);
		if (d->host_bdf[0])
			pf_json_str(&o, d->host_bdf, sizeof(d->host_bdf));
		else
			textbuf_printf(&o, "null");
		textbuf_printf(&o, ",\n     \"bars\": [");
		for (k = 0, n = 0; k < PCI_PLAN_MAX_BARS; k++) {
			const struct pci_plan_bar *bar = &d->bar[k];

			if (bar->kind == PCI_BAR_KIND_NONE)
				continue;
			textbuf_printf(&o,
				  "%s\n       {\"index\": %u, \"kind\": "
				  "\"%s\", \"size\": \"0x%" PRIx64
				  "\", \"address\": \"0x%" PRIx64 "\"}",
				  n++ ? "," : "", k,
				  pci_bar_kind_name(bar->kind), bar->size,
				  bar->addr);
		}
		textbuf_printf(&o, "%s]}", n ? "\n     " : "");
	}
	textbuf_printf(&o, "%s]\n}\n", p->ndevs ? "\n  " : "");
	return textbuf_finish(&o) < 0 ? -ENOSPC : 0;
}

// SPDX-License-Identifier: BSD-3-Clause
/*
 * Wave metadata in domain XML (see meta.h), parsed with libxml2: the
 * metadata comes from users' files and from libvirt, both untrusted.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "common/log.h"
#include "vmm/meta.h"

static const char *const class_names[WAVE_CLASS_MAX] = {
	[WAVE_CLASS_BATCH] = "batch",
	[WAVE_CLASS_LATENCY] = "latency",
};

const char *vmm_class_name(enum wave_vm_class cls)
{
	return (unsigned int)cls < WAVE_CLASS_MAX ? class_names[cls] : "unknown";
}

void vmm_meta_defaults(struct vmm_meta *m)
{
	m->cls = WAVE_CLASS_BATCH;
	m->weight = VMM_WEIGHT_DEFAULT;
	m->mem_min_mib = 0;
	m->mem_weight = VMM_WEIGHT_DEFAULT;
	m->net_rate_mbit = 0;
	m->net_burst_kib = 0;
	m->managed = 1;
	m->present = 0;
}

uint64_t vmm_meta_net_cap(const struct vmm_meta *m, uint32_t *burst_bytes)
{
	uint64_t rate = (uint64_t)m->net_rate_mbit * 125000u, burst;

	burst = m->net_burst_kib ? (uint64_t)m->net_burst_kib * 1024u : rate / 250; /* 4 ms */
	if (burst < 2 * WAVE_NET_MIN_BURST)
		burst = 2 * WAVE_NET_MIN_BURST;
	*burst_bytes = rate ? (uint32_t)(burst < WAVE_NET_MAX_BURST ? burst : WAVE_NET_MAX_BURST) : 0;
	return rate;
}

int vmm_class_parse(const char *name)
{
	for (int c = 0; c < WAVE_CLASS_MAX; c++)
		if (!strcmp(name, class_names[c]))
			return c;
	return -EINVAL;
}

static int parse_class(const char *v, struct vmm_meta *m, int line, char *why, size_t len)
{
	int c = vmm_class_parse(v);

	if (c >= 0) {
		m->cls = (enum wave_vm_class)c;
		return 0;
	}
	return wave_reason(why, len, -EINVAL,
			   "line %d: <wave:vm class='%s'>: unknown class (latency, batch)", line, v);
}

/* <wave:vm NAME='v'>: a whole number in lo..hi into *out. */
static int parse_number(const char *name, const char *v, unsigned long lo, unsigned long hi,
			uint32_t *out, int line, char *why, size_t len)
{
	char *end;
	unsigned long w;

	errno = 0;
	w = strtoul(v, &end, 10);
	if (errno || end == v || *end || v[0] == '-' || w < lo || w > hi)
		return wave_reason(why, len, -EINVAL,
				   "line %d: <wave:vm %s='%s'>: not a number in %lu..%lu", line,
				   name, v, lo, hi);
	*out = (uint32_t)w;
	return 0;
}

static int parse_managed(const char *v, struct vmm_meta *m, int line, char *why, size_t len)
{
	if (!strcmp(v, "yes") || !strcmp(v, "no")) {
		m->managed = v[0] == 'y';
		return 0;
	}
	return wave_reason(why, len, -EINVAL, "line %d: <wave:vm managed='%s'>: want yes or no",
			   line, v);
}

int vmm_meta_from_node(const void *node, struct vmm_meta *m, char *why, size_t len)
{
	const xmlNode *n = node;
	int line = (int)xmlGetLineNo(n);
	int ret = 0;

	vmm_meta_defaults(m);
	/* libvirt's metadata API hands the element back without its namespace. */
	if (n->type != XML_ELEMENT_NODE ||
	    (n->ns && (!n->ns->href || strcmp((const char *)n->ns->href, VMM_META_NS))) ||
	    strcmp((const char *)n->name, VMM_META_ELEMENT))
		return wave_reason(why, len, -EINVAL,
				   "line %d: <%s>: Wave metadata must be a <vm> element in "
				   "namespace %s", line, (const char *)n->name, VMM_META_NS);
	for (const xmlAttr *a = n->properties; a && !ret; a = a->next) {
		xmlChar *v = xmlNodeListGetString(n->doc, a->children, 1);
		const char *val = v ? (const char *)v : "";

		if (!strcmp((const char *)a->name, "class"))
			ret = parse_class(val, m, line, why, len);
		else if (!strcmp((const char *)a->name, "weight"))
			ret = parse_number("weight", val, WAVE_WEIGHT_MIN, WAVE_WEIGHT_MAX,
					   &m->weight, line, why, len);
		else if (!strcmp((const char *)a->name, "mem-min"))
			ret = parse_number("mem-min", val, 0, VMM_MEM_MIN_MAX_MIB, &m->mem_min_mib,
					   line, why, len);
		else if (!strcmp((const char *)a->name, "mem-weight"))
			ret = parse_number("mem-weight", val, WAVE_WEIGHT_MIN, WAVE_WEIGHT_MAX,
					   &m->mem_weight, line, why, len);
		else if (!strcmp((const char *)a->name, "net-rate"))
			ret = parse_number("net-rate", val, 0, VMM_NET_RATE_MAX_MBIT, &m->net_rate_mbit,
					   line, why, len);
		else if (!strcmp((const char *)a->name, "net-burst"))
			ret = parse_number("net-burst", val, VMM_NET_BURST_MIN_KIB, VMM_NET_BURST_MAX_KIB,
					   &m->net_burst_kib, line, why, len);
		else if (!strcmp((const char *)a->name, "managed"))
			ret = parse_managed(val, m, line, why, len);
		else
			ret = wave_reason(why, len, -EINVAL,
					  "line %d: <wave:vm %s='%s'>: unknown attribute (class, weight, "
					  "managed, mem-min, mem-weight, net-rate, net-burst)", line,
					  (const char *)a->name, val);
		xmlFree(v);
	}
	if (!ret && m->net_burst_kib && !m->net_rate_mbit)
		ret = wave_reason(why, len, -EINVAL,
				  "line %d: <wave:vm net-burst='%u'>: a burst needs a net-rate", line,
				  m->net_burst_kib);
	if (ret)
		return ret;
	for (const xmlNode *c = n->children; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE)
			return wave_reason(why, len, -EINVAL,
					   "line %d: <wave:vm> has a child <%s>: none is defined",
					   (int)xmlGetLineNo(c), (const char *)c->name);
	m->present = 1;
	return 0;
}

int vmm_meta_parse(const char *xml, struct vmm_meta *m, char *why, size_t len)
{
	xmlDoc *doc;
	int ret;

	vmm_meta_defaults(m);
	doc = xmlReadMemory(xml, (int)strlen(xml), "metadata.xml", NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!doc || !xmlDocGetRootElement(doc)) {
		const xmlError *e = xmlGetLastError();
		const char *msg = e && e->message ? e->message : "no element";

		xmlFreeDoc(doc);
		return wave_reason(why, len, -EINVAL, "Wave metadata is not XML: line %d: %.*s",
				   e ? e->line : 0, (int)strcspn(msg, "\n"), msg);
	}
	ret = vmm_meta_from_node(xmlDocGetRootElement(doc), m, why, len);
	xmlFreeDoc(doc);
	return ret;
}

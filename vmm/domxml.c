// SPDX-License-Identifier: BSD-3-Clause
/*
 * Launch-time domain XML: placeholders, then a libxml2 parse and the checks
 * listed in domxml.h. Walks the tree by hand rather than with XPath: the
 * handful of elements we read sit at fixed places under <domain>, and every
 * error wants the line of the node it is about.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "common/log.h"
#include "vmm/domxml.h"

struct vmm_domxml {
	xmlDoc *doc;
};

static const struct {
	const char *key;
	size_t off;
} placeholders[] = {
	{ "@WAVE_NAME@", offsetof(struct vmm_fill, name) },
	{ "@WAVE_ACCEL@", offsetof(struct vmm_fill, accel) },
	{ "@WAVE_IMAGES@", offsetof(struct vmm_fill, images) },
	{ "@WAVE_IP@", offsetof(struct vmm_fill, ip) },
	{ "@WAVE_HOST_IP@", offsetof(struct vmm_fill, host_ip) },
	{ "@WAVE_BRIDGE@", offsetof(struct vmm_fill, bridge) },
	{ "@WAVE_CONSOLE@", offsetof(struct vmm_fill, console) },
};

int vmm_xml_uses(const char *text, const char *placeholder)
{
	return strstr(text, placeholder) != NULL;
}

static int line_of(const char *text, const char *p)
{
	int line = 1;

	for (; text < p; text++)
		line += *text == '\n';
	return line;
}

/* Appends s (n bytes) to the growing buffer, escaped for XML if esc. */
static int put(char **buf, size_t *used, size_t *cap, const char *s, size_t n, int esc)
{
	for (size_t i = 0; i < n; i++) {
		const char *rep = NULL;
		char one[2] = { s[i], 0 };

		if (esc)
			rep = s[i] == '&' ? "&amp;" : s[i] == '<' ? "&lt;" : s[i] == '>' ? "&gt;" :
			      s[i] == '\'' ? "&apos;" : s[i] == '"' ? "&quot;" : NULL;
		if (!rep)
			rep = one;
		for (size_t k = 0; rep[k]; k++) {
			if (*used + 2 > *cap) {
				size_t ncap = *cap ? *cap * 2 : 4096;
				char *nb = realloc(*buf, ncap);

				if (!nb)
					return -ENOMEM;
				*buf = nb;
				*cap = ncap;
			}
			(*buf)[(*used)++] = rep[k];
		}
	}
	(*buf)[*used] = '\0';
	return 0;
}

int vmm_xml_fill(const char *text, const struct vmm_fill *f, char **out, char *why, size_t len)
{
	size_t used = 0, cap = 0, i;
	const char *p = text, *at;
	char *buf = NULL;
	int ret = 0;

	while (!ret && (at = strstr(p, "@WAVE_"))) {
		const char *end = strchr(at + 1, '@');
		const char *val = NULL;

		for (i = 0; end && i < sizeof(placeholders) / sizeof(placeholders[0]); i++)
			if ((size_t)(end + 1 - at) == strlen(placeholders[i].key) &&
			    !strncmp(at, placeholders[i].key, strlen(placeholders[i].key)))
				break;
		if (!end || i == sizeof(placeholders) / sizeof(placeholders[0])) {
			ret = wave_reason(why, len, -EINVAL, "line %d: unknown placeholder '%.*s'",
					  line_of(text, at), end ? (int)(end + 1 - at) : 12, at);
			break;
		}
		memcpy(&val, (const char *)f + placeholders[i].off, sizeof(val));
		if (!val) {
			ret = wave_reason(why, len, -EINVAL, "line %d: placeholder %s has no value",
					  line_of(text, at), placeholders[i].key);
			break;
		}
		ret = put(&buf, &used, &cap, p, (size_t)(at - p), 0);
		if (!ret)
			ret = put(&buf, &used, &cap, val, strlen(val), 1);
		p = end + 1;
	}
	if (!ret)
		ret = put(&buf, &used, &cap, p, strlen(p) + 1, 0);
	if (ret) {
		free(buf);
		return ret == -ENOMEM ? wave_reason(why, len, -ENOMEM, "out of memory") : ret;
	}
	*out = buf;
	return 0;
}

static xmlNode *child(const xmlNode *n, const char *name)
{
	for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && !c->ns && !strcmp((const char *)c->name, name))
			return c;
	return NULL;
}

/* The text of an element, trimmed, into buf; 0 or -ENAMETOOLONG. */
static int text_of(const xmlNode *n, char *buf, size_t size)
{
	xmlChar *t = xmlNodeGetContent(n);
	const char *s = t ? (const char *)t : "";
	size_t b, e;
	int ret = 0;

	b = strspn(s, " \t\r\n");
	for (e = strlen(s); e > b && strchr(" \t\r\n", s[e - 1]); e--)
		;
	if (e - b >= size)
		ret = -ENAMETOOLONG;
	else
		snprintf(buf, size, "%.*s", (int)(e - b), s + b);
	xmlFree(t);
	return ret;
}

static int check_name(const xmlNode *dom, struct vmm_domxml_info *info, char *why, size_t len)
{
	const xmlNode *n = child(dom, "name");

	if (!n)
		return wave_reason(why, len, -EINVAL, "line %d: <domain> has no <name>",
				   (int)xmlGetLineNo(dom));
	if (text_of(n, info->name, sizeof(info->name)) || !info->name[0] ||
	    strspn(info->name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
	    != strlen(info->name))
		return wave_reason(why, len, -EINVAL,
				   "line %d: <name>%s</name>: use 1-63 letters, digits, '_', '.', '-'",
				   (int)xmlGetLineNo(n), info->name);
	return 0;
}

static int check_vcpus(const xmlNode *dom, struct vmm_domxml_info *info, char *why, size_t len)
{
	const xmlNode *n = child(dom, "vcpu");
	char buf[32], *end;
	unsigned long v;

	if (!n)
		return wave_reason(why, len, -EINVAL, "line %d: <domain> has no <vcpu>",
				   (int)xmlGetLineNo(dom));
	if (text_of(n, buf, sizeof(buf)))
		buf[0] = '\0';
	v = strtoul(buf, &end, 10);
	if (end == buf || *end || v < 1 || v > WAVE_MAX_VCPUS)
		return wave_reason(why, len, -EINVAL, "line %d: <vcpu>%s</vcpu>: not a count in 1..%u",
				   (int)xmlGetLineNo(n), buf, WAVE_MAX_VCPUS);
	info->vcpus = (unsigned int)v;
	return 0;
}

static int check_meta(const xmlNode *dom, struct vmm_domxml_info *info, char *why, size_t len)
{
	const xmlNode *md = child(dom, "metadata");

	vmm_meta_defaults(&info->meta);
	for (const xmlNode *c = md ? md->children : NULL; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && c->ns && c->ns->href &&
		    !strcmp((const char *)c->ns->href, VMM_META_NS))
			return vmm_meta_from_node(c, &info->meta, why, len);
	return 0;
}

/* <memory unit='U'>N</memory> in KiB (libvirt's units, KiB by default); 0 if absent or unreadable. */
static unsigned long long memory_kib(const xmlNode *n)
{
	static const struct {
		const char *unit;
		unsigned long long div, mul;
	} units[] = { { "b", 1024, 1 }, { "bytes", 1024, 1 }, { "k", 1, 1 }, { "KiB", 1, 1 },
		      { "M", 1, 1024 }, { "MiB", 1, 1024 }, { "G", 1, 1 << 20 },
		      { "GiB", 1, 1 << 20 } };
	char buf[32], *end;
	xmlChar *unit = xmlGetProp(n, (const xmlChar *)"unit");
	unsigned long long v, kib = 0;

	if (!text_of(n, buf, sizeof(buf)) && (v = strtoull(buf, &end, 10), end != buf && !*end))
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (!strcmp(unit ? (const char *)unit : "KiB", units[i].unit))
				kib = v / units[i].div * units[i].mul;
	xmlFree(unit);
	return kib;
}

/* A floor (mem-min) needs a virtio balloon to keep it with, and must fit in <memory>. */
static int check_memory(const xmlNode *dom, const struct vmm_domxml_info *info, char *why,
			size_t len)
{
	const xmlNode *mem = child(dom, "memory"), *devs = child(dom, "devices");
	const xmlNode *bal = devs ? child(devs, "memballoon") : NULL;
	xmlChar *model = bal ? xmlGetProp(bal, (const xmlChar *)"model") : NULL;
	int virtio = model && !strcmp((const char *)model, "virtio");
	unsigned long long kib = mem ? memory_kib(mem) : 0;

	xmlFree(model);
	if (!info->meta.mem_min_mib)
		return 0;
	if (!virtio)
		return wave_reason(why, len, -EINVAL,
				   "<wave:vm mem-min='%u'>: the domain has no <memballoon "
				   "model='virtio'> to keep a floor with", info->meta.mem_min_mib);
	if (!kib || (unsigned long long)info->meta.mem_min_mib * 1024 > kib)
		return wave_reason(why, len, -EINVAL,
				   "<wave:vm mem-min='%u'>: above the domain's <memory> (%llu MiB)",
				   info->meta.mem_min_mib, kib / 1024);
	return 0;
}

/* The value of wave.ip= on a kernel command line, without its prefix length. */
static void cmdline_ip(const char *cmd, char *ip, size_t size)
{
	const char *p = strstr(cmd, "wave.ip=");

	if (p && (p == cmd || p[-1] == ' '))
		snprintf(ip, size, "%.*s", (int)strcspn(p + 8, "/ "), p + 8);
}

/* <kernel> and <initrd> must name readable files; wave.ip is noted. */
static int check_os(const xmlNode *dom, struct vmm_domxml_info *info, char *why, size_t len)
{
	static const char *const files[] = { "kernel", "initrd" };
	const xmlNode *os = child(dom, "os"), *n;
	char path[4096], cmd[4096];

	if (!os)
		return wave_reason(why, len, -EINVAL, "line %d: <domain> has no <os>",
				   (int)xmlGetLineNo(dom));
	for (size_t i = 0; i < 2; i++) {
		if (!(n = child(os, files[i])))
			continue;
		if (text_of(n, path, sizeof(path)) || access(path, R_OK))
			return wave_reason(why, len, -ENOENT,
					   "line %d: <%s>%s</%s>: no such readable file (run 'make images'?)",
					   (int)xmlGetLineNo(n), files[i], path, files[i]);
		if (i == 0)
			snprintf(info->kernel, sizeof(info->kernel), "%s", path);
	}
	if ((n = child(os, "cmdline")) && !text_of(n, cmd, sizeof(cmd)))
		cmdline_ip(cmd, info->ip, sizeof(info->ip));
	return 0;
}

static int check(const xmlDoc *doc, const char *xml, struct vmm_domxml_info *info, char *why,
		 size_t len)
{
	const xmlNode *dom = xmlDocGetRootElement(doc);
	xmlChar *type;
	const char *left = strstr(xml, "@WAVE_");
	int ret;

	if (left)
		return wave_reason(why, len, -EINVAL, "line %d: placeholder '%.*s' not filled in",
				   line_of(xml, left), (int)strcspn(left + 1, "@") + 2, left);
	if (!dom || strcmp((const char *)dom->name, "domain"))
		return wave_reason(why, len, -EINVAL, "the root element is <%s>, not <domain>",
				   dom ? (const char *)dom->name : "");
	type = xmlGetProp(dom, (const xmlChar *)"type");
	snprintf(info->type, sizeof(info->type), "%s", type ? (const char *)type : "");
	xmlFree(type);
	if (strcmp(info->type, "kvm") && strcmp(info->type, "qemu"))
		return wave_reason(why, len, -EINVAL,
				   "line %d: <domain type='%s'>: Wave-VM runs kvm or qemu domains",
				   (int)xmlGetLineNo(dom), info->type);
	ret = check_name(dom, info, why, len);
	if (!ret)
		ret = check_vcpus(dom, info, why, len);
	if (!ret)
		ret = check_meta(dom, info, why, len);
	if (!ret)
		ret = check_memory(dom, info, why, len);
	if (!ret)
		ret = check_os(dom, info, why, len);
	return ret;
}

int vmm_domxml_parse(const char *xml, struct vmm_domxml **out, struct vmm_domxml_info *info,
		     char *why, size_t len)
{
	struct vmm_domxml *d;
	xmlDoc *doc;
	int ret;

	memset(info, 0, sizeof(*info));
	doc = xmlReadMemory(xml, (int)strlen(xml), "domain.xml", NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!doc) {
		const xmlError *e = xmlGetLastError();
		const char *msg = e && e->message ? e->message : "parse error";

		return wave_reason(why, len, -EINVAL, "line %d: not well-formed XML: %.*s",
				   e ? e->line : 0, (int)strcspn(msg, "\n"), msg);
	}
	ret = check(doc, xml, info, why, len);
	if (ret || !(d = calloc(1, sizeof(*d)))) {
		xmlFreeDoc(doc);
		return ret ? ret : wave_reason(why, len, -ENOMEM, "out of memory");
	}
	d->doc = doc;
	*out = d;
	return 0;
}

int vmm_domxml_set(struct vmm_domxml *d, const char *name, const char *type)
{
	xmlNode *dom = xmlDocGetRootElement(d->doc);
	xmlNode *n = child(dom, "name");

	if (type && !xmlSetProp(dom, (const xmlChar *)"type", (const xmlChar *)type))
		return -ENOMEM;
	if (name && n)
		xmlNodeSetContent(n, (const xmlChar *)name);
	return 0;
}

char *vmm_domxml_dump(const struct vmm_domxml *d)
{
	xmlChar *mem = NULL;
	char *out;
	int size = 0;

	xmlDocDumpMemory(d->doc, &mem, &size);
	if (!mem)
		return NULL;
	out = strdup((const char *)mem);
	xmlFree(mem);
	return out;
}

void vmm_domxml_free(struct vmm_domxml *d)
{
	if (!d)
		return;
	xmlFreeDoc(d->doc);
	free(d);
}

static void attr_into(const xmlNode *n, const char *name, char *buf, size_t size)
{
	xmlChar *v = n ? xmlGetProp(n, (const xmlChar *)name) : NULL;

	snprintf(buf, size, "%s", v ? (const char *)v : "");
	xmlFree(v);
}

int vmm_domxml_live(const char *xml, struct vmm_domxml_live *live, char *why, size_t len)
{
	xmlDoc *doc;
	const xmlNode *dom, *dev, *n;
	char cmd[4096];

	memset(live, 0, sizeof(*live));
	doc = xmlReadMemory(xml, (int)strlen(xml), "live.xml", NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	dom = doc ? xmlDocGetRootElement(doc) : NULL;
	if (!dom || strcmp((const char *)dom->name, "domain")) {
		xmlFreeDoc(doc);
		return wave_reason(why, len, -EINVAL, "libvirt's live domain XML does not parse");
	}
	if ((n = child(child(dom, "os"), "cmdline")) && !text_of(n, cmd, sizeof(cmd)))
		cmdline_ip(cmd, live->ip, sizeof(live->ip));
	dev = child(dom, "devices");
	for (n = dev ? dev->children : NULL; n; n = n->next) {
		xmlChar *type;

		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (!strcmp((const char *)n->name, "interface") && live->nr_taps < 8) {
			attr_into(child(n, "target"), "dev", live->taps[live->nr_taps],
				  sizeof(live->taps[0]));
			if (live->taps[live->nr_taps][0])
				live->nr_taps++;
		} else if (!strcmp((const char *)n->name, "serial") && !live->console[0]) {
			type = xmlGetProp(n, (const xmlChar *)"type");
			if (type && !strcmp((const char *)type, "file"))
				attr_into(child(n, "source"), "path", live->console,
					  sizeof(live->console));
			xmlFree(type);
		}
	}
	xmlFreeDoc(doc);
	return 0;
}

#define QEMU_NS "http://libvirt.org/schemas/domain/qemu/1.0"
#define WAVE_NET_ALIAS "ua-wave-net0"

static void drop_children(xmlNode *n, const char *name)
{
	xmlNode *c;

	while ((c = child(n, name))) {
		xmlUnlinkNode(c);
		xmlFreeNode(c);
	}
}

static xmlNode *new_child(xmlNode *parent, xmlNs *ns, const char *name, const char *const *attrs)
{
	xmlNode *n = xmlNewChild(parent, ns, (const xmlChar *)name, NULL);

	for (; n && attrs && attrs[0]; attrs += 2)
		if (!xmlSetProp(n, (const xmlChar *)attrs[0], (const xmlChar *)attrs[1]))
			return NULL;
	return n;
}

static xmlNode *bridge_interface(xmlNode *devs)
{
	for (xmlNode *c = devs ? devs->children : NULL; c; c = c->next) {
		xmlChar *type;
		int bridge;

		if (c->type != XML_ELEMENT_NODE || c->ns || strcmp((const char *)c->name, "interface"))
			continue;
		type = xmlGetProp(c, (const xmlChar *)"type");
		bridge = type && !strcmp((const char *)type, "bridge");
		xmlFree(type);
		if (bridge)
			return c;
	}
	return NULL;
}

/* vectors=0 on the interface's virtio-net device (QEMU's own property, through libvirt). */
static int no_msix(xmlNode *dom)
{
	static const char *const dev_a[] = { "alias", WAVE_NET_ALIAS, NULL };
	static const char *const prop_a[] = { "name", "vectors", "type", "unsigned", "value", "0",
					      NULL };
	xmlNs *ns = xmlSearchNsByHref(dom->doc, dom, (const xmlChar *)QEMU_NS);
	xmlNode *ov = NULL, *dev, *fe;

	if (!ns && !(ns = xmlNewNs(dom, (const xmlChar *)QEMU_NS, (const xmlChar *)"qemu")))
		return -ENOMEM;
	/* libvirt takes one <qemu:override>: join the user's if there is one. */
	for (xmlNode *c = dom->children; c && !ov; c = c->next)
		if (c->type == XML_ELEMENT_NODE && c->ns && c->ns->href &&
		    !strcmp((const char *)c->ns->href, QEMU_NS) &&
		    !strcmp((const char *)c->name, "override"))
			ov = c;
	if ((!ov && !(ov = new_child(dom, ns, "override", NULL))) ||
	    !(dev = new_child(ov, ns, "device", dev_a)) ||
	    !(fe = new_child(dev, ns, "frontend", NULL)) || !new_child(fe, ns, "property", prop_a))
		return -ENOMEM;
	return 0;
}

int vmm_domxml_vhostuser(struct vmm_domxml *d, const char *sock, int tcg)
{
	static const char *const memfd_a[] = { "type", "memfd", NULL };
	static const char *const shared_a[] = { "mode", "shared", NULL };
	static const char *const recon_a[] = { "enabled", "yes", "timeout", "1", NULL };
	static const char *const model_a[] = { "type", "virtio", NULL };
	static const char *const alias_a[] = { "name", WAVE_NET_ALIAS, NULL };
	const char *const src_a[] = { "type", "unix", "path", sock, "mode", "client", NULL };
	xmlNode *dom = xmlDocGetRootElement(d->doc), *itf = bridge_interface(child(dom, "devices"));
	xmlNode *mb, *src;

	if (!itf)
		return -ENOENT;
	if (!xmlSetProp(itf, (const xmlChar *)"type", (const xmlChar *)"vhostuser"))
		return -ENOMEM;
	drop_children(itf, "source");
	drop_children(itf, "model");
	drop_children(itf, "alias");
	drop_children(itf, "target"); /* a tap's name: none with vhost-user */
	drop_children(itf, "driver"); /* the tap backend's options (queues=N: the switch serves one) */
	if (!(src = new_child(itf, NULL, "source", src_a)) || !new_child(src, NULL, "reconnect", recon_a) ||
	    !new_child(itf, NULL, "model", model_a) || !new_child(itf, NULL, "alias", alias_a))
		return -ENOMEM;
	/* The switch reads and writes guest memory: it must be a shared file. */
	if (!(mb = child(dom, "memoryBacking")) && !(mb = new_child(dom, NULL, "memoryBacking", NULL)))
		return -ENOMEM;
	drop_children(mb, "source");
	drop_children(mb, "access");
	if (!new_child(mb, NULL, "source", memfd_a) || !new_child(mb, NULL, "access", shared_a))
		return -ENOMEM;
	return tcg ? no_msix(dom) : 0;
}

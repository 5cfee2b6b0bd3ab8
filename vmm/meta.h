/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-VM Wave settings, kept in the libvirt domain XML under <metadata>:
 *
 *   <metadata>
 *     <wave:vm xmlns:wave='urn:wave-vm:domain:1' class='latency' weight='200'/>
 *   </metadata>
 *
 * class: latency (protect its tail latency) or batch (throughput; the
 * default); weight: its share among VMs of its class, 1..10000 (default
 * 100); managed: yes (the default) or no (Wave leaves the VM alone: every
 * thread back as Wave found it, no decision reaches it, until it is yes
 * again); mem-min, mem-weight: see mm/; net-rate (Mbit/s) and net-burst
 * (KiB): a ceiling on what the VM may send while it is on wave-switch,
 * kept by the host whatever a network policy decides (0: none; the burst
 * defaults to 4 ms at the rate, at least two frames). Changed live (virsh metadata --live), a setting takes effect at
 * once; a bad one is refused and the old setting stays. Attributes rather
 * than child elements: one element that libvirt's
 * metadata API hands back whole, and whose every value a parser error can
 * name with its line. Unknown attributes are errors, so a typo ("clas")
 * is caught at launch instead of silently meaning "batch".
 */
#ifndef WAVE_VMM_META_H
#define WAVE_VMM_META_H

#include <stddef.h>
#include <stdint.h>

#include "channel/wire.h"

#define VMM_META_NS      "urn:wave-vm:domain:1"
#define VMM_META_PREFIX  "wave"
#define VMM_META_ELEMENT "vm"
#define VMM_WEIGHT_DEFAULT 100u
#define VMM_MEM_MIN_MAX_MIB (WAVE_MEM_NONE / 1024u - 1) /* what a u32 in KiB holds */
#define VMM_NET_RATE_MAX_MBIT (WAVE_NET_MAX_RATE / 125000u) /* 100 Gbit/s */
#define VMM_NET_BURST_MIN_KIB 2u
#define VMM_NET_BURST_MAX_KIB (WAVE_NET_MAX_BURST / 1024u)

struct vmm_meta {
	enum wave_vm_class cls;
	uint32_t weight;
	uint32_t mem_min_mib; /* mem-min: the balloon never takes the guest below this (0: none) */
	uint32_t mem_weight;  /* mem-weight: its share of the memory left once floors are met */
	uint32_t net_rate_mbit; /* net-rate: the most it may send on wave-switch (0: no ceiling) */
	uint32_t net_burst_kib; /* net-burst: ... its burst (0: 4 ms at net-rate) */
	int managed;          /* 0: Wave leaves the VM alone */
	int present;          /* 0: the domain had no Wave metadata (defaults) */
};

void vmm_meta_defaults(struct vmm_meta *m);

/*
 * Parses the metadata element as libvirt's virDomainGetMetadata() returns it
 * (a standalone XML document whose root is the element). Returns 0, or
 * -EINVAL with a reason naming the attribute and value in why.
 */
int vmm_meta_parse(const char *xml, struct vmm_meta *m, char *why, size_t len);

/* Parses an already-parsed element (an xmlNode *; void * keeps libxml2 out of this header). */
int vmm_meta_from_node(const void *node, struct vmm_meta *m, char *why, size_t len);

/*
 * The ceiling m sets on what the VM sends, as the switch takes it: bytes
 * per second and burst bytes; 0 (both) if it sets none.
 */
uint64_t vmm_meta_net_cap(const struct vmm_meta *m, uint32_t *burst_bytes);

const char *vmm_class_name(enum wave_vm_class cls);
/* The class named name ("latency", "batch"), or -EINVAL. */
int vmm_class_parse(const char *name);

#endif

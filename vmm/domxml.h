/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Domain XML as users hand it to 'wavectl launch': the project's examples
 * (images/xml/) carry @WAVE_...@ placeholders for what only the launching
 * host knows (image paths, accelerator, addresses); this module fills them
 * in, parses the result with libxml2 and checks what Wave-VM relies on
 * before libvirt sees it, so that an error names the element and its line
 * instead of surfacing later as a confusing libvirt or guest failure.
 * libvirt then validates the rest against its schema at define time.
 */
#ifndef WAVE_VMM_DOMXML_H
#define WAVE_VMM_DOMXML_H

#include <stddef.h>

#include "vmm/meta.h"

/* Values of the placeholders; NULL: not known (an error if the XML uses it). */
struct vmm_fill {
	const char *name;     /* @WAVE_NAME@    domain name */
	const char *accel;    /* @WAVE_ACCEL@   domain type: "kvm" or "qemu" */
	const char *images;   /* @WAVE_IMAGES@  directory of vmlinuz, initramfs.img */
	const char *ip;       /* @WAVE_IP@      guest address (no prefix) */
	const char *host_ip;  /* @WAVE_HOST_IP@ host address on the guests' bridge */
	const char *bridge;   /* @WAVE_BRIDGE@  bridge the VM's tap joins */
	const char *console;  /* @WAVE_CONSOLE@ file the serial console goes to */
};

/*
 * Replaces every @WAVE_X@ in text with its value, XML-escaped. Returns 0 and
 * a malloc'd *out, or -EINVAL naming the line and the placeholder when one is
 * unknown or has no value.
 */
int vmm_xml_fill(const char *text, const struct vmm_fill *f, char **out, char *why,
		 size_t len);

/* Nonzero if text contains the placeholder (e.g. "@WAVE_IP@"). */
int vmm_xml_uses(const char *text, const char *placeholder);

struct vmm_domxml;

/* What a checked domain XML says, as far as Wave-VM cares. */
struct vmm_domxml_info {
	char name[64];
	char type[16];        /* kvm, qemu */
	unsigned int vcpus;
	struct vmm_meta meta;
	char kernel[4096];    /* empty: no direct kernel boot */
	char ip[64];          /* wave.ip= from the kernel command line, without prefix */
};

/*
 * Parses and checks a (filled-in) domain XML: well-formed, root <domain>
 * with type kvm or qemu, a <name> libvirt accepts, <vcpu> in range, Wave
 * metadata valid if present, <kernel> and <initrd> files readable, no
 * placeholder left. Returns 0 and a handle, or -EINVAL with a reason that
 * names the line and element.
 */
int vmm_domxml_parse(const char *xml, struct vmm_domxml **out, struct vmm_domxml_info *info,
		     char *why, size_t len);

/* Sets <name> and the domain type. Returns 0 or -ENOMEM. */
int vmm_domxml_set(struct vmm_domxml *d, const char *name, const char *type);

/* The document as text (malloc'd), or NULL. */
char *vmm_domxml_dump(const struct vmm_domxml *d);

void vmm_domxml_free(struct vmm_domxml *d);

/*
 * Moves the domain's first bridge interface onto wave-switch: a
 * vhost-user interface whose QEMU connects (and reconnects, every second)
 * to sock, with guest memory in a shared memfd (the switch copies frames
 * in and out of it). tcg: also vectors=0 on the device (QEMU 7.2 under
 * TCG crashes with MSI-X on vhost-user; KVM hosts keep MSI-X). Returns 0,
 * -ENOENT if there is no bridge interface (nothing changed), or -ENOMEM.
 */
int vmm_domxml_vhostuser(struct vmm_domxml *d, const char *sock, int tcg);

/* What a running domain's live XML says about its devices. */
struct vmm_domxml_live {
	unsigned int nr_taps;
	char taps[8][16];     /* <interface><target dev=...>, in order */
	char console[512];    /* <serial type='file'><source path=...>, or "" */
	char ip[64];          /* wave.ip= in <os><cmdline>, without prefix, or "" */
};

/* Parses libvirt's live domain XML. Returns 0 or -EINVAL (why says where). */
int vmm_domxml_live(const char *xml, struct vmm_domxml_live *live, char *why, size_t len);

#endif

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Which accelerator can really run a Linux guest here: KVM, or QEMU's TCG.
 *
 * /dev/kvm existing is not enough (a nested, paravirtualised KVM may accept
 * the API and still hang a real kernel at boot), so KVM is chosen only if
 * all three hold: the CPU advertises vmx or svm; /dev/kvm answers
 * KVM_GET_API_VERSION and KVM_CREATE_VM; and our guest image boots under
 * -accel kvm to its readiness line within a timeout. Otherwise TCG. The
 * answer is cached per boot of the host (keyed by the kernel's boot_id), so
 * only the first launch after a reboot pays for the probe boot (the cache
 * file is the caller's: wavectl keeps it in the run directory, common/site.h).
 */
#ifndef WAVE_VMM_ACCEL_H
#define WAVE_VMM_ACCEL_H

#include <stddef.h>

enum vmm_accel { VMM_ACCEL_TCG = 0, VMM_ACCEL_KVM = 1 };

#define VMM_ACCEL_BOOT_TIMEOUT_S 30

/*
 * Returns 0 and the accelerator in *out, with the reason for the choice in
 * why. images: directory with vmlinuz and initramfs.img for the probe boot;
 * cache: file for the cached answer (NULL: do not cache); fresh: ignore
 * the cache. Errors (-errno) only when the probe itself cannot run.
 */
int vmm_accel_probe(const char *images, const char *cache, int fresh, enum vmm_accel *out,
		    char *why, size_t len);

/* "kvm" or "qemu": the libvirt domain type for an accelerator. */
const char *vmm_accel_domain_type(enum vmm_accel a);
const char *vmm_accel_name(enum vmm_accel a);

#endif

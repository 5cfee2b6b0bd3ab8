/* SPDX-License-Identifier: BSD-3-Clause */
/* Between the vmm connection layer's files (conn.c, domain.c). */
#ifndef WAVE_VMM_CONN_INTERNAL_H
#define WAVE_VMM_CONN_INTERNAL_H

#include "vmm/conn.h"

/* libvirt's last error message on this thread. */
const char *vmm_virt_error(void);
/* Nonzero if the last libvirt error means the domain is gone or not running. */
int vmm_virt_gone(void);

#endif

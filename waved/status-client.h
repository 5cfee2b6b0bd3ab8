/* SPDX-License-Identifier: BSD-3-Clause */
/* Reading waved's status document (ctl.c) from its socket. */
#ifndef WAVE_WAVED_STATUS_CLIENT_H
#define WAVE_WAVED_STATUS_CLIENT_H

#include <stddef.h>

#include <json-c/json.h>

/*
 * Connects to RUNDIR/waved.sock and parses what waved writes. Returns the
 * document (json_object_put() it) or NULL with the reason in why.
 */
json_object *waved_status(const char *rundir, char *why, size_t len);

/* The string member key of o, or "?"; the number member key, or 0. */
const char *waved_str(json_object *o, const char *key);
double waved_num(json_object *o, const char *key);

/* Nonzero if waved answers and its "state" is want. */
int waved_state_is(const char *rundir, const char *want);

#endif

// SPDX-License-Identifier: BSD-3-Clause
/*
 * libvirt connection, event thread, event queue and reconnect (conn.h).
 *
 * The event thread (the process's one, shared by every connection) runs
 * Wave's libvirt event loop (evloop.h) and nothing else; libvirt
 * calls our lifecycle and close callbacks there, and they only append to a
 * bounded queue under a mutex and bump an eventfd. Everything that talks to
 * libvirt (open, list, resolve) runs on the owner thread. On overflow the
 * queue is dropped and a full re-list is scheduled instead: a re-list is
 * always correct, a queue only an optimisation.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <libvirt/virterror.h>

#include "common/clock.h"
#include "common/log.h"
#include "vmm/conn-internal.h"
#include "vmm/evloop.h"

#define EVQ_SIZE 256
#define RECONNECT_NS WAVE_NSEC_PER_SEC

struct known {
	char uuid[VMM_UUID_LEN];
	char name[VMM_NAME_MAX];
};

/* The domain events we follow besides the lifecycle, and their callback ids. */
enum { CB_TUNABLE, CB_METADATA, CB_BALLOON, NR_EXTRA_CB };

struct vmm_conn {
	char uri[256];
	virConnectPtr virt;        /* NULL while down */
	int lifecycle_cb;          /* callback id, -1 if none */
	int extra_cb[NR_EXTRA_CB]; /* callback ids, -1 if none */
	int efd;
	int loop_up;               /* a user of the process's libvirt event loop thread */
	/* Written by the event thread, under lock. */
	pthread_mutex_t lock;
	struct vmm_event q[EVQ_SIZE];
	unsigned int qhead, qlen;
	int overflow;
	int closed;                /* libvirt told us the connection died */
	/* Owner thread only. */
	int relist;
	uint64_t next_try_ns;
	struct known *known;
	unsigned int nr_known, cap_known;
};

static pthread_once_t event_impl_once = PTHREAD_ONCE_INIT;
static int event_impl_ret;

/* libvirt's errors go to our log (debug) instead of stderr; callers report them. */
static void quiet_errors(void *opaque, virErrorPtr err)
{
	(void)opaque;
	if (err && err->message)
		wave_dbg("libvirt: %s", err->message);
}

static void event_impl_init(void)
{
	virSetErrorFunc(NULL, quiet_errors);
	event_impl_ret = vmm_evloop_register();
}

const char *vmm_virt_error(void)
{
	const virError *e = virGetLastError();

	return e && e->message ? e->message : "unknown libvirt error";
}

int vmm_virt_gone(void)
{
	const virError *e = virGetLastError();

	return e && (e->code == VIR_ERR_NO_DOMAIN || e->code == VIR_ERR_OPERATION_INVALID);
}

static void kick(struct vmm_conn *c)
{
	uint64_t one = 1;

	if (write(c->efd, &one, sizeof(one)) < 0)
		wave_dbg("vmm: eventfd write: %s", strerror(errno));
}

/* Event thread or owner: queue an event (or note an overflow). */
static void enqueue_value(struct vmm_conn *c, enum vmm_event_kind kind, const char *name,
			  const char *uuid, unsigned long long value)
{
	pthread_mutex_lock(&c->lock);
	if (c->qlen == EVQ_SIZE) {
		c->overflow = 1;
	} else {
		struct vmm_event *e = &c->q[(c->qhead + c->qlen++) % EVQ_SIZE];

		e->kind = kind;
		snprintf(e->name, sizeof(e->name), "%s", name ? name : "");
		snprintf(e->uuid, sizeof(e->uuid), "%s", uuid ? uuid : "");
		e->value = value;
	}
	pthread_mutex_unlock(&c->lock);
	kick(c);
}

static void enqueue(struct vmm_conn *c, enum vmm_event_kind kind, const char *name,
		    const char *uuid)
{
	enqueue_value(c, kind, name, uuid, 0);
}

static void enqueue_dom(struct vmm_conn *c, enum vmm_event_kind kind, virDomainPtr dom,
			unsigned long long value)
{
	char uuid[VMM_UUID_LEN] = "";

	virDomainGetUUIDString(dom, uuid);
	enqueue_value(c, kind, virDomainGetName(dom), uuid, value);
}

static int lifecycle_cb(virConnectPtr conn, virDomainPtr dom, int event, int detail,
			void *opaque)
{
	struct vmm_conn *c = opaque;

	(void)conn;
	(void)detail;
	switch (event) {
	case VIR_DOMAIN_EVENT_STARTED:
		enqueue_dom(c, VMM_EV_STARTED, dom, 0);
		break;
	case VIR_DOMAIN_EVENT_STOPPED:
		enqueue_dom(c, VMM_EV_STOPPED, dom, 0);
		break;
	case VIR_DOMAIN_EVENT_SUSPENDED:
		enqueue_dom(c, VMM_EV_PAUSED, dom, 0);
		break;
	case VIR_DOMAIN_EVENT_RESUMED:
		enqueue_dom(c, VMM_EV_RESUMED, dom, 0);
		break;
	case VIR_DOMAIN_EVENT_SHUTDOWN:
		enqueue_dom(c, VMM_EV_SHUTDOWN, dom, 0);
		break;
	}
	return 0;
}

static void tunable_cb(virConnectPtr conn, virDomainPtr dom, virTypedParameterPtr params,
		       int nparams, void *opaque)
{
	(void)conn;
	(void)params;
	(void)nparams;
	enqueue_dom(opaque, VMM_EV_TUNED, dom, 0);
}

static void metadata_cb(virConnectPtr conn, virDomainPtr dom, int type, const char *nsuri,
			void *opaque)
{
	(void)conn;
	if (type == VIR_DOMAIN_METADATA_ELEMENT && nsuri && !strcmp(nsuri, VMM_META_NS))
		enqueue_dom(opaque, VMM_EV_METADATA, dom, 0);
}

static void balloon_cb(virConnectPtr conn, virDomainPtr dom, unsigned long long actual,
		       void *opaque)
{
	(void)conn;
	enqueue_dom(opaque, VMM_EV_BALLOON, dom, actual);
}

static void close_cb(virConnectPtr conn, int reason, void *opaque)
{
	struct vmm_conn *c = opaque;

	(void)conn;
	wave_dbg("vmm: libvirt connection closed (reason %d)", reason);
	pthread_mutex_lock(&c->lock);
	c->closed = 1;
	pthread_mutex_unlock(&c->lock);
	kick(c);
}

/* Owner: drop the libvirt connection (after a close, or at the end). */
static void disconnect(struct vmm_conn *c)
{
	if (!c->virt)
		return;
	if (c->lifecycle_cb >= 0)
		virConnectDomainEventDeregisterAny(c->virt, c->lifecycle_cb);
	for (int i = 0; i < NR_EXTRA_CB; i++)
		if (c->extra_cb[i] >= 0)
			virConnectDomainEventDeregisterAny(c->virt, c->extra_cb[i]);
	for (int i = 0; i < NR_EXTRA_CB; i++)
		c->extra_cb[i] = -1;
	virConnectUnregisterCloseCallback(c->virt, close_cb);
	virConnectClose(c->virt);
	c->virt = NULL;
	c->lifecycle_cb = -1;
}

static int try_connect(struct vmm_conn *c, char *why, size_t len)
{
	virConnectPtr v = virConnectOpen(c->uri);

	if (!v)
		return wave_reason(why, len, -ECONNREFUSED,
				   "cannot connect to %s: %s (is libvirtd running? "
				   "scripts/libvirtd.sh start)", c->uri, vmm_virt_error());
	/* Keepalive notices a libvirtd that died without closing the socket. */
	virConnectSetKeepAlive(v, 5, 3);
	virConnectRegisterCloseCallback(v, close_cb, c, NULL);
	c->lifecycle_cb = virConnectDomainEventRegisterAny(v, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
							   VIR_DOMAIN_EVENT_CALLBACK(lifecycle_cb),
							   c, NULL);
	if (c->lifecycle_cb < 0)
		wave_warn("vmm: %s: no lifecycle events (%s): relying on re-lists", c->uri,
			  vmm_virt_error());
	c->extra_cb[CB_TUNABLE] = virConnectDomainEventRegisterAny(
		v, NULL, VIR_DOMAIN_EVENT_ID_TUNABLE, VIR_DOMAIN_EVENT_CALLBACK(tunable_cb), c, NULL);
	c->extra_cb[CB_METADATA] = virConnectDomainEventRegisterAny(
		v, NULL, VIR_DOMAIN_EVENT_ID_METADATA_CHANGE, VIR_DOMAIN_EVENT_CALLBACK(metadata_cb),
		c, NULL);
	c->extra_cb[CB_BALLOON] = virConnectDomainEventRegisterAny(
		v, NULL, VIR_DOMAIN_EVENT_ID_BALLOON_CHANGE, VIR_DOMAIN_EVENT_CALLBACK(balloon_cb),
		c, NULL);
	if (c->extra_cb[CB_TUNABLE] < 0 || c->extra_cb[CB_METADATA] < 0)
		wave_warn("vmm: %s: no tuning or metadata events (%s): operators' live changes "
			  "are seen only when a domain starts", c->uri, vmm_virt_error());
	pthread_mutex_lock(&c->lock);
	c->closed = 0;
	pthread_mutex_unlock(&c->lock);
	c->virt = v;
	c->relist = 1;
	return 0;
}

int vmm_conn_open(const char *uri, int retry, struct vmm_conn **out, char *why, size_t len)
{
	struct vmm_conn *c;
	int ret;

	pthread_once(&event_impl_once, event_impl_init);
	if (event_impl_ret < 0)
		return wave_reason(why, len, event_impl_ret, "libvirt event loop: %s",
				   strerror(-event_impl_ret));
	c = calloc(1, sizeof(*c));
	if (!c)
		return wave_reason(why, len, -ENOMEM, "out of memory");
	snprintf(c->uri, sizeof(c->uri), "%s", uri ? uri : VMM_DEFAULT_URI);
	c->lifecycle_cb = -1;
	for (int i = 0; i < NR_EXTRA_CB; i++)
		c->extra_cb[i] = -1;
	pthread_mutex_init(&c->lock, NULL);
	c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->efd < 0) {
		ret = wave_reason(why, len, -errno, "eventfd: %s", strerror(errno));
		goto err_free;
	}
	if ((ret = vmm_evloop_start())) {
		ret = wave_reason(why, len, ret, "cannot start the libvirt event thread: %s",
				  strerror(-ret));
		goto err_fd;
	}
	c->loop_up = 1;
	ret = try_connect(c, why, len);
	if (ret && !retry)
		goto err_thread;
	if (ret) {
		wave_warn("vmm: %s; retrying every second", why);
		c->next_try_ns = wave_now_ns() + RECONNECT_NS;
	} else {
		enqueue(c, VMM_EV_CONNECTED, NULL, NULL);
	}
	*out = c;
	return 0;

err_thread:
	vmm_evloop_stop();
err_fd:
	close(c->efd);
err_free:
	pthread_mutex_destroy(&c->lock);
	free(c);
	return ret;
}

void vmm_conn_close(struct vmm_conn *c)
{
	if (!c)
		return;
	disconnect(c);
	if (c->loop_up)
		vmm_evloop_stop();
	close(c->efd);
	pthread_mutex_destroy(&c->lock);
	free(c->known);
	free(c);
}

int vmm_conn_fd(const struct vmm_conn *c)
{
	return c->efd;
}

int vmm_conn_is_up(const struct vmm_conn *c)
{
	return c->virt != NULL;
}

virConnectPtr vmm_conn_virt(const struct vmm_conn *c)
{
	return c->virt;
}

static int known_find(const struct vmm_conn *c, const char *uuid)
{
	for (unsigned int i = 0; i < c->nr_known; i++)
		if (!strcmp(c->known[i].uuid, uuid))
			return (int)i;
	return -1;
}

static int known_add(struct vmm_conn *c, const char *uuid, const char *name)
{
	if (c->nr_known == c->cap_known) {
		unsigned int ncap = c->cap_known ? c->cap_known * 2 : 16;
		struct known *k = realloc(c->known, ncap * sizeof(*k));

		if (!k)
			return -ENOMEM;
		c->known = k;
		c->cap_known = ncap;
	}
	snprintf(c->known[c->nr_known].uuid, VMM_UUID_LEN, "%s", uuid);
	snprintf(c->known[c->nr_known].name, VMM_NAME_MAX, "%s", name);
	c->nr_known++;
	return 0;
}

/*
 * Lists the running domains and queues what differs from what the owner
 * has been told: STARTED for new ones, STOPPED for vanished ones.
 */
static void relist(struct vmm_conn *c)
{
	virDomainPtr *doms = NULL;
	int n = virConnectListAllDomains(c->virt, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
	char (*seen)[VMM_UUID_LEN];

	if (n < 0) {
		wave_warn("vmm: listing domains on %s: %s", c->uri, vmm_virt_error());
		return;
	}
	c->relist = 0;
	seen = calloc((size_t)n + 1, sizeof(*seen));
	for (int i = 0; i < n; i++) {
		if (seen && !virDomainGetUUIDString(doms[i], seen[i]) && known_find(c, seen[i]) < 0)
			enqueue(c, VMM_EV_STARTED, virDomainGetName(doms[i]), seen[i]);
		virDomainFree(doms[i]);
	}
	for (unsigned int k = 0; seen && k < c->nr_known; k++) {
		int found = 0;

		for (int i = 0; i < n && !found; i++)
			found = !strcmp(seen[i], c->known[k].uuid);
		if (!found)
			enqueue(c, VMM_EV_STOPPED, c->known[k].name, c->known[k].uuid);
	}
	free(seen);
	free(doms);
}

void vmm_conn_process(struct vmm_conn *c)
{
	uint64_t v;
	int closed, overflow;
	char why[256];

	if (read(c->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		wave_dbg("vmm: eventfd read: %s", strerror(errno));
	pthread_mutex_lock(&c->lock);
	closed = c->closed;
	overflow = c->overflow;
	c->closed = 0;
	c->overflow = 0;
	pthread_mutex_unlock(&c->lock);
	if (closed && c->virt) {
		wave_warn("vmm: lost the connection to %s; reconnecting", c->uri);
		disconnect(c);
		enqueue(c, VMM_EV_DISCONNECTED, NULL, NULL);
		c->next_try_ns = wave_now_ns();
	}
	if (!c->virt && wave_now_ns() >= c->next_try_ns) {
		if (try_connect(c, why, sizeof(why))) {
			wave_dbg("vmm: %s", why);
			c->next_try_ns = wave_now_ns() + RECONNECT_NS;
		} else {
			wave_info("vmm: connected to %s", c->uri);
			enqueue(c, VMM_EV_CONNECTED, NULL, NULL);
		}
	}
	if (c->virt && (c->relist || overflow))
		relist(c);
}

int vmm_conn_next_event(struct vmm_conn *c, struct vmm_event *ev)
{
	for (;;) {
		int k;

		pthread_mutex_lock(&c->lock);
		if (!c->qlen) {
			pthread_mutex_unlock(&c->lock);
			return 0;
		}
		*ev = c->q[c->qhead];
		c->qhead = (c->qhead + 1) % EVQ_SIZE;
		c->qlen--;
		pthread_mutex_unlock(&c->lock);
		/* Keep the owner's view consistent: no double STARTED or stray STOPPED. */
		if (ev->kind != VMM_EV_STARTED && ev->kind != VMM_EV_STOPPED)
			return 1;
		k = known_find(c, ev->uuid);
		if (ev->kind == VMM_EV_STARTED && k < 0) {
			if (known_add(c, ev->uuid, ev->name))
				c->relist = 1;
			return 1;
		}
		if (ev->kind == VMM_EV_STOPPED && k >= 0) {
			c->known[k] = c->known[--c->nr_known];
			return 1;
		}
	}
}

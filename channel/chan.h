/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The Wave channel: how waved (host) and wave-agent (IPU) talk.
 *
 * One API over several transports, chosen by URI:
 *   shm:NAME          shared-memory rings (both processes on this host)
 *   tcp://HOST:PORT   length-framed batches over TCP (a DPU on the network)
 * The host side listens/creates, the agent side connects; either may start
 * first and either may restart. Each attach is a new GENERATION: the first
 * message chan_recv() returns in a generation is the peer's validated HELLO
 * (with its instance id and the generation number), and nothing sent in an
 * earlier generation is ever delivered after it.
 *
 * Threading: a channel is used by one thread. Sends and receives never block
 * and never make a system call on the shm fast path; chan_wait() spins
 * briefly, then sleeps on the channel fd.
 *
 * Everything received is validated (codec.c) before chan_recv() returns it;
 * invalid messages are dropped and counted, a broken stream (sequence jump,
 * bad frame, impossible credit) drops the generation and is counted.
 */
#ifndef WAVE_CHANNEL_CHAN_H
#define WAVE_CHANNEL_CHAN_H

#include <stdint.h>
#include <sys/types.h>

#include "channel/tls.h"
#include "channel/wire.h"

struct chan;

enum chan_role { CHAN_HOST = WAVE_ROLE_HOST, CHAN_AGENT = WAVE_ROLE_AGENT };

#define CHAN_DEFAULT_SLOTS   1024u
#define CHAN_DEFAULT_SPIN_NS 50000u
#define CHAN_MAX_FAULTS      4
/* An attach (connection to HELLO, TLS included) must finish within this. */
#define CHAN_ATTACH_NS       (2 * 1000000000ull)

enum chan_fault_kind { CHAN_FAULT_STALL = 1, CHAN_FAULT_DROP_HB = 2 };

/* A window [at, at + len) after chan_open() during which the fault acts. */
struct chan_fault {
	enum chan_fault_kind kind;
	uint64_t at_ns;
	uint64_t len_ns;  /* UINT64_MAX: until the channel closes */
};

/*
 * With WAVE_FEAT_KSTATE a shm: host passes this many more fds with each
 * offer: the kernel's thread records (the peer's copy), then the
 * heartbeat's words (kvm-hooks/kbeat.h, enum kbeat_agent_fd order).
 */
#define CHAN_SHARE_FDS 3

struct chan_opts {
	enum chan_role role;
	uint32_t ring_slots;      /* host: slots per direction (power of two) */
	uint64_t link_delay_ns;   /* receiver-side emulated link latency */
	int timestamps;           /* ask the peer to stamp send times (implied by a link delay) */
	uint64_t spin_ns;         /* chan_wait() spins this long before sleeping */
	unsigned int nr_faults;
	struct chan_fault faults[CHAN_MAX_FAULTS];
	const char *label;        /* prefix for log lines, e.g. "waved" */
	uint64_t features;        /* extra WAVE_FEAT_* bits to announce in our HELLO */
	struct chan_tls_opts tls; /* tcp://: credentials, or plaintext on purpose */
	uid_t peer_uid;           /* shm: a user besides root and ours whose peer may attach;
				   * (uid_t)-1: none */
	/*
	 * shm host, with WAVE_FEAT_KSTATE in features: called at every offer
	 * for the fds to pass with it, new ones the channel closes once sent.
	 * 0, or -errno: this offer goes without them, and without KSTATE.
	 */
	int (*share)(void *arg, int fds[CHAN_SHARE_FDS]);
	void *share_arg;
};

/* Why a peer was refused at attach; each is counted (chan_stats.rejected). */
enum chan_reject {
	CHAN_REJ_HELLO = 0,       /* no valid HELLO first: message, role, version, features */
	CHAN_REJ_GENERATION,      /* answered another attach than the one offered */
	CHAN_REJ_BUSY,            /* another agent is attached */
	CHAN_REJ_ATTACH,          /* shm: the attach message's bytes or fds are wrong */
	CHAN_REJ_UNSEALED,        /* shm: the offered region could be resized */
	CHAN_REJ_REGION,          /* shm: the offered region's layout is invalid */
	CHAN_REJ_AUTH,            /* tcp: no TLS, a wrong certificate or key, a broken handshake */
	CHAN_REJ_CREDENTIALS,     /* shm: the peer process is not the expected user */
	CHAN_REJ_TIMEOUT,         /* the attach did not finish in time (CHAN_ATTACH_NS) */
	CHAN_REJ_MAX,
};

struct chan_stats {
	uint64_t tx_msgs, tx_batches, tx_full, tx_kicks, tx_notconn;
	uint64_t tx_quiet;        /* sent with chan_send_quiet() */
	uint64_t rx_msgs, rx_batches, rx_invalid, rx_held;
	uint64_t proto_errors;    /* broken stream: generation dropped */
	uint64_t hello_rejected;  /* peers refused at attach, for any reason */
	uint64_t rejected[CHAN_REJ_MAX];
	char last_reject[160];    /* why the last one was refused */
	uint64_t attaches, detaches;
	uint64_t fault_stalled, fault_dropped_hb;
};

void chan_opts_init(struct chan_opts *o, enum chan_role role);

/*
 * The link options every binary takes: "--link-delay" (microseconds) and
 * "--link-fault" (KIND@AFTER[+FOR], KIND one of stall, drop-hb; durations
 * with units, e.g. stall@2s+500ms). Returns 1 if opt is one of them and arg
 * was valid, 0 if opt is not a link option, -EINVAL/-ERANGE on a bad value
 * (already logged, naming the option and value).
 */
int chan_opts_parse_link(struct chan_opts *o, const char *opt, const char *arg);

/* The same two as entries of a command's option table (common/opt.h). */
#define CHAN_LINK_OPTS(copts)                                                        \
	OPT_CALLBACK("link-delay", "US", copts, chan_opt_link,                       \
		     "emulate a link: messages become visible US microseconds\n"    \
		     "after they were sent (receiver side; default 0)"),             \
	OPT_CALLBACK("link-fault", "SPEC", copts, chan_opt_link,                     \
		     "inject a fault: stall@AFTER[+FOR] (sends are refused)\n"      \
		     "or drop-hb@AFTER[+FOR] (heartbeats are dropped);\n"           \
		     "e.g. stall@2s+500ms. May be given up to 4 times.")
struct opt;
int chan_opt_link(const struct opt *o, const char *arg);

/*
 * shm:'s peer check, for waved (--agent-user) and wave-agent (--host-user):
 * the process at the other end of the socket must run as root, as this
 * process's user, or as USER (a name or a number).
 */
#define CHAN_AGENT_USER_OPT(copts)                                                   \
	OPT_CALLBACK("agent-user", "USER", copts, chan_opt_user,                      \
		     "shm: a user besides root whose agent may attach")
#define CHAN_HOST_USER_OPT(copts)                                                    \
	OPT_CALLBACK("host-user", "USER", copts, chan_opt_user,                       \
		     "shm: a user besides root who may serve as the host")
int chan_opt_user(const struct opt *o, const char *arg);

/* The TLS options of tcp:// (channel/tls.h), for a command's option table. */
#define CHAN_TLS_OPTS(copts)                                                        \
	OPT_STRING("tls-cert", "FILE", &(copts)->tls.cert,                          \
		   "tcp://: this side's certificate (PEM)"),                          \
	OPT_STRING("tls-key", "FILE", &(copts)->tls.key, "tcp://: its private key"), \
	OPT_STRING("tls-ca", "FILE", &(copts)->tls.ca,                              \
		   "tcp://: the CA the peer's certificate must chain to"),            \
	OPT_STRING("tls-peer-name", "NAME", &(copts)->tls.peer_name,                \
		   "tcp://: the name the peer's certificate must carry\n"             \
		   "(default: " TLS_HOST_NAME " for the host, " TLS_AGENT_NAME " for the agent)"), \
	OPT_STRING("psk-file", "FILE", &(copts)->tls.psk_file,                      \
		   "tcp://: a pre-shared key instead (IDENTITY:HEX, mode 0600)"),     \
	OPT_BOOL("insecure", 0, &(copts)->tls.insecure,                             \
		 "tcp://: plaintext, no authentication (warned at start)")

/*
 * Opens a channel. Host: starts listening (fails if another host serves the
 * same URI). Agent: starts connecting and keeps retrying in the background
 * (driven by chan_process/chan_wait). Returns 0 and *out, or -errno after
 * logging what was wrong with the URI or options.
 */
int chan_open(const char *uri, const struct chan_opts *o, struct chan **out);
void chan_close(struct chan *ch);

/*
 * Sends n messages in order (seq and ts_ns are filled in by the channel).
 * Returns how many were accepted (fewer than n when the peer's window is
 * full; retry the rest later), or -ENOTCONN when no peer is attached, or
 * -EINVAL when msgs[ret] is invalid (nothing from it on was sent).
 */
int chan_send_batch(struct chan *ch, const struct wave_msg *msgs, unsigned int n);
/* One message: 0, -EAGAIN (window full), -ENOTCONN or -EINVAL. */
int chan_send(struct chan *ch, const struct wave_msg *msg);

/*
 * Like chan_send(), but rings no doorbell: a sleeping receiver finds the
 * message when it next wakes for something else. For messages the
 * receiver reads on a schedule of its own (heartbeat echoes, wire.h 1.4);
 * a later ordinary send rings for both. Over tcp:// the bytes reach the
 * peer's socket at once like any others.
 */
int chan_send_quiet(struct chan *ch, const struct wave_msg *msg);

/*
 * Answers heartbeat hb (host order, as received), which this side held for
 * hold_ns: builds the echo in *echo and sends it at once, ringing the host
 * only if the heartbeat asked (WAVE_HB_PROMPT), else quietly. Returns as
 * chan_send(); on -EAGAIN the caller may queue *echo and send it later.
 */
int chan_echo(struct chan *ch, const struct wave_msg *hb, uint64_t hold_ns,
	      struct wave_msg *echo);

/*
 * Receives up to max validated, host-order messages. Returns the count (0 if
 * none is ready yet) or -ENOTCONN when no peer is attached.
 */
int chan_recv(struct chan *ch, struct wave_msg *out, unsigned int max);

/* A file descriptor that is readable when chan_process() has work. */
int chan_fd(const struct chan *ch);

/* Handles attach, detach, reconnect, doorbells and timers; never blocks. */
int chan_process(struct chan *ch);

/*
 * Waits until chan_recv() has something or timeout_ms passes (-1: forever):
 * spins for opts.spin_ns, then sleeps on the doorbell. Returns 1 if messages
 * are ready, 0 on timeout (or an attach/detach event), -errno on error.
 */
int chan_wait(struct chan *ch, int timeout_ms);
/* The same, until deadline_ns (CLOCK_MONOTONIC), to the nanosecond. */
int chan_wait_until(struct chan *ch, uint64_t deadline_ns);

/*
 * For a host-side event loop that sleeps on chan_fd() itself instead of
 * calling chan_wait(): asks the peer for a doorbell. Returns nonzero if
 * messages are ready already (do not sleep: receive them). Race-free
 * without spinning on the host side only, because the agent fences before
 * deciding whether to ring (ring.h, "Sleeping"); an agent that sleeps uses
 * chan_wait(). The request is one-shot: call it before every sleep.
 */
int chan_prepare_sleep(struct chan *ch);

/*
 * Agent: fd i (< CHAN_SHARE_FDS) of those the host shared at this attach
 * (WAVE_FEAT_KSTATE), or -1. Owned by the channel, closed when the peer
 * goes: map what it names, do not keep the fd.
 */
int chan_shared_fd(const struct chan *ch, unsigned int i);

/*
 * Nonzero while an injected fault of this kind acts (opts.faults): for a
 * side path that must fail as the channel would (the kernel heartbeat).
 */
int chan_fault_now(const struct chan *ch, enum chan_fault_kind kind);

/* Disconnects the current peer (why is logged); an agent reconnects with backoff. */
void chan_drop(struct chan *ch, const char *why);

int chan_is_up(const struct chan *ch);
uint64_t chan_generation(const struct chan *ch);
/* WAVE_FEAT_* bits the current (or last) peer announced in its HELLO. */
uint64_t chan_peer_features(const struct chan *ch);
/* The features both sides announced at this attach (what may be used); 0 while down. */
uint64_t chan_features(const struct chan *ch);
const struct chan_stats *chan_get_stats(const struct chan *ch);
/*
 * How a peer proves who it is, for status output: "TLS 1.3, pre-shared
 * key", "TLS 1.3, certificates", "none (plaintext, --insecure)", or the
 * users the kernel's peer credentials must name ("peer uid 0 or 1000").
 */
const char *chan_auth(const struct chan *ch);
/* "hello", "generation", "busy", ...: for status output. */
const char *chan_reject_name(enum chan_reject r);

#endif

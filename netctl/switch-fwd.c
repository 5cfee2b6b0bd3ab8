// SPDX-License-Identifier: BSD-3-Clause
/*
 * wave-switch's forwarding of one received burst: meter what a VM sends,
 * learn the source, look up the destination, meter what goes to a VM,
 * queue per output port; sw_flush() sends the queues. A frame for a
 * group address or an unknown one goes to every other up port: the same
 * mbuf with every segment's reference count raised once per extra port (no copies;
 * neither net_tap nor net_vhost writes into a frame it sends).
 *
 * What a VM sends is paced, not policed: its port is read once its token
 * bucket holds half its burst, at most as many frames as the tokens pay
 * for (full-sized frames, so at least one), and the read takes the bytes
 * it carried (the bucket may go below zero by less than a frame; the next
 * read waits until the rate has paid that back and half a burst more).
 * So what leaves the switch for a paced VM comes in clumps of about half
 * its burst: a latency VM's packet behind one on a link at the same rate
 * waits that long, not a whole receive burst of SW_BURST frames; and the
 * switch reads the VM about rate / (burst / 2) times a second. What the VM sent beyond its rate
 * stays in its own virtio ring, so its socket blocks and its vCPU sleeps
 * instead of building frames the switch would drop: a flooding guest
 * costs the host (and the link) its rate, no more, and loses nothing.
 * The bucket fills at the rate up to the burst, so an idle VM may send a
 * burst at link speed, then its rate. Rounds a port was skipped are
 * counted (held).
 * Rejected: rte_meter on that side too. A policer drops what the guest
 * already paid CPU for, and the guest keeps sending at full speed.
 *
 * What goes to a VM is policed with an srTCM (rte_meter), colour-blind,
 * excess burst 0: a frame passes while the committed bucket holds its
 * bytes (green) and is dropped otherwise (the tap and other guests cannot
 * be held back per receiver); drops are counted on the VM's port.
 */
#include <errno.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_ether.h>

#include "netctl/switch.h"

int sw_meter_set(struct sw_port *p, enum sw_dir d, uint64_t rate, uint64_t burst)
{
	struct sw_meter *m = &p->meter[d];
	struct rte_meter_srtcm_params prm = { .cir = rate, .cbs = burst, .ebs = 0 };
	int ret;

	if (!rate) {
		m->rate = 0;
		return 0;
	}
	if (!burst || burst > INT64_MAX)
		return -EINVAL;
	if (d == SW_FROM_VM) {
		/*
		 * A pace that starts begins full; a changed one keeps what the
		 * old one held (or owed), never over the new burst: a policy
		 * that moves the rate often must not hand out a burst each time.
		 */
		if (!m->rate)
			m->tokens = (int64_t)burst;
		else if (m->tokens > (int64_t)burst)
			m->tokens = (int64_t)burst;
		m->last = rte_rdtsc();
	} else if ((ret = rte_meter_srtcm_profile_config(&m->prof, &prm)) ||
		   (ret = rte_meter_srtcm_config(&m->m, &m->prof))) {
		return ret;
	}
	m->rate = rate;
	m->burst = burst;
	return 0;
}

/* Polices a frame going to p. */
static int meter_pass(struct sw_port *p, uint32_t len, uint64_t now)
{
	struct sw_meter *m = &p->meter[SW_TO_VM];

	if (!m->rate || p->kind != SW_VM)
		return 1;
	if (rte_meter_srtcm_color_blind_check(&m->m, &m->prof, now, len) == RTE_COLOR_GREEN)
		return 1;
	p->c.drop_meter[SW_TO_VM]++;
	return 0;
}

#define FULL_FRAME 1514

/*
 * How many frames p's pace lets the switch read from it now (SW_BURST if
 * it is not paced): refills its tokens up to the burst; below half of it,
 * 0, and notes when they will be there.
 */
static uint16_t pace_open(struct sw *sw, struct sw_port *p, uint64_t now)
{
	struct sw_meter *m = &p->meter[SW_FROM_VM];
	int64_t open = (int64_t)(m->burst / 2);
	uint64_t add;

	if (!m->rate || p->kind != SW_VM)
		return SW_BURST;
	if (now > m->last) {
		/* In 128 bits: rate up to 12.5e9 times ticks would pass 2^64. */
		add = (uint64_t)((unsigned __int128)(now - m->last) * m->rate / sw->hz);
		if (add) {
			/* tokens >= -(one burst of frames): the sum stays far from overflow */
			int64_t t = m->tokens + (int64_t)RTE_MIN(add, m->burst * 2);

			m->tokens = t < (int64_t)m->burst ? t : (int64_t)m->burst;
			m->last = now;
		}
	}
	if (m->tokens >= open)
		return (uint16_t)RTE_MIN((uint64_t)SW_BURST,
					 ((uint64_t)m->tokens + FULL_FRAME - 1) / FULL_FRAME);
	m->ready = now + (uint64_t)((unsigned __int128)(uint64_t)(open - m->tokens) * sw->hz / m->rate);
	return 0;
}

uint64_t sw_pace_next(const struct sw *sw)
{
	uint64_t next = 0;

	for (unsigned int i = 0; i < sw->nports; i++) {
		const struct sw_port *p = sw->port[i];
		const struct sw_meter *m = &p->meter[SW_FROM_VM];

		if (p->up && p->kind == SW_VM && m->rate && m->tokens < (int64_t)(m->burst / 2) &&
		    (!next || m->ready < next))
			next = m->ready;
	}
	return next;
}

/* Queues m for out; a full queue is sent first. Takes the reference. */
static void enqueue(struct sw *sw, struct sw_port *out, struct rte_mbuf *m, uint64_t now)
{
	if (!meter_pass(out, m->pkt_len, now)) {
		rte_pktmbuf_free(m);
		return;
	}
	if (out->txn == RTE_DIM(out->tx))
		sw_flush(sw);
	out->tx[out->txn++] = m;
}

static void flood(struct sw *sw, struct sw_port *in, struct rte_mbuf *m, uint64_t now)
{
	struct sw_port *to[SW_MAX_PORTS];
	unsigned int n = 0;

	for (unsigned int i = 0; i < sw->nports; i++)
		if (sw->port[i] != in && sw->port[i]->up)
			to[n++] = sw->port[i];
	in->c.flooded++;
	if (!n) {
		rte_pktmbuf_free(m);
		return;
	}
	if (n > 1)
		rte_pktmbuf_refcnt_update(m, (int16_t)(n - 1)); /* every segment of a chain */
	for (unsigned int i = 0; i < n; i++)
		enqueue(sw, to[i], m, now);
}

static void forward(struct sw *sw, struct sw_port *in, struct rte_mbuf *m, uint64_t now)
{
	const struct rte_ether_hdr *eh;
	int out;

	if (m->data_len < sizeof(*eh)) {
		in->c.drop_bad++;
		rte_pktmbuf_free(m);
		return;
	}
	eh = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	in->c.rx_pkts++;
	in->c.rx_bytes += m->pkt_len;
	mact_learn(&sw->mac, eh->src_addr.addr_bytes, in->port_id, now);
	if (mact_is_group(eh->dst_addr.addr_bytes) ||
	    (out = mact_lookup(&sw->mac, eh->dst_addr.addr_bytes, now)) < 0 || !sw->by_id[out]) {
		flood(sw, in, m, now);
		return;
	}
	/* A known VM whose guest is away (paused, restarting): its frames are not every VM's. */
	if (!sw->by_id[out]->up) {
		sw->by_id[out]->c.drop_down++;
		rte_pktmbuf_free(m);
		return;
	}
	if (out == in->port_id) {
		in->c.drop_bad++; /* addressed to where it came from */
		rte_pktmbuf_free(m);
		return;
	}
	enqueue(sw, sw->by_id[out], m, now);
}

unsigned int sw_rx_port(struct sw *sw, struct sw_port *p, uint64_t now)
{
	struct rte_mbuf *pkts[SW_BURST];
	struct sw_meter *pace = &p->meter[SW_FROM_VM];
	uint16_t n = pace_open(sw, p, now);

	if (!n)
		return 0;
	n = rte_eth_rx_burst(p->port_id, 0, pkts, n);
	if (pace->rate && p->kind == SW_VM && n) {
		for (uint16_t i = 0; i < n; i++)
			pace->tokens -= pkts[i]->pkt_len;
		p->c.held += pace->tokens < (int64_t)(pace->burst / 2);
	}
	for (uint16_t i = 0; i < n; i++)
		forward(sw, p, pkts[i], now);
	return n;
}

void sw_flush(struct sw *sw)
{
	for (unsigned int i = 0; i < sw->nports; i++) {
		struct sw_port *p = sw->port[i];
		uint32_t len[RTE_DIM(p->tx)];
		uint16_t sent;

		if (!p->txn)
			continue;
		/* A sent mbuf may be freed at once: its length is read before. */
		for (uint16_t k = 0; k < p->txn; k++)
			len[k] = p->tx[k]->pkt_len;
		sent = p->up ? rte_eth_tx_burst(p->port_id, 0, p->tx, p->txn) : 0;
		for (uint16_t k = 0; k < sent; k++)
			p->c.tx_bytes += len[k];
		p->c.tx_pkts += sent;
		if (sent < p->txn) {
			p->c.drop_full += p->txn - sent;
			rte_pktmbuf_free_bulk(&p->tx[sent], p->txn - sent);
		}
		p->txn = 0;
	}
}

// SPDX-License-Identifier: BSD-3-Clause
/*
 * wave-switch's forwarding of one received burst: meter what a VM sends,
 * learn the source, look up the destination, meter what goes to a VM,
 * queue per output port; sw_flush() sends the queues. A frame for a
 * group address or an unknown one goes to every other up port: the same
 * mbuf with every segment's reference count raised once per extra port (no copies;
 * neither net_tap nor net_vhost writes into a frame it sends).
 *
 * Meters are srTCM, colour-blind, excess burst 0: a frame passes while
 * the committed bucket holds its bytes (green) and is dropped otherwise.
 * The bucket fills at the VM's rate up to its burst, so a VM may send a
 * burst at link speed and then its rate; a drop is counted on the VM's
 * port, by direction.
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
	if (!burst)
		return -EINVAL;
	if ((ret = rte_meter_srtcm_profile_config(&m->prof, &prm)) ||
	    (ret = rte_meter_srtcm_config(&m->m, &m->prof)))
		return ret;
	m->rate = rate;
	m->burst = burst;
	return 0;
}

static int meter_pass(struct sw_port *p, enum sw_dir d, uint32_t len, uint64_t now)
{
	struct sw_meter *m = &p->meter[d];

	if (!m->rate || p->kind != SW_VM)
		return 1;
	if (rte_meter_srtcm_color_blind_check(&m->m, &m->prof, now, len) == RTE_COLOR_GREEN)
		return 1;
	p->c.drop_meter[d]++;
	return 0;
}

/* Queues m for out; a full queue is sent first. Takes the reference. */
static void enqueue(struct sw *sw, struct sw_port *out, struct rte_mbuf *m, uint64_t now)
{
	if (!meter_pass(out, SW_TO_VM, m->pkt_len, now)) {
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
	if (!meter_pass(in, SW_FROM_VM, m->pkt_len, now)) {
		rte_pktmbuf_free(m);
		return;
	}
	mact_learn(&sw->mac, eh->src_addr.addr_bytes, in->port_id, now);
	if (mact_is_group(eh->dst_addr.addr_bytes) ||
	    (out = mact_lookup(&sw->mac, eh->dst_addr.addr_bytes, now)) < 0 ||
	    !sw->by_id[out] || !sw->by_id[out]->up) {
		flood(sw, in, m, now);
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
	uint16_t n = rte_eth_rx_burst(p->port_id, 0, pkts, SW_BURST);

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

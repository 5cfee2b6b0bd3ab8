// SPDX-License-Identifier: BSD-3-Clause
/* A test playing wave-agent for memory (see mem-agent.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "channel/codec.h"
#include "common/clock.h"
#include "tests/mem-agent.h"
#include "tests/util.h"

static void take(const struct wave_msg *x, void *arg)
{
	struct test_mem_agent *a = arg;

	if (x->h.type == WAVE_MSG_SNAPSHOT_END) {
		a->epoch = x->p.snap.epoch;
		a->have_snapshot = 1;
	} else if (x->h.type == WAVE_MSG_VM_ADD &&
		   !strncmp(x->p.vm_add.name, a->vm_name, WAVE_NAME_LEN)) {
		a->id = x->p.vm_add.vm_id;
		a->barrier = x->p.vm_add.barrier;
	} else if (x->h.type == WAVE_MSG_MEM_STATE && x->p.mem.vm_id == a->id) {
		a->st = x->p.mem;
		a->nst++;
	} else if (x->h.type == WAVE_MSG_MEM_CTL && x->p.mctl.vm_id == a->id) {
		a->ctl = x->p.mctl;
		a->nctl++;
	} else if (x->h.type == WAVE_MSG_HOST_MEM) {
		a->host = x->p.hmem;
		a->nhost++;
	} else if (x->h.type == WAVE_MSG_TXN_RESULT) {
		a->res = x->p.result;
	}
}

void test_mem_pump(struct test_mem_agent *a, int ms)
{
	test_agent_pump(a->ch, ms, take, a);
}

uint8_t test_set_balloon(struct test_mem_agent *a, uint32_t id, uint32_t mib, uint32_t barrier)
{
	struct wave_msg m;

	wave_msg_init(&m, WAVE_MSG_TXN);
	m.p.txn = (struct wave_txn){ .txn_id = id, .epoch = a->epoch, .vm_id = a->id,
				     .barrier = barrier ? barrier : a->barrier,
				     .op = WAVE_OP_SET_BALLOON, .op_count = 1 };
	m.p.txn.u.balloon.target_kib = mib * 1024;
	assert_int_equal(chan_send(a->ch, &m), 0);
	for (int i = 0; i < 300 && a->res.txn_id != id; i++)
		test_mem_pump(a, 100);
	return a->res.txn_id == id ? a->res.status : 0xff;
}


// SPDX-License-Identifier: BSD-3-Clause
/*
 * The network policy that decides nothing: VMs on wave-switch keep the
 * rates they have (none, or what an operator set through the switch's
 * control socket). The default, so that network control is something an
 * operator turns on (--net-policy share), never a surprise.
 */
#include "ipu-sched/policy.h"

const struct policy_ops net_none_ops = {
	.name = "none",
	.summary = "no network decisions: rates on wave-switch stay as they are",
	.subsys = POLICY_NET,
};

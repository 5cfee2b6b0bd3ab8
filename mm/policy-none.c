// SPDX-License-Identifier: BSD-3-Clause
/*
 * The memory policy that decides nothing: the guests keep the balloon
 * sizes they have (what an operator set, or none). The default, so that
 * memory control is something an operator turns on (--mem-policy balloon
 * with waved's --mem-budget), never a surprise.
 */
#include "ipu-sched/policy.h"

const struct policy_ops mm_none_ops = {
	.name = "none",
	.summary = "no memory decisions: balloons stay as they are",
	.subsys = POLICY_MEM,
};

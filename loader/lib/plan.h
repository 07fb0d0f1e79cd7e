/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The planner's rules that the verbs outside the engine's run also need,
 * so that each rule is written once (lib/plan.c). Pure: no kernel calls.
 */
#ifndef XS_PLAN_H
#define XS_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device.h"
#include "xfrm_steer.h"

/*
 * What attaching a with options a leaves the device with (*eff), given what
 * it has (m; NULL when not attached yet). The tenant key and the map sizes
 * are fixed once attached, since their maps would have to be made again;
 * the program's flags change in place, and options not given keep the
 * attached value. Returns 0, or -EEXIST / -EINVAL with why set to the
 * reason and its fix, worded to follow 'device "NAME" '.
 */
int xs_plan_attach(const struct attach_args *a, const struct meta_value *m,
		   struct attach_args *eff, char *why, size_t len);

/*
 * Can a tunnel send from every CPU? Its outbound SAs (pcpu[i], or
 * XS_PCPU_ANY for one that serves every CPU: RFC 9611, Linux 6.13) cover
 * the CPUs cpus[0..ncpus) when one serves every CPU or each CPU has its
 * own: the kernel sends what a CPU transmits only through that CPU's SA
 * or a CPU-less one, and drops it (an acquire nobody answers) otherwise.
 * Returns true, or false with *gap set to the first CPU without an SA
 * (XS_PCPU_ANY when there is no SA at all).
 */
#define XS_PCPU_ANY UINT32_MAX
bool xs_plan_sa_cpus_covered(const uint32_t *pcpu, size_t n, const uint32_t *cpus,
			     size_t ncpus, uint32_t *gap);

/* The range of the daemon's ike_ranges (v, n entries) that if_id falls in,
 * or -1: such an if_id is the IKE daemon's, and tunnel add, apply and route
 * add refuse it. */
int xs_plan_ike_managed(const struct ike_range_value *v, size_t n, uint32_t if_id);

#endif /* XS_PLAN_H */

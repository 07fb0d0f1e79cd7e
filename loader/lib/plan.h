/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The planner's rules that the verbs outside the engine's run also need,
 * so that each rule is written once (lib/plan.c). Pure: no kernel calls.
 */
#ifndef XS_PLAN_H
#define XS_PLAN_H

#include <stddef.h>

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

/* The range of the daemon's ike_ranges (v, n entries) that if_id falls in,
 * or -1: such an if_id is the IKE daemon's, and tunnel add, apply and route
 * add refuse it. */
int xs_plan_ike_managed(const struct ike_range_value *v, size_t n, uint32_t if_id);

#endif /* XS_PLAN_H */

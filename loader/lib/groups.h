/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Route groups and member health in the pinned maps (include/xfrm_steer.h):
 * group indexes, the down mask egress reads, and health by if_id. Callers
 * hold the device's exclusive lock, so that the derived group_down words
 * never miss a change of either input.
 */
#ifndef XS_GROUPS_H
#define XS_GROUPS_H

#include <stdint.h>

#include "state.h"

/* Write g under a free group index (*gid), with its down mask derived
 * from tun_health. -ENOSPC when every index is taken. */
int xs_group_create(struct xs_state *st, const struct route_group *g, uint32_t *gid);

/* Free a group index (after the route that named it moved away). */
void xs_group_free(struct xs_state *st, uint32_t gid);

int xs_group_read(struct xs_state *st, uint32_t gid, struct route_group *g);

/* Set and clear XS_HEALTH_* bits of tunnel slot idx, keep XS_HEALTH_DOWN
 * and the down masks of the groups with a member there in step. *changed
 * (may be NULL) says whether the effective state moved. */
int xs_health_update(struct xs_state *st, uint32_t idx, uint32_t set, uint32_t clear,
		     bool *changed);

/* Health word of tunnel slot idx (0 when unreadable: up). */
uint32_t xs_health_get(struct xs_state *st, uint32_t idx);

/* Add delta to the slot references of every member of group gid
 * (xs_tunnel_ref()); the last reference gone frees the slot. */
int xs_group_ref(struct xs_state *st, uint32_t gid, int delta);

#endif

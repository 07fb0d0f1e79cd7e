/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Route groups and member health in the pinned maps (include/xfrm_steer.h):
 * group indexes, the down mask egress reads, and health by if_id. Callers
 * hold the device's exclusive lock, so that the derived group_down words
 * never miss a change of either input.
 */
#ifndef XS_GROUPS_H
#define XS_GROUPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "state.h"
#include "xfrm_steer.h"

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

/* Rewrite group gid as g (a rollback puts back one it freed), its down
 * mask derived again. */
int xs_group_put(struct xs_state *st, uint32_t gid, const struct route_group *g);

/* A route to a group, as read from the maps. */
struct xs_group_ent {
	struct apply_route_key key;
	uint32_t gid;
	struct route_group g; /* n == 0: the index names no group */
};
/* Every route to a group on the device, sorted by key; *v is malloc'ed. */
int xs_groups_read(struct xs_state *st, struct xs_group_ent **v, size_t *n);

/* Group indexes in use that no route names (*v, malloc'ed, key zero):
 * what a run killed between writing a group and freeing the one it
 * replaced leaves. routes: xs_groups_read()'s, sorted by gid or not. */
int xs_groups_orphans(struct xs_state *st, const struct xs_group_ent *routes, size_t nroutes,
		      struct xs_group_ent **v, size_t *n);

/* What the file form says of a group (members in order: if_id, weight,
 * dscp, backup), neither slots nor tenant: equal for the same group. */
bool xs_group_same(const struct route_group *a, const struct route_group *b);
/* A digest of the same, never 0: apply's ownership record of a group
 * route (apply_route_value with if_id 0, pad the digest). */
uint32_t xs_group_digest(const struct route_group *g);

#endif

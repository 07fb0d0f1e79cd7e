// SPDX-License-Identifier: GPL-2.0
/* Route groups and member health in the pinned maps (groups.h). */
#include <errno.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "groups.h"
#include "xfrm_steer.skel.h"

int xs_group_read(struct xs_state *st, uint32_t gid, struct route_group *g)
{
	if (bpf_map_lookup_elem(bpf_map__fd(st->skel->maps.route_groups), &gid, g))
		return -errno;
	return 0;
}

uint32_t xs_health_get(struct xs_state *st, uint32_t idx)
{
	uint32_t v = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(st->skel->maps.tun_health), &idx, &v))
		return 0;
	return v;
}

static uint32_t down_mask(struct xs_state *st, const struct route_group *g)
{
	uint32_t m, mask = 0;

	for (m = 0; m < g->n && m < XS_GROUP_MAX; m++)
		if (xs_health_get(st, g->nh[m].tunnel_idx) & XS_HEALTH_DOWN)
			mask |= 1u << m;
	return mask;
}

int xs_group_create(struct xs_state *st, const struct route_group *g, uint32_t *gid)
{
	int gfd = bpf_map__fd(st->skel->maps.route_groups);
	int dfd = bpf_map__fd(st->skel->maps.group_down);
	uint32_t max = bpf_map__max_entries(st->skel->maps.route_groups), i, mask;
	struct route_group cur;

	/* Index 0 is never handed out: a zeroed route is no group. */
	for (i = 1; i < max; i++) {
		if (bpf_map_lookup_elem(gfd, &i, &cur))
			return -errno;
		if (cur.n)
			continue;
		/* The mask first: the group is unreachable until a route
		 * names it, and then both are in place. */
		mask = down_mask(st, g);
		if (bpf_map_update_elem(dfd, &i, &mask, BPF_ANY) ||
		    bpf_map_update_elem(gfd, &i, g, BPF_ANY))
			return -errno;
		*gid = i;
		return 0;
	}
	return -ENOSPC;
}

void xs_group_free(struct xs_state *st, uint32_t gid)
{
	struct route_group empty = { 0 };

	if (gid)
		bpf_map_update_elem(bpf_map__fd(st->skel->maps.route_groups), &gid, &empty,
				    BPF_ANY);
}

int xs_health_update(struct xs_state *st, uint32_t idx, uint32_t set, uint32_t clear,
		     bool *changed)
{
	int hfd = bpf_map__fd(st->skel->maps.tun_health);
	int gfd = bpf_map__fd(st->skel->maps.route_groups);
	int dfd = bpf_map__fd(st->skel->maps.group_down);
	uint32_t max = bpf_map__max_entries(st->skel->maps.route_groups), old, v, i, m;
	struct route_group g;

	old = xs_health_get(st, idx);
	v = xs_health_effective((old & ~clear) | set);
	if (changed)
		*changed = (old ^ v) & XS_HEALTH_DOWN;
	if (v == old)
		return 0;
	if (bpf_map_update_elem(hfd, &idx, &v, BPF_ANY))
		return -errno;
	if (!((old ^ v) & XS_HEALTH_DOWN))
		return 0;
	for (i = 1; i < max; i++) {
		uint32_t mask;

		if (bpf_map_lookup_elem(gfd, &i, &g) || !g.n)
			continue;
		for (m = 0; m < g.n && m < XS_GROUP_MAX; m++)
			if (g.nh[m].tunnel_idx == idx)
				break;
		if (m == g.n || m == XS_GROUP_MAX)
			continue;
		mask = down_mask(st, &g);
		if (bpf_map_update_elem(dfd, &i, &mask, BPF_ANY))
			return -errno;
	}
	return 0;
}

int xs_group_ref(struct xs_state *st, uint32_t gid, int delta)
{
	struct route_group g;
	uint32_t m;
	int err = 0, e;

	if (xs_group_read(st, gid, &g))
		return 0;
	for (m = 0; m < g.n && m < XS_GROUP_MAX; m++) {
		e = xs_tunnel_ref(st, g.nh[m].if_id, g.nh[m].tunnel_idx, delta);
		if (e && !err)
			err = e;
	}
	return err;
}

// SPDX-License-Identifier: GPL-2.0
/* Route groups and member health in the pinned maps (groups.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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

int xs_group_put(struct xs_state *st, uint32_t gid, const struct route_group *g)
{
	uint32_t mask = down_mask(st, g);

	if (bpf_map_update_elem(bpf_map__fd(st->skel->maps.group_down), &gid, &mask, BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(st->skel->maps.route_groups), &gid, g, BPF_ANY))
		return -errno;
	return 0;
}

static int group_ent_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct apply_route_key));
}

int xs_groups_read(struct xs_state *st, struct xs_group_ent **v, size_t *n)
{
	int gfd = bpf_map__fd(st->skel->maps.route_groups);
	size_t cap = 0;
	int f;

	*v = NULL;
	*n = 0;
	for (f = 0; f < 2; f++) {
		int fd = f ? bpf_map__fd(st->skel->maps.routes_v6) :
			     bpf_map__fd(st->skel->maps.routes_v4);
		union {
			struct route_key_v4 v4;
			struct route_key_v6 v6;
		} key, next;
		void *prev = NULL;

		while (!bpf_map_get_next_key(fd, prev, &next)) {
			struct route_value val;
			struct xs_group_ent *e;

			key = next;
			prev = &key;
			if (bpf_map_lookup_elem(fd, &key, &val) || val.tunnel_idx)
				continue;
			if (*n == cap) {
				void *p = realloc(*v, (cap ? cap * 2 : 16) * sizeof(**v));

				if (!p)
					return -ENOMEM;
				*v = p;
				cap = cap ? cap * 2 : 16;
			}
			e = &(*v)[*n];
			memset(e, 0, sizeof(*e));
			e->key.family = f ? AF_INET6 : AF_INET;
			e->key.tenant = f ? key.v6.tenant : key.v4.tenant;
			e->key.plen = (f ? key.v6.prefixlen : key.v4.prefixlen) - 32;
			memcpy(e->key.addr, f ? (void *)key.v6.addr : (void *)&key.v4.addr,
			       f ? 16 : 4);
			e->gid = val.if_id;
			if (bpf_map_lookup_elem(gfd, &e->gid, &e->g))
				e->g.n = 0;
			if (e->g.n > XS_GROUP_MAX)
				e->g.n = XS_GROUP_MAX;
			(*n)++;
		}
		if (errno != ENOENT)
			return -errno;
	}
	if (*n)
		qsort(*v, *n, sizeof(**v), group_ent_cmp);
	return 0;
}

int xs_groups_orphans(struct xs_state *st, const struct xs_group_ent *routes, size_t nroutes,
		      struct xs_group_ent **v, size_t *n)
{
	int gfd = bpf_map__fd(st->skel->maps.route_groups);
	uint32_t max = bpf_map__max_entries(st->skel->maps.route_groups), i;
	uint8_t *named = calloc(max + 1, 1);
	size_t k, cap = 0;
	struct route_group g;

	*v = NULL;
	*n = 0;
	if (!named)
		return -ENOMEM;
	for (k = 0; k < nroutes; k++)
		if (routes[k].gid < max)
			named[routes[k].gid] = 1;
	for (i = 1; i < max; i++) {
		if (named[i] || bpf_map_lookup_elem(gfd, &i, &g) || !g.n)
			continue;
		if (*n == cap) {
			void *p = realloc(*v, (cap ? cap * 2 : 4) * sizeof(**v));

			if (!p) {
				free(named);
				return -ENOMEM;
			}
			*v = p;
			cap = cap ? cap * 2 : 4;
		}
		memset(&(*v)[*n], 0, sizeof(**v));
		(*v)[*n].gid = i;
		(*v)[*n].g = g;
		(*n)++;
	}
	free(named);
	return 0;
}

bool xs_group_same(const struct route_group *a, const struct route_group *b)
{
	uint32_t m;

	if (a->n != b->n)
		return false;
	for (m = 0; m < a->n && m < XS_GROUP_MAX; m++)
		if (a->nh[m].if_id != b->nh[m].if_id || a->nh[m].weight != b->nh[m].weight ||
		    a->nh[m].dscp != b->nh[m].dscp || a->nh[m].flags != b->nh[m].flags)
			return false;
	return true;
}

/* FNV-1a over the fields xs_group_same() compares. */
static uint32_t fnv(uint32_t h, uint64_t v, int bytes)
{
	int i;

	for (i = 0; i < bytes; i++) {
		h ^= (uint8_t)(v >> (8 * i));
		h *= 16777619u;
	}
	return h;
}

uint32_t xs_group_digest(const struct route_group *g)
{
	uint32_t h = fnv(2166136261u, g->n, 4), m;

	for (m = 0; m < g->n && m < XS_GROUP_MAX; m++) {
		h = fnv(h, g->nh[m].if_id, 4);
		h = fnv(h, g->nh[m].weight, 2);
		h = fnv(h, g->nh[m].dscp, 8);
		h = fnv(h, g->nh[m].flags, 2);
	}
	return h ? h : 1;
}

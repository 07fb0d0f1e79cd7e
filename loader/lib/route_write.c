// SPDX-License-Identifier: GPL-2.0
/*
 * One plain route written or removed with its tunnel slot kept right: the
 * path `route add` / `route del` take and the daemon's IKE routes too, so
 * that slot references, group frees and cached decisions follow one rule.
 */
#include <errno.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common.h"
#include "groups.h"
#include "state.h"
#include "xfrm_steer.skel.h"

int xs_route_map_key(const struct xs_state *st, const struct apply_route_key *k,
		     struct route_key_any *mk)
{
	memset(mk, 0, sizeof(*mk));
	if (k->family == AF_INET) {
		mk->v4.prefixlen = 32 + k->plen;
		mk->v4.tenant = k->tenant;
		memcpy(&mk->v4.addr, k->addr, 4);
		return bpf_map__fd(st->skel->maps.routes_v4);
	}
	mk->v6.prefixlen = 32 + k->plen;
	mk->v6.tenant = k->tenant;
	memcpy(mk->v6.addr, k->addr, 16);
	return bpf_map__fd(st->skel->maps.routes_v6);
}

bool xs_route_exact(int fd, const struct route_key_any *key, struct route_value *old)
{
	/* An LPM lookup answers with the longest route covering the key, a
	 * shorter one when the key is new. An insert that must not replace
	 * tells: it fails on the key itself, and when it succeeds it carried
	 * the covering route's value, which changes no answer, and is taken
	 * back. */
	if (bpf_map_lookup_elem(fd, key, old))
		return false;
	if (!bpf_map_update_elem(fd, key, old, BPF_NOEXIST)) {
		bpf_map_delete_elem(fd, key);
		return false;
	}
	return errno == EEXIST;
}

int xs_route_put(struct xs_ctx *ctx, struct xs_state *st, const struct apply_route_key *k,
		 uint32_t if_id)
{
	struct route_value val = { 0 }, old;
	struct route_key_any key;
	bool replaced, created;
	int err, fd;

	fd = xs_route_map_key(st, k, &key);
	replaced = xs_route_exact(fd, &key, &old);
	/* Only a route moved to another if_id may leave a slot unused: count
	 * the references (before the change) for that case alone, so that
	 * adding a new prefix never scans the tables. Counts a batch already
	 * holds are kept up to date either way. Without them (no memory) the
	 * old slot stays. */
	if (replaced && (old.if_id != if_id || !old.tunnel_idx))
		xs_tunnel_refs_load(st);
	err = xs_tunnel_ensure(ctx, st, if_id, k->tenant, &val.tunnel_idx, &created);
	if (err)
		return err;
	val.if_id = if_id;
	/* One update replaces an existing route in place: no window in which
	 * the prefix has no route. */
	if (bpf_map_update_elem(fd, &key, &val, BPF_ANY)) {
		err = -errno;
		if (created)
			xs_tunnel_remove(st, if_id);
		if (err == -ENOSPC || err == -E2BIG)
			return p_err(ctx, err,
				     "route table of device \"%s\" is full (%u routes per family); detach and attach again with \"routes N\" to raise it",
				     st->ifname, st->meta->max_routes);
		{
			struct xs_prefix p = { .family = (int)k->family, .plen = (uint8_t)k->plen };
			char buf[64];

			memcpy(p.addr, k->addr, 16);
			return p_err(ctx, err, "cannot add route %s: %s",
				     format_prefix(&p, buf, sizeof(buf)), strerror(-err));
		}
	}
	if (st->slot_refs && (!replaced || old.if_id != val.if_id)) {
		int e = xs_tunnel_ref(st, val.if_id, val.tunnel_idx, 1);

		if (!e && replaced)
			e = old.tunnel_idx ? xs_tunnel_ref(st, old.if_id, old.tunnel_idx, -1) :
					     xs_group_ref(st, old.if_id, -1);
		st->refs_kept = !e;
	} else {
		st->refs_kept = st->slot_refs != NULL; /* same if_id: counts unchanged */
	}
	if (replaced && !old.tunnel_idx)
		xs_group_free(st, old.if_id);
	xs_route_changed(st, (int)k->family, k->tenant, k->addr, k->plen);
	return 0;
}

/* A route to a group: a slot for each member (as for a plain route), a new
 * group index written in full, then the route moved to it in one update,
 * then what the route had before (a slot's reference, a group) let go.
 * Anything that fails takes back what this call made: nothing is half
 * applied. */
int xs_route_put_group(struct xs_ctx *ctx, struct xs_state *st, const struct apply_route_key *k,
		       const struct route_group *want)
{
	struct route_group g = *want;
	struct route_value val = { 0 }, old;
	bool created[XS_GROUP_MAX] = { false };
	struct route_key_any key;
	struct xs_prefix p = { .family = (int)k->family, .plen = (uint8_t)k->plen };
	uint32_t i, gid = 0;
	bool replaced;
	char buf[64];
	int err = 0, fd;

	memcpy(p.addr, k->addr, 16);
	if (!g.n || g.n > XS_GROUP_MAX)
		return p_err(ctx, -EINVAL, "route %s: a group has 1 to %d members",
			     format_prefix(&p, buf, sizeof(buf)), XS_GROUP_MAX);
	g.tenant = k->tenant;
	fd = xs_route_map_key(st, k, &key);
	replaced = xs_route_exact(fd, &key, &old);
	if (replaced)
		xs_tunnel_refs_load(st);
	for (i = 0; i < g.n; i++) {
		err = xs_tunnel_ensure(ctx, st, g.nh[i].if_id, k->tenant, &g.nh[i].tunnel_idx,
				       &created[i]);
		if (err)
			goto undo;
	}
	err = xs_group_create(st, &g, &gid);
	if (err) {
		if (err == -ENOSPC)
			p_err(ctx, err,
			      "group table of device \"%s\" is full (%u groups); detach and attach again with a larger \"tunnels N\"",
			      st->ifname, bpf_map__max_entries(st->skel->maps.route_groups) - 1);
		else
			p_err(ctx, err, "cannot write the group: %s", strerror(-err));
		goto undo;
	}
	val.if_id = gid;
	val.tunnel_idx = 0;
	if (bpf_map_update_elem(fd, &key, &val, BPF_ANY)) {
		err = -errno;
		xs_group_free(st, gid);
		if (err == -ENOSPC || err == -E2BIG)
			p_err(ctx, err,
			      "route table of device \"%s\" is full (%u routes per family); detach and attach again with \"routes N\" to raise it",
			      st->ifname, st->meta->max_routes);
		else
			p_err(ctx, err, "cannot add route %s: %s",
			      format_prefix(&p, buf, sizeof(buf)), strerror(-err));
		goto undo;
	}
	if (st->slot_refs) {
		int e = 0;

		for (i = 0; i < g.n && !e; i++)
			e = xs_tunnel_ref(st, g.nh[i].if_id, g.nh[i].tunnel_idx, 1);
		if (!e && replaced)
			e = old.tunnel_idx ? xs_tunnel_ref(st, old.if_id, old.tunnel_idx, -1) :
					     xs_group_ref(st, old.if_id, -1);
		st->refs_kept = !e;
	}
	if (replaced && !old.tunnel_idx)
		xs_group_free(st, old.if_id);
	xs_route_changed(st, (int)k->family, k->tenant, k->addr, k->plen);
	return 0;
undo:
	while (i-- > 0)
		if (created[i])
			xs_tunnel_remove(st, g.nh[i].if_id);
	return err;
}

int xs_route_remove(struct xs_state *st, const struct apply_route_key *k)
{
	struct route_key_any key;
	struct route_value old;
	bool had;
	int fd;

	fd = xs_route_map_key(st, k, &key);
	had = xs_route_exact(fd, &key, &old);
	xs_tunnel_refs_load(st);
	if (bpf_map_delete_elem(fd, &key))
		return -errno;
	/* The route is gone whatever follows; a slot that cannot be freed
	 * now is found again by the next count. */
	if (had && !old.tunnel_idx) {
		st->refs_kept = !xs_group_ref(st, old.if_id, -1);
		xs_group_free(st, old.if_id);
	} else if (had) {
		st->refs_kept = !xs_tunnel_ref(st, old.if_id, old.tunnel_idx, -1);
	}
	xs_route_changed(st, (int)k->family, k->tenant, k->addr, k->plen);
	return 0;
}

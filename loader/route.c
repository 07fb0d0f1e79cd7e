// SPDX-License-Identifier: GPL-2.0
/* xfrm-steer route: (tenant, destination prefix) -> if_id. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <net/if.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "iifbind.h"
#include "parse.h"
#include "state.h"
#include "tunnel.h"
#include "groups.h"
#include "ike.h"
#include "plan.h"
#include "xfrm_steer.skel.h"

static int route_help(struct xs_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	fprintf(xs_help_out(ctx),
		"Usage: xfrm-steer route add PREFIX if_id ID [ tenant KEY ] dev NAME\n"
		"       xfrm-steer route add PREFIX NH [ NH ... ] [ tenant KEY ] dev NAME\n"
		"       xfrm-steer route nexthop { down | up | auto } if_id ID dev NAME\n"
		"       xfrm-steer route del PREFIX [ tenant KEY ] dev NAME\n"
		"       xfrm-steer route { show | list } [ dev NAME ]\n"
		"where  PREFIX := { IPV4ADDR[/LEN] | IPV6ADDR[/LEN] }\n"
		"       ID     := 1..4294967295, decimal or 0x-hex\n"
		"       NH     := nexthop if_id ID [ weight 1..65535 ] [ dscp LIST ] [ backup ]\n"
		"       LIST   := CLASS[,CLASS...], CLASS := { 0..63 | be | ef | csN | afXY }\n"
		"       KEY    := tenant key: with \"tenant-key mark MASK\" a mark value\n"
		"                 inside MASK, with \"tenant-key iif\" an interface name\n"
		"                 (route add binds it); without a tenant key, 0 (the default)\n");
	return 0;
}

int parse_route_args(struct xs_ctx *ctx, int argc, char **argv, bool add,
		     struct route_args *a)
{
	int err;

	memset(a, 0, sizeof(*a));
	if (argc < 1)
		return p_err(ctx, -EINVAL, "route %s: missing PREFIX", add ? "add" : "del");
	a->prefix_str = argv[0];
	err = parse_prefix(argv[0], &a->prefix, false);
	if (err == -ERANGE)
		return p_err(ctx, err, "prefix \"%s\" has host bits set beyond its length",
			     argv[0]);
	if (err)
		return p_err(ctx, err, "invalid prefix \"%s\"", argv[0]);
	NEXT_ARG();
	while (argc > 0) {
		if (add && !strcmp(argv[0], "nexthop")) {
			struct xs_nexthop *nh;

			if (a->n_nh == XS_GROUP_MAX)
				return p_err(ctx, -E2BIG, "route add: more than %u nexthops",
					     XS_GROUP_MAX);
			nh = &a->nh[a->n_nh++];
			nh->weight = 1;
			NEXT_ARG_VALUE(ctx);
			if (strcmp(argv[0], "if_id"))
				return p_err(ctx, -EINVAL,
					     "route add: \"nexthop\" wants \"if_id ID\", not \"%s\"",
					     argv[0]);
			NEXT_ARG_VALUE(ctx);
			if (parse_u32(argv[0], &nh->if_id) || nh->if_id == 0)
				return p_err(ctx, -EINVAL,
					     "invalid if_id \"%s\" (1..4294967295)", argv[0]);
			for (uint32_t i = 0; i + 1 < a->n_nh; i++)
				if (a->nh[i].if_id == nh->if_id)
					return p_err(ctx, -EINVAL,
						     "nexthop if_id %s given twice", argv[0]);
			while (argc > 1) {
				uint64_t dscp;
				uint32_t w;

				if (!strcmp(argv[1], "weight")) {
					NEXT_ARG();
					NEXT_ARG_VALUE(ctx);
					if (parse_u32(argv[0], &w) || w < 1 || w > 65535)
						return p_err(ctx, -EINVAL,
							     "invalid weight \"%s\" (1..65535)",
							     argv[0]);
					nh->weight = (uint16_t)w;
				} else if (!strcmp(argv[1], "dscp")) {
					NEXT_ARG();
					NEXT_ARG_VALUE(ctx);
					if (parse_dscp_list(argv[0], &dscp))
						return p_err(ctx, -EINVAL,
							     "invalid dscp list \"%s\" (0..63, be, ef, csN, afXY, comma-separated)",
							     argv[0]);
					nh->dscp = dscp;
				} else if (!strcmp(argv[1], "backup")) {
					NEXT_ARG();
					nh->flags |= XS_NH_BACKUP;
				} else {
					break;
				}
			}
		} else if (add && !strcmp(argv[0], "if_id")) {
			NEXT_ARG_VALUE(ctx);
			if (parse_u32(argv[0], &a->if_id) || a->if_id == 0)
				return p_err(ctx, -EINVAL,
					     "invalid if_id \"%s\" (1..4294967295)", argv[0]);
			a->have_if_id = true;
		} else if (matches(argv[0], "tenant")) {
			NEXT_ARG_VALUE(ctx);
			a->tenant_str = argv[0];
		} else if (matches(argv[0], "dev")) {
			NEXT_ARG_VALUE(ctx);
			a->dev = argv[0];
		} else {
			return p_err(ctx, -EINVAL, "route %s: unknown argument \"%s\"",
				     add ? "add" : "del", argv[0]);
		}
		NEXT_ARG();
	}
	if (add && a->have_if_id && a->n_nh)
		return p_err(ctx, -EINVAL, "route add: \"if_id\" or \"nexthop\", not both");
	if (add && !a->have_if_id && !a->n_nh)
		return p_err(ctx, -EINVAL, "route add: missing \"if_id ID\" or \"nexthop if_id ID\"");
	if (add && a->n_nh) {
		uint32_t i, prim = 0;

		for (i = 0; i < a->n_nh; i++)
			prim += !(a->nh[i].flags & XS_NH_BACKUP);
		if (!prim)
			return p_err(ctx, -EINVAL,
				     "route add: every nexthop is a backup; at least one must not be");
	}
	if (!a->dev)
		return p_err(ctx, -EINVAL, "route %s: missing \"dev NAME\"", add ? "add" : "del");
	return 0;
}

static int dscp_class(const char *w, size_t n, uint32_t *c)
{
	char buf[8];

	if (!n || n >= sizeof(buf))
		return -1;
	memcpy(buf, w, n);
	buf[n] = 0;
	if (!parse_u32(buf, c))
		return *c > 63 ? -1 : 0;
	if (!strcmp(buf, "be") || !strcmp(buf, "default")) {
		*c = 0;
		return 0;
	}
	if (!strcmp(buf, "ef")) {
		*c = 46;
		return 0;
	}
	if (n == 3 && !strncmp(buf, "cs", 2) && buf[2] >= '0' && buf[2] <= '7') {
		*c = (uint32_t)(buf[2] - '0') << 3;
		return 0;
	}
	if (n == 4 && !strncmp(buf, "af", 2) && buf[2] >= '1' && buf[2] <= '4' &&
	    buf[3] >= '1' && buf[3] <= '3') {
		*c = ((uint32_t)(buf[2] - '0') << 3) | ((uint32_t)(buf[3] - '0') << 1);
		return 0;
	}
	return -1;
}

int parse_dscp_list(const char *s, uint64_t *mask)
{
	uint32_t c;

	*mask = 0;
	for (;;) {
		const char *e = strchr(s, ',');
		size_t n = e ? (size_t)(e - s) : strlen(s);

		if (dscp_class(s, n, &c))
			return -EINVAL;
		*mask |= 1ull << c;
		if (!e)
			return 0;
		s = e + 1;
	}
}

int parse_nexthop_args(struct xs_ctx *ctx, int argc, char **argv, struct nexthop_args *a)
{
	bool have = false;

	memset(a, 0, sizeof(*a));
	if (argc < 1)
		return p_err(ctx, -EINVAL, "route nexthop: missing \"down\", \"up\" or \"auto\"");
	if (!strcmp(argv[0], "down")) {
		a->set = XS_HEALTH_ADMIN_DOWN;
		a->clear = XS_HEALTH_ADMIN_UP;
	} else if (!strcmp(argv[0], "up")) {
		a->set = XS_HEALTH_ADMIN_UP;
		a->clear = XS_HEALTH_ADMIN_DOWN;
	} else if (!strcmp(argv[0], "auto")) {
		a->clear = XS_HEALTH_ADMIN_UP | XS_HEALTH_ADMIN_DOWN;
	} else {
		return p_err(ctx, -EINVAL,
			     "route nexthop: unknown state \"%s\" (down, up or auto)", argv[0]);
	}
	NEXT_ARG();
	while (argc > 0) {
		if (!strcmp(argv[0], "if_id")) {
			NEXT_ARG_VALUE(ctx);
			if (parse_u32(argv[0], &a->if_id) || a->if_id == 0)
				return p_err(ctx, -EINVAL,
					     "invalid if_id \"%s\" (1..4294967295)", argv[0]);
			have = true;
		} else if (matches(argv[0], "dev")) {
			NEXT_ARG_VALUE(ctx);
			a->dev = argv[0];
		} else {
			return p_err(ctx, -EINVAL, "route nexthop: unknown argument \"%s\"",
				     argv[0]);
		}
		NEXT_ARG();
	}
	if (!have)
		return p_err(ctx, -EINVAL, "route nexthop: missing \"if_id ID\"");
	if (!a->dev)
		return p_err(ctx, -EINVAL, "route nexthop: missing \"dev NAME\"");
	return 0;
}

/* The tenant key as the datapath derives it, checked against the mode the
 * device was attached with, so a key that can never match is refused. */
static int resolve_tenant(struct xs_ctx *ctx, struct xs_state *st, const char *s, bool add,
			  uint32_t *tenant)
{
	char why[320];
	int err;

	const struct meta_value *m = st->meta;

	*tenant = 0;
	if (!s)
		return 0;
	switch (m->tenant_mode) {
	case XS_TENANT_NONE:
		if (parse_u32(s, tenant) || *tenant != 0)
			return p_err(ctx, -EINVAL,
				     "tenant \"%s\": device \"%s\" was attached with tenant-key none, so the only tenant is 0",
				     s, st->ifname);
		return 0;
	case XS_TENANT_MARK:
		if (parse_u32(s, tenant))
			return p_err(ctx, -EINVAL, "invalid tenant \"%s\" (a mark value)", s);
		if (*tenant & ~m->mark_mask)
			return p_err(ctx, -EINVAL,
				     "tenant %s has bits outside the tenant mark mask 0x%x of device \"%s\"",
				     s, m->mark_mask, st->ifname);
		return 0;
	case XS_TENANT_IIF:
		/* A route add binds the interface (iifbind.h). */
		err = xs_iif_resolve(st, s, add ? XS_IIF_BIND : XS_IIF_LOOKUP, tenant, why,
				     sizeof(why));
		return err ? p_err(ctx, err, "%s", why) : 0;
	}
	return p_err(ctx, -EPROTO, "device \"%s\": unknown tenant mode %u", st->ifname,
		     m->tenant_mode);
}

static int route_map_key(const struct xs_state *st, const struct xs_prefix *p,
			 uint32_t tenant, struct route_key_any *k)
{
	memset(k, 0, sizeof(*k));
	if (p->family == AF_INET) {
		k->v4.prefixlen = 32 + p->plen;
		k->v4.tenant = tenant;
		memcpy(&k->v4.addr, p->addr, 4);
		return bpf_map__fd(st->skel->maps.routes_v4);
	}
	k->v6.prefixlen = 32 + p->plen;
	k->v6.tenant = tenant;
	memcpy(k->v6.addr, p->addr, 16);
	return bpf_map__fd(st->skel->maps.routes_v6);
}

/* The engine's form of a route's key. */
static void route_rkey(struct apply_route_key *k, const struct xs_prefix *p,
		       const struct route_key_any *mk)
{
	memset(k, 0, sizeof(*k));
	k->family = (uint32_t)p->family;
	k->tenant = p->family == AF_INET ? mk->v4.tenant : mk->v6.tenant;
	k->plen = p->plen;
	memcpy(k->addr, p->addr, 16);
}

/* The common start of add and del: parse, lock the device, and build the
 * map key. On success the caller owns st and must close it. */
static int route_begin(struct xs_ctx *ctx, int argc, char **argv, bool add,
		       struct route_args *a, struct xs_state *st, uint32_t *tenant,
		       struct route_key_any *key, int *map_fd)
{
	int err;

	err = parse_route_args(ctx, argc, argv, add, a);
	if (err)
		return err;
	err = xs_state_open(ctx, a->dev, XS_LOCK_EXCLUSIVE, st);
	if (err)
		return err;
	err = resolve_tenant(ctx, st, a->tenant_str, add, tenant);
	if (err) {
		xs_state_close(st);
		return err;
	}
	*map_fd = route_map_key(st, &a->prefix, *tenant, key);
	return 0;
}

/* An if_id in a range the daemon manages is the IKE daemon's, and so is
 * the route the daemon made for it (lib/plan.c). */
static int route_check_ike(struct xs_ctx *ctx, struct xs_state *st, const struct route_args *a,
			   const struct route_key_any *key, int fd)
{
	struct ike_range_value v[XS_IKE_RANGES_MAX];
	struct apply_route_value own;
	struct route_value old;
	char buf[64];
	uint32_t i;
	int ri;

	xs_ike_ranges_get(st, v);
	for (i = 0; i < (a->n_nh ? a->n_nh : 1); i++) {
		uint32_t id = a->n_nh ? a->nh[i].if_id : a->if_id;

		ri = xs_plan_ike_managed(v, XS_IKE_RANGES_MAX, id);
		if (ri >= 0)
			return p_err(ctx, -EEXIST,
				     "if_id %u is in the range %u-%u the daemon manages for the IKE daemon; its routes follow the kernel's CHILD_SAs, choose an if_id outside it",
				     id, v[ri].lo, v[ri].hi);
	}
	if (xs_route_exact(fd, key, &old)) {
		struct apply_route_key rk;
		struct route_group g;
		bool ike;

		route_rkey(&rk, &a->prefix, key);
		ike = !bpf_map_lookup_elem(bpf_map__fd(st->skel->maps.ike_routes), &rk, &own);
		if (ike && old.tunnel_idx && own.if_id == old.if_id)
			return p_err(ctx, -EEXIST,
				     "route %s leads to if_id %u for the IKE daemon's CHILD_SA and follows it; choose another prefix",
				     format_prefix(&a->prefix, buf, sizeof(buf)), old.if_id);
		/* Its group while a reauthentication overlaps (lib/ike.c). */
		if (ike && !old.tunnel_idx && !own.if_id && !xs_group_read(st, old.if_id, &g) &&
		    g.n && own.pad == xs_group_digest(&g))
			return p_err(ctx, -EEXIST,
				     "route %s leads to the IKE daemon's CHILD_SAs (a group while a reauthentication overlaps) and follows them; choose another prefix",
				     format_prefix(&a->prefix, buf, sizeof(buf)));
	}
	return 0;
}

static int route_add(struct xs_ctx *ctx, int argc, char **argv)
{
	struct apply_route_key k;
	struct route_key_any key;
	struct route_args a;
	struct xs_state st;
	uint32_t tenant;
	int err, fd;

	err = route_begin(ctx, argc, argv, true, &a, &st, &tenant, &key, &fd);
	if (err)
		return err;
	err = route_check_ike(ctx, &st, &a, &key, fd);
	if (err)
		goto out;
	route_rkey(&k, &a.prefix, &key);
	if (a.n_nh) {
		struct route_group g = { .n = a.n_nh };

		memcpy(g.nh, a.nh, a.n_nh * sizeof(g.nh[0]));
		err = xs_route_put_group(ctx, &st, &k, &g);
		goto out;
	}
	err = xs_route_put(ctx, &st, &k, a.if_id);
out:
	xs_state_close(&st);
	return err;
}

static int route_del(struct xs_ctx *ctx, int argc, char **argv)
{
	struct apply_route_key k;
	struct route_key_any key;
	struct route_args a;
	struct xs_state st;
	uint32_t tenant;
	char buf[64];
	int err, fd;

	err = route_begin(ctx, argc, argv, false, &a, &st, &tenant, &key, &fd);
	if (err)
		return err;
	(void)fd;
	route_rkey(&k, &a.prefix, &key);
	err = xs_route_remove(&st, &k);
	if (err == -ENOENT)
		p_err(ctx, err, "no route %s tenant %s on device \"%s\"",
		      format_prefix(&a.prefix, buf, sizeof(buf)), a.tenant_str ? a.tenant_str : "0",
		      st.ifname);
	else if (err)
		p_err(ctx, err, "cannot delete route %s: %s",
		      format_prefix(&a.prefix, buf, sizeof(buf)), strerror(-err));
	xs_state_close(&st);
	return err;
}

struct show_ctx {
	struct xs_ctx *ctx;
	json_object *arr;
	struct xs_owners ow;
};

/* JSON keeps the tenant a number; the text view shows it the way it was
 * given: a hex mark value, or an interface name. */
/* The tenant as everything else spells it (xs_tenant_str()), in JSON too. */
static json_object *tenant_value(const struct show_ctx *sc, const struct xs_state *st,
				 uint32_t tenant)
{
	char buf[IF_NAMESIZE + 16];

	(void)sc;
	return json_object_new_string(xs_tenant_str(st, tenant, buf, sizeof(buf)));
}

static void dscp_text(uint64_t mask, char *buf, size_t len)
{
	size_t at = 0;
	int c;

	buf[0] = 0;
	for (c = 0; c < 64 && at + 4 < len; c++)
		if (mask & (1ull << c))
			at += (size_t)snprintf(buf + at, len - at, "%s%d", at ? "," : "", c);
}

/* A group's members: JSON an array of objects, text one string in
 * iproute2's words ("nexthop if_id 30 weight 3 dscp 46 backup down"). */
static void add_nexthops(const struct show_ctx *sc, const struct xs_state *cst,
			 json_object *o, uint32_t gid)
{
	struct xs_state *st = (struct xs_state *)cst;
	json_object *arr = json_object_new_array();
	char text[512], d[200];
	struct route_group g;
	size_t at = 0;
	uint32_t m;

	text[0] = 0;
	if (xs_group_read(st, gid, &g))
		g.n = 0;
	for (m = 0; m < g.n && m < XS_GROUP_MAX; m++) {
		const struct xs_nexthop *nh = &g.nh[m];
		uint32_t h = xs_health_get(st, nh->tunnel_idx);
		const char *admin = h & XS_HEALTH_ADMIN_DOWN ? "down" :
				    h & XS_HEALTH_ADMIN_UP   ? "up" :
							       "auto";
		bool up = !(h & XS_HEALTH_DOWN);

		dscp_text(nh->dscp, d, sizeof(d));
		if (sc->ctx->json) {
			json_object *n = json_object_new_object(), *da = json_object_new_array();
			int c;

			json_object_object_add(n, "if_id", json_object_new_uint64(nh->if_id));
			json_object_object_add(n, "weight", json_object_new_uint64(nh->weight));
			for (c = 0; c < 64; c++)
				if (nh->dscp & (1ull << c))
					json_object_array_add(da, json_object_new_int(c));
			json_object_object_add(n, "dscp", da);
			json_object_object_add(n, "backup",
					       json_object_new_boolean(nh->flags & XS_NH_BACKUP));
			json_object_object_add(n, "up", json_object_new_boolean(up));
			json_object_object_add(n, "admin", json_object_new_string(admin));
			json_object_object_add(n, "sa_down", json_object_new_boolean(
								      h & XS_HEALTH_AUTO_DOWN));
			json_object_array_add(arr, n);
		} else if (at < sizeof(text)) {
			at += (size_t)snprintf(text + at, sizeof(text) - at,
					       "%snexthop if_id %u weight %u%s%s%s%s", at ? " " : "",
					       nh->if_id, nh->weight, d[0] ? " dscp " : "", d,
					       nh->flags & XS_NH_BACKUP ? " backup" : "",
					       up ? "" : " down");
		}
	}
	if (sc->ctx->json) {
		json_object_object_add(o, "nexthops", arr);
	} else {
		json_object_put(arr);
		json_object_object_add(o, "nexthops", json_object_new_string(text));
	}
}

static void add_route_record(const struct show_ctx *sc, const struct xs_state *st,
			     uint32_t tenant, const struct xs_prefix *p,
			     const struct route_value *v)
{
	json_object *o = json_object_new_object();
	struct apply_route_key k = { .family = (uint32_t)p->family, .tenant = tenant,
				     .plen = p->plen };
	const char *owner, *tunnel;
	char buf[64];

	memcpy(k.addr, p->addr, 16);
	if (v->tunnel_idx) {
		owner = xs_route_owner(&sc->ow, &k, v->if_id, &tunnel);
	} else {
		struct route_group g;

		if (xs_group_read((struct xs_state *)st, v->if_id, &g))
			g.n = 0;
		owner = xs_group_owner(&sc->ow, &k, &g);
		tunnel = NULL;
	}

	json_object_object_add(o, "dev", json_object_new_string(st->ifname));
	json_object_object_add(o, "tenant", tenant_value(sc, st, tenant));
	json_object_object_add(o, "prefix",
			       json_object_new_string(format_prefix(p, buf, sizeof(buf))));
	if (v->tunnel_idx) {
		json_object_object_add(o, "if_id", json_object_new_uint64(v->if_id));
		/* The table's column, empty for a route to one if_id. */
		json_object_object_add(o, "nexthops", NULL);
	} else {
		json_object_object_add(o, "group", json_object_new_uint64(v->if_id));
		add_nexthops(sc, st, o, v->if_id);
	}
	if (sc->ctx->json) {
		json_object_object_add(o, "owner", json_object_new_string(owner));
		if (tunnel)
			json_object_object_add(o, "tunnel", json_object_new_string(tunnel));
	} else {
		snprintf(buf, sizeof(buf), "%s%s%s", owner, tunnel ? " " : "", tunnel ? tunnel : "");
		json_object_object_add(o, "owner", json_object_new_string(buf));
	}
	json_object_array_add(sc->arr, o);
}

static int dump_family(struct xs_state *st, int family, const struct show_ctx *sc)
{
	int fd = family == AF_INET ? bpf_map__fd(st->skel->maps.routes_v4) :
				     bpf_map__fd(st->skel->maps.routes_v6);
	struct route_key_any key, next;
	struct route_value val;
	struct xs_prefix p;
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &val))
			continue; /* deleted meanwhile */
		memset(&p, 0, sizeof(p));
		p.family = family;
		if (family == AF_INET) {
			p.plen = (uint8_t)(key.v4.prefixlen - 32);
			memcpy(p.addr, &key.v4.addr, 4);
			add_route_record(sc, st, key.v4.tenant, &p, &val);
		} else {
			p.plen = (uint8_t)(key.v6.prefixlen - 32);
			memcpy(p.addr, key.v6.addr, 16);
			add_route_record(sc, st, key.v6.tenant, &p, &val);
		}
	}
	return errno == ENOENT ? 0 : -errno;
}

static int show_dev(struct xs_ctx *ctx, const char *ifname, void *data)
{
	struct show_ctx sc = { ctx, data, { 0 } };
	struct xs_state st;
	int err;

	err = xs_state_open(ctx, ifname, XS_LOCK_SHARED, &st);
	if (err)
		return err;
	err = xs_owners_read(&st, &sc.ow);
	if (!err)
		err = dump_family(&st, AF_INET, &sc);
	if (!err)
		err = dump_family(&st, AF_INET6, &sc);
	if (err)
		p_err(ctx, err, "cannot read routes of \"%s\": %s", ifname, strerror(-err));
	xs_owners_free(&sc.ow);
	xs_state_close(&st);
	return err;
}

int parse_route_show_args(struct xs_ctx *ctx, int argc, char **argv, const char **dev)
{
	*dev = NULL;
	while (argc > 0) {
		if (matches(argv[0], "dev")) {
			NEXT_ARG_VALUE(ctx);
			*dev = argv[0];
		} else {
			return p_err(ctx, -EINVAL, "route show: unknown argument \"%s\"", argv[0]);
		}
		NEXT_ARG();
	}
	return 0;
}

static int route_show(struct xs_ctx *ctx, int argc, char **argv)
{
	static const struct xs_column cols[] = {
		{ "dev", "dev", false, false },
		{ "tenant", "tenant", true, false },
		{ "prefix", "prefix", false, false },
		{ "if_id", "if_id", true, false },
		{ "owner", "owner", false, false },
		{ "nexthops", "nexthops", false, false },
	};
	const char *dev;
	json_object *arr;
	int err;

	err = parse_route_show_args(ctx, argc, argv, &dev);
	if (err)
		return err;
	arr = json_object_new_array();
	err = dev ? show_dev(ctx, dev, arr) : xs_for_each_attached(ctx, show_dev, arr);
	if (!err)
		show_records(ctx, arr, cols, sizeof(cols) / sizeof(cols[0]));
	json_object_put(arr);
	/* Routes of a tenant that is bound to no interface are listed, and
	 * each such tenant gets a warning line: not an answer to stand by. */
	if (!err && xs_iif_check_dev(ctx, dev) > 0)
		err = -ESTALE;
	return err;
}

/* route nexthop { down | up | auto } if_id ID dev NAME: maintenance. down
 * and up win over the daemon's view of the SAs until auto gives it back. */
static int route_nexthop(struct xs_ctx *ctx, int argc, char **argv)
{
	struct nexthop_args a;
	struct tunnel_value tv;
	struct xs_state st;
	int err;

	err = parse_nexthop_args(ctx, argc, argv, &a);
	if (err)
		return err;
	err = xs_state_open(ctx, a.dev, XS_LOCK_EXCLUSIVE, &st);
	if (err)
		return err;
	if (bpf_map_lookup_elem(bpf_map__fd(st.skel->maps.tunnel_by_ifid), &a.if_id, &tv)) {
		err = p_err(ctx, -ENOENT, "no route leads to if_id %u on device \"%s\"", a.if_id,
			    st.ifname);
		goto out;
	}
	err = xs_health_update(&st, tv.tunnel_idx, a.set, a.clear, NULL);
	if (err)
		p_err(ctx, err, "cannot set the health of if_id %u: %s", a.if_id, strerror(-err));
out:
	xs_state_close(&st);
	return err;
}

int do_route(struct xs_ctx *ctx, int argc, char **argv)
{
	static const struct xs_cmd cmds[] = {
		{ "show", route_show }, { "list", route_show }, { "add", route_add },
		{ "delete", route_del }, { "nexthop", route_nexthop }, { "help", route_help },
		{ NULL, NULL },
	};

	return xs_cmd_select(ctx, cmds, argc, argv, route_help);
}

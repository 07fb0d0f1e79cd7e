// SPDX-License-Identifier: GPL-2.0
/*
 * Routes of IKE-managed tunnels from the kernel's policies and SAs (ike.h).
 *
 * The rule: for every outbound policy whose if_id is in a managed range and
 * that has a usable outbound SA with that if_id, the route (the range's
 * tenant, the policy's destination selector) leads to that if_id. Nothing
 * else is remembered: an IKE rekey, a crash of the IKE daemon or of ours,
 * a detach and attach all end in the same routes once the kernel says what
 * it has. Two CHILD_SAs of one peer and selector (make-before-break
 * reauthentication) make the route a group while both last: the older
 * if_id primary, the newest a backup (overlap_group()). What cannot be
 * routed is refused and reported, never the last
 * writer's: a prefix two if_ids want stays with its holder (the if_id the
 * route leads to now, else the older policy, else the lower if_id); an
 * if_id a named tunnel owns, a prefix outside the range's allow list or one
 * that another owner routes (apply, route add, a group) is left alone.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "device.h"
#include "ike.h"
#include "model.h"
#include "xfrm_steer.skel.h"

int xs_ike_range_of(const struct xs_ike_range *r, size_t n, uint32_t if_id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (if_id >= r[i].lo && if_id <= r[i].hi)
			return (int)i;
	return -1;
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int named_cmp(const void *a, const void *b)
{
	return u32_cmp(&((const struct xs_ike_named *)a)->if_id,
		       &((const struct xs_ike_named *)b)->if_id);
}

static int key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct apply_route_key));
}

static bool prefix_in(const struct xs_prefix *p, const struct xs_prefix *outer)
{
	unsigned int i, full, rest;

	if (p->family != outer->family || p->plen < outer->plen)
		return false;
	full = outer->plen / 8;
	rest = outer->plen % 8;
	for (i = 0; i < full; i++)
		if (p->addr[i] != outer->addr[i])
			return false;
	return !rest || !((p->addr[full] ^ outer->addr[full]) & (0xff00 >> rest));
}

static const char *key_text(const struct apply_route_key *k, char *buf, size_t len)
{
	struct xs_prefix p = { .family = (int)k->family, .plen = (uint8_t)k->plen };
	char a[64];

	memcpy(p.addr, k->addr, 16);
	snprintf(buf, len, "%s tenant %u", format_prefix(&p, a, sizeof(a)), k->tenant);
	return buf;
}

struct cand {
	struct apply_route_key key;
	uint32_t if_id;
	uint64_t add_time;
	int range;
	bool held; /* the route leads to this if_id now */
	const struct xs_policy *pol;
};

static bool prefix_same(const struct xs_prefix *a, const struct xs_prefix *b)
{
	return a->family == b->family && a->plen == b->plen && !memcmp(a->addr, b->addr, 16);
}

/* Two candidates of one key with the very same selector through the same
 * tunnel endpoint: one CHILD_SA replacing the other (a reauthentication,
 * make-before-break), not two peers nor a split of the prefix by port. */
static bool same_peer(const struct cand *a, const struct cand *b)
{
	const struct xs_policy *x = a->pol, *y = b->pol;

	return x->ntmpl && y->ntmpl && prefix_same(&x->tmpl[0].dst, &y->tmpl[0].dst) &&
	       prefix_same(&x->sel_src, &y->sel_src) && x->sel_proto == y->sel_proto &&
	       x->sel_sport == y->sel_sport && x->sel_dport == y->sel_dport;
}

static int cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	int c = key_cmp(&x->key, &y->key);

	if (c)
		return c;
	if (x->held != y->held)
		return x->held ? -1 : 1;
	if (x->add_time != y->add_time)
		return x->add_time < y->add_time ? -1 : 1;
	return u32_cmp(&x->if_id, &y->if_id);
}

static int __attribute__((format(printf, 3, 4)))
problem(struct xs_ike_plan *p, int range, const char *fmt, ...)
{
	char **slot, line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	slot = vec_slot(&p->problems, &p->capproblems, p->nproblems, sizeof(*p->problems));
	if (!slot || !(*slot = strdup(line)))
		return -ENOMEM;
	p->nproblems++;
	if (range >= 0)
		p->range_problems[range]++;
	return 0;
}

static int add_op(struct xs_ike_plan *p, uint8_t kind, const struct apply_route_key *k,
		  uint32_t if_id)
{
	struct xs_ike_op *op = vec_slot(&p->ops, &p->capops, p->nops, sizeof(*p->ops));

	if (!op)
		return -ENOMEM;
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	op->key = *k;
	op->if_id = if_id;
	p->nops++;
	return 0;
}

static int add_group_op(struct xs_ike_plan *p, const struct apply_route_key *k,
			const struct route_group *g)
{
	int err = add_op(p, XS_IKE_GROUP, k, 0);

	if (!err)
		p->ops[p->nops - 1].g = *g;
	return err;
}

/* The plain route at k exactly, and the daemon's record of k. */
static const struct xs_route_ent *route_at(const struct xs_ike_have *h,
					   const struct apply_route_key *k)
{
	size_t i;

	for (i = 0; i < h->nroutes; i++)
		if (!key_cmp(&h->routes[i].key, k))
			return &h->routes[i];
	return NULL;
}

static const struct xs_ike_route *rec_at(const struct xs_ike_have *h,
					 const struct apply_route_key *k)
{
	size_t i;

	for (i = 0; i < h->nrecs; i++)
		if (!key_cmp(&h->recs[i].key, k))
			return &h->recs[i];
	return NULL;
}

static bool is_ikes(const struct xs_ike_have *h, const struct xs_route_ent *c)
{
	const struct xs_ike_route *rec = c ? rec_at(h, &c->key) : NULL;

	return rec && rec->if_id == c->val.if_id;
}

/* The route to a group at k exactly. */
static const struct xs_group_ent *group_at(const struct xs_ike_have *h,
					   const struct apply_route_key *k)
{
	size_t i;

	for (i = 0; i < h->ngroups; i++)
		if (!key_cmp(&h->groups[i].key, k))
			return &h->groups[i];
	return NULL;
}

/* A group the daemon made (an overlap) and that is still as it made it:
 * its record names no if_id and the group's digest. Any other group is
 * its owner's (route add ... nexthop, apply). */
static bool is_ikes_group(const struct xs_ike_have *h, const struct xs_group_ent *g)
{
	const struct xs_ike_route *rec = g ? rec_at(h, &g->key) : NULL;

	return rec && !rec->if_id && g->g.n && rec->digest == xs_group_digest(&g->g);
}

static bool group_has_ifid(const struct route_group *g, uint32_t if_id)
{
	uint32_t m;

	for (m = 0; m < g->n && m < XS_GROUP_MAX; m++)
		if (g->nh[m].if_id == if_id)
			return true;
	return false;
}

/* A selector that names protocol or ports is wider as a route: say so. */
static int note_narrow(struct xs_ike_plan *p, const struct cand *c, const struct xs_policy *pol)
{
	char k[96];

	return problem(p, c->range,
		       "ike: %s if_id %u: selector proto %u sport %u dport %u is narrower than a route; the route is the whole prefix, traffic outside the selector finds no policy",
		       key_text(&c->key, k, sizeof(k)), c->if_id, pol->sel_proto, pol->sel_sport,
		       pol->sel_dport);
}

/*
 * An outbound policy with a usable SA whose if_id is in no managed range:
 * not the daemon's to route. An IKE daemon's counter (strongSwan's
 * %unique) that has run past the range lands here, on a configured
 * tunnel's if_id (whose SAs the kernel then shares with it) or on one
 * nothing routes: refused, and said. Left alone: the wildcard policies of
 * a configured tunnel and policies whose if_id some route leads to (routes
 * and SAs set up by hand or by apply).
 */
static int note_outside(const struct xs_ike_have *h, struct xs_ike_plan *p,
			const struct xs_policy *pol)
{
	const struct xs_ike_named *nm, key = { .if_id = pol->if_id };
	char a[64], r[XS_IKE_RANGES_MAX * 24] = "";
	size_t i, o = 0;

	if (xs_pol_is_tunnels(pol, pol->if_id))
		return 0;
	for (i = 0; i < h->nranges && o < sizeof(r); i++)
		o += (size_t)snprintf(r + o, sizeof(r) - o, "%s%u-%u", i ? "," : "",
				      h->ranges[i].lo, h->ranges[i].hi);
	nm = search_n(&key, h->named, h->nnamed, sizeof(*h->named), named_cmp);
	if (nm)
		return problem(p, -1,
			       "ike: %s if_id %u: outside the IKE range %s and the if_id of tunnel \"%s\", not routed; the IKE daemon's if_ids (strongSwan %%unique) have run past the range and its SAs share the tunnel's if_id: widen the range or move the tunnel, then restart the IKE daemon",
			       format_prefix(&pol->sel_dst, a, sizeof(a)), pol->if_id, r, nm->name);
	for (i = 0; i < h->nroutes; i++)
		if (h->routes[i].val.if_id == pol->if_id)
			return 0;
	return problem(p, -1,
		       "ike: %s if_id %u: outside the IKE range %s, not routed; the IKE daemon's if_ids (strongSwan %%unique) have run past the range: widen it (ike if_ids LO-HI)",
		       format_prefix(&pol->sel_dst, a, sizeof(a)), pol->if_id, r);
}

static int build_cands(const struct xs_ike_have *h, struct xs_ike_plan *p, struct cand **out,
		       size_t *nout)
{
	struct cand *v = NULL;
	size_t i, n = 0, cap = 0;
	char k[96];
	int err;

	for (i = 0; i < h->npols; i++) {
		const struct xs_policy *pol = &h->pols[i];
		const struct xs_ike_named *nm, key = { .if_id = pol->if_id };
		const struct xs_route_ent *rt;
		struct cand c = { 0 };
		unsigned int a;

		if (pol->dir != XFRM_POLICY_OUT || pol->action != XFRM_POLICY_ALLOW || !pol->if_id)
			continue;
		c.range = xs_ike_range_of(h->ranges, h->nranges, pol->if_id);
		/* A policy without SA yet (acquire, or an SA gone): no route. */
		if (!search_n(&pol->if_id, h->sa_ifids, h->nsa, sizeof(*h->sa_ifids), u32_cmp))
			continue;
		if (c.range < 0) {
			err = note_outside(h, p, pol);
			if (err)
				goto fail;
			continue;
		}
		rkey_from(&c.key, &pol->sel_dst, h->ranges[c.range].tenant);
		c.if_id = pol->if_id;
		c.add_time = pol->add_time;
		c.pol = pol;
		nm = search_n(&key, h->named, h->nnamed, sizeof(*h->named), named_cmp);
		if (nm) {
			err = problem(p, c.range,
				      "ike: %s if_id %u: the if_id belongs to tunnel \"%s\", not routed; keep the IKE daemon's if_ids (%u-%u) apart from configured tunnels",
				      key_text(&c.key, k, sizeof(k)), c.if_id, nm->name,
				      h->ranges[c.range].lo, h->ranges[c.range].hi);
			if (err)
				goto fail;
			continue;
		}
		for (a = 0; a < h->ranges[c.range].nallow; a++)
			if (prefix_in(&pol->sel_dst, &h->ranges[c.range].allow[a]))
				break;
		if (h->ranges[c.range].nallow && a == h->ranges[c.range].nallow) {
			err = problem(p, c.range,
				      "ike: %s if_id %u: prefix outside the allowed ones, not routed; add it to \"allow\" or narrow the IKE daemon's remote traffic selector",
				      key_text(&c.key, k, sizeof(k)), c.if_id);
			if (err)
				goto fail;
			continue;
		}
		if (pol->sel_proto || pol->sel_sport || pol->sel_dport) {
			err = note_narrow(p, &c, pol);
			if (err)
				goto fail;
		}
		rt = route_at(h, &c.key);
		c.held = rt && rt->val.if_id == c.if_id;
		if (!vec_slot(&v, &cap, n, sizeof(*v))) {
			err = -ENOMEM;
			goto fail;
		}
		v[n++] = c;
	}
	sort_n(v, n, sizeof(*v), cand_cmp);
	*out = v;
	*nout = n;
	return 0;
fail:
	free(v);
	return err;
}

/*
 * The candidates of one key from c[i] on, when all come through the same
 * tunnel endpoint: one peer's CHILD_SAs, the new one of a reauthentication
 * or rekey beside the old one until the old is deleted. The newest policy
 * (the later %unique if_id on a tie) is the one the peer now uses: it goes
 * to c[i], so the route moves at once instead of after the old one's end.
 */
static void newest_of_peer(struct cand *c, size_t n, size_t i)
{
	size_t j, best = i;
	struct cand t;

	for (j = i + 1; j < n && !key_cmp(&c[j].key, &c[i].key); j++) {
		if (!same_peer(&c[j], &c[i]))
			return;
		if (c[j].add_time > c[best].add_time ||
		    (c[j].add_time == c[best].add_time && c[j].if_id > c[best].if_id))
			best = j;
	}
	t = c[i];
	c[i] = c[best];
	c[best] = t;
}

static bool cand_newer(const struct cand *a, const struct cand *b)
{
	return a->add_time != b->add_time ? a->add_time > b->add_time : a->if_id > b->if_id;
}

/*
 * The route of the key at c[i] while CHILD_SAs of its peer overlap: the
 * same-peer candidates of another if_id beside c[i]. A make-before-break
 * reauthentication: the gateway (responder) installs the new CHILD_SA when
 * it answers IKE_AUTH, the peer only when it gets that answer, and keeps
 * the old one until it deletes the old IKE_SA. The old SA is the one both
 * ends have all along: egress stays on it (primary), the new if_id is a
 * backup, taken only when the old one is down, and ingress accepts both
 * (rpf: any member). An overlap older than XS_IKE_OVERLAP_MAX_S is no
 * reauthentication in progress: the newest is primary, the others
 * backups. *g gets the group, n == 0 when there is no overlap (a plain
 * route to c[i]). Members in age order, the newest last; more than
 * XS_GROUP_MAX if_ids keep the newest ones.
 */
static void overlap_group(const struct cand *c, size_t n, size_t i, uint64_t now,
			  struct route_group *g)
{
	bool stale;
	const struct cand *v[XS_GROUP_MAX];
	size_t j, k, nv = 0;

	memset(g, 0, sizeof(*g));
	for (j = i; j < n && !key_cmp(&c[j].key, &c[i].key); j++) {
		const struct cand *x = &c[j];
		bool dup = false;

		if (j > i && !same_peer(x, &c[i]))
			continue;
		for (k = 0; k < nv; k++)
			if (v[k]->if_id == x->if_id) {
				dup = true;
				if (cand_newer(x, v[k]))
					v[k] = x;
			}
		if (dup)
			continue;
		if (nv == XS_GROUP_MAX) {
			size_t old = 0;

			for (k = 1; k < nv; k++)
				if (cand_newer(v[old], v[k]))
					old = k;
			if (cand_newer(v[old], x))
				continue;
			v[old] = x;
			continue;
		}
		v[nv++] = x;
	}
	if (nv < 2)
		return;
	/* Age order: insertion sort, nv <= XS_GROUP_MAX. */
	for (j = 1; j < nv; j++)
		for (k = j; k > 0 && cand_newer(v[k - 1], v[k]); k--) {
			const struct cand *t = v[k];

			v[k] = v[k - 1];
			v[k - 1] = t;
		}
	stale = now >= v[nv - 1]->add_time + XS_IKE_OVERLAP_MAX_S;
	g->n = (uint32_t)nv;
	for (j = 0; j < nv; j++) {
		bool newest = j == nv - 1;

		g->nh[j].if_id = v[j]->if_id;
		g->nh[j].weight = 1;
		g->nh[j].flags = newest != stale ? XS_NH_BACKUP : 0;
	}
}

int xs_ike_plan(const struct xs_ike_have *h, struct xs_ike_plan *p)
{
	struct cand *c = NULL;
	size_t i, j, n = 0;
	char k[96];
	int err;

	memset(p, 0, sizeof(*p));
	err = build_cands(h, p, &c, &n);
	if (err)
		return err;
	/* Each key: the first candidate wins, the others are conflicts. */
	for (i = 0; i < n; i = j) {
		const struct xs_route_ent *rt;
		const struct xs_group_ent *grp;
		const struct xs_ike_route *rec;
		struct route_group want;
		bool ok = true;

		newest_of_peer(c, n, i);
		rt = route_at(h, &c[i].key);
		grp = group_at(h, &c[i].key);
		rec = rec_at(h, &c[i].key);
		for (j = i + 1; j < n && !key_cmp(&c[j].key, &c[i].key); j++) {
			if (c[j].if_id == c[i].if_id || same_peer(&c[j], &c[i]))
				continue; /* one if_id split by port, or an overlap */
			err = problem(p, c[j].range,
				      "ike: %s if_id %u: conflicts with if_id %u, which holds the prefix; not routed (two CHILD_SAs for one prefix: split it by prefix, not by port or protocol, or give them one if_id)",
				      key_text(&c[j].key, k, sizeof(k)), c[j].if_id, c[i].if_id);
			if (err)
				goto out;
		}
		overlap_group(c, n, i, h->now, &want);
		if (rt && !is_ikes(h, rt) &&
		    (want.n ? !group_has_ifid(&want, rt->val.if_id) : rt->val.if_id != c[i].if_id)) {
			/* Another owner's route (apply, route add). */
			err = problem(p, c[i].range,
				      "ike: %s if_id %u: the prefix is routed to if_id %u by another owner (apply or route add), not taken; remove that route to let the IKE daemon's CHILD_SA have it",
				      key_text(&c[i].key, k, sizeof(k)), c[i].if_id, rt->val.if_id);
			if (err)
				goto out;
			ok = false;
		}
		if (grp && !is_ikes_group(h, grp)) {
			err = problem(p, c[i].range,
				      "ike: %s if_id %u: the prefix is a route group's (route add ... nexthop, apply), not taken; remove that route to let the IKE daemon's CHILD_SA have it",
				      key_text(&c[i].key, k, sizeof(k)), c[i].if_id);
			if (err)
				goto out;
			ok = false;
		}
		if (!ok)
			continue;
		p->range_routes[c[i].range]++;
		if (want.n) {
			if (grp && xs_group_same(&grp->g, &want))
				continue; /* the daemon's group, there already */
			err = add_group_op(p, &c[i].key, &want);
		} else {
			if (rt && rt->val.if_id == c[i].if_id && rec && rec->if_id == c[i].if_id)
				continue; /* there already */
			err = add_op(p, XS_IKE_SET, &c[i].key, c[i].if_id);
		}
		if (err)
			goto out;
	}
	/* The daemon's routes nothing wants any more. */
	for (i = 0; i < h->nroutes; i++) {
		const struct xs_route_ent *rt = &h->routes[i];
		struct cand key = { .key = rt->key };
		bool wanted = false;

		if (!is_ikes(h, rt))
			continue;
		for (j = 0; j < n; j++)
			if (!key_cmp(&c[j].key, &key.key)) {
				wanted = true;
				break;
			}
		if (wanted)
			continue;
		err = add_op(p, XS_IKE_DEL, &rt->key, rt->val.if_id);
		if (err)
			goto out;
	}
	/* The daemon's groups nothing wants any more (a daemon down while
	 * both CHILD_SAs went). */
	for (i = 0; i < h->ngroups; i++) {
		const struct xs_group_ent *g = &h->groups[i];
		bool wanted = false;

		if (!is_ikes_group(h, g))
			continue;
		for (j = 0; j < n && !wanted; j++)
			wanted = !key_cmp(&c[j].key, &g->key);
		if (wanted)
			continue;
		err = add_op(p, XS_IKE_DEL, &g->key, 0);
		if (err)
			goto out;
	}
	/* Records whose route is gone or leads elsewhere now, not wanted. */
	for (i = 0; i < h->nrecs; i++) {
		const struct xs_route_ent *rt = route_at(h, &h->recs[i].key);
		bool wanted = false;

		if (rt && rt->val.if_id == h->recs[i].if_id)
			continue; /* the daemon's: handled above */
		if (is_ikes_group(h, group_at(h, &h->recs[i].key)))
			continue; /* the daemon's group: handled above */
		for (j = 0; j < n && !wanted; j++)
			wanted = !key_cmp(&c[j].key, &h->recs[i].key);
		if (wanted)
			continue;
		err = add_op(p, XS_IKE_FORGET, &h->recs[i].key, h->recs[i].if_id);
		if (err)
			goto out;
	}
out:
	free(c);
	if (err)
		xs_ike_plan_free(p);
	return err;
}

void xs_ike_plan_free(struct xs_ike_plan *p)
{
	size_t i;

	for (i = 0; i < p->nproblems; i++)
		free(p->problems[i]);
	free(p->problems);
	free(p->ops);
	memset(p, 0, sizeof(*p));
}

/* ---- Against one device ---- */

static int read_recs(struct xs_state *st, struct xs_ike_route **v, size_t *n)
{
	int fd = bpf_map__fd(st->skel->maps.ike_routes);
	struct apply_route_key key, next;
	struct apply_route_value val;
	void *prev = NULL;
	size_t cap = 0;

	*v = NULL;
	*n = 0;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		struct xs_ike_route *e;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &val))
			continue;
		e = vec_slot(v, &cap, *n, sizeof(**v));
		if (!e)
			return -ENOMEM;
		e->key = key;
		e->if_id = val.if_id;
		e->digest = val.if_id ? 0 : val.pad;
		(*n)++;
	}
	return errno == ENOENT ? 0 : -errno;
}

static int read_named(struct xs_state *st, struct xs_rec_ent **recs, size_t *nrecs,
		      struct xs_ike_named **v)
{
	size_t i;
	int err = xs_recs_read(st, recs, nrecs);

	if (err)
		return err;
	*v = calloc(*nrecs ? *nrecs : 1, sizeof(**v));
	if (!*v)
		return -ENOMEM;
	for (i = 0; i < *nrecs; i++) {
		(*v)[i].if_id = (*recs)[i].rec.if_id;
		(*v)[i].name = (*recs)[i].key.name;
	}
	sort_n(*v, *nrecs, sizeof(**v), named_cmp);
	return 0;
}

int xs_ike_ranges_install(struct xs_ctx *ctx, const char *dev, const struct xs_ike_range *r,
			  size_t n)
{
	struct xs_rec_ent *recs = NULL;
	struct xs_state st;
	size_t nrecs = 0, i, j;
	uint32_t k;
	int err, fd;

	if (n > XS_IKE_RANGES_MAX)
		return p_err(ctx, -EINVAL, "daemon: at most %d \"ike\" clauses", XS_IKE_RANGES_MAX);
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (r[i].lo <= r[j].hi && r[j].lo <= r[i].hi)
				return p_err(ctx, -EINVAL,
					     "daemon: if_id ranges %u-%u and %u-%u overlap; give each if_id one \"ike\" clause",
					     r[i].lo, r[i].hi, r[j].lo, r[j].hi);
	err = xs_state_open(ctx, dev, XS_LOCK_EXCLUSIVE, &st);
	if (err)
		return err;
	err = xs_recs_read(&st, &recs, &nrecs);
	if (err) {
		p_err(ctx, err, "cannot read the tunnels of \"%s\": %s", dev, strerror(-err));
		goto out;
	}
	for (i = 0; i < nrecs; i++) {
		int ri = xs_ike_range_of(r, n, recs[i].rec.if_id);

		if (ri < 0)
			continue;
		err = p_err(ctx, -EEXIST,
			    "daemon: tunnel \"%s\" on \"%s\" has if_id %u, inside the IKE range %u-%u; move the range (strongSwan: if_id_in/if_id_out %%unique counts from 1) or the tunnel",
			    recs[i].key.name, dev, recs[i].rec.if_id, r[ri].lo, r[ri].hi);
		goto out;
	}
	fd = bpf_map__fd(st.skel->maps.ike_ranges);
	for (k = 0; k < XS_IKE_RANGES_MAX; k++) {
		struct ike_range_value v = { 0 };

		if (k < n) {
			v.used = 1;
			v.lo = r[k].lo;
			v.hi = r[k].hi;
			v.tenant = r[k].tenant;
		}
		if (bpf_map_update_elem(fd, &k, &v, BPF_ANY)) {
			err = p_err(ctx, -errno, "cannot write the IKE ranges of \"%s\": %s", dev,
				    strerror(errno));
			goto out;
		}
	}
out:
	free(recs);
	xs_state_close(&st);
	return err;
}

void xs_ike_ranges_get(struct xs_state *st, struct ike_range_value v[XS_IKE_RANGES_MAX])
{
	int fd = bpf_map__fd(st->skel->maps.ike_ranges);
	uint32_t k;

	for (k = 0; k < XS_IKE_RANGES_MAX; k++)
		if (bpf_map_lookup_elem(fd, &k, &v[k]))
			memset(&v[k], 0, sizeof(v[k]));
}

static int exec_op(struct xs_ctx *ctx, struct xs_state *st, const struct xs_ike_op *op)
{
	int fd = bpf_map__fd(st->skel->maps.ike_routes), err;
	struct apply_route_value v = { 0 };
	char k[96];

	switch (op->kind) {
	case XS_IKE_SET:
	case XS_IKE_GROUP:
		/* A route that moves between a plain route and a group is one
		 * update of the route, never a removal and an add. */
		err = op->kind == XS_IKE_SET ? xs_route_put(ctx, st, &op->key, op->if_id) :
					       xs_route_put_group(ctx, st, &op->key, &op->g);
		if (err)
			return err;
		v.gen = (uint64_t)time(NULL);
		v.if_id = op->if_id;
		v.pad = op->kind == XS_IKE_GROUP ? xs_group_digest(&op->g) : 0;
		if (bpf_map_update_elem(fd, &op->key, &v, BPF_ANY))
			return p_err(ctx, -errno, "cannot record the IKE route %s: %s",
				     key_text(&op->key, k, sizeof(k)), strerror(errno));
		return 0;
	case XS_IKE_DEL:
		err = xs_route_remove(st, &op->key);
		if (err && err != -ENOENT)
			return p_err(ctx, err, "cannot remove the IKE route %s: %s",
				     key_text(&op->key, k, sizeof(k)), strerror(-err));
		/* fallthrough */
	case XS_IKE_FORGET:
		bpf_map_delete_elem(fd, &op->key);
		return 0;
	}
	return -EINVAL;
}

int xs_ike_reconcile(struct xs_ctx *ctx, const char *dev, const struct xs_ike_range *r,
		     size_t n, const struct xs_policy *pols, size_t npols, const uint32_t *sa_ifids,
		     size_t nsa, struct xs_ike_plan *plan)
{
	struct xs_ike_have h = { .ranges = r, .nranges = n, .pols = pols, .npols = npols,
				 .sa_ifids = sa_ifids, .nsa = nsa, .now = (uint64_t)time(NULL) };
	struct xs_route_ent *routes = NULL;
	struct xs_group_ent *groups = NULL;
	struct xs_ike_route *recs = NULL;
	struct xs_ike_named *named = NULL;
	struct xs_rec_ent *trecs = NULL;
	size_t nroutes = 0, ngroups = 0, nrecs = 0, ntrecs = 0, i;
	struct xs_state st;
	int err, first = 0;

	memset(plan, 0, sizeof(*plan));
	err = xs_state_open(ctx, dev, XS_LOCK_EXCLUSIVE, &st);
	if (err)
		return err;
	err = xs_routes_read(&st, &routes, &nroutes, NULL);
	if (!err)
		err = xs_groups_read(&st, &groups, &ngroups);
	if (!err)
		err = read_recs(&st, &recs, &nrecs);
	if (!err)
		err = read_named(&st, &trecs, &ntrecs, &named);
	if (err) {
		p_err(ctx, err, "cannot read the state of \"%s\": %s", dev, strerror(-err));
		goto out;
	}
	h.routes = routes;
	h.nroutes = nroutes;
	h.groups = groups;
	h.ngroups = ngroups;
	h.recs = recs;
	h.nrecs = nrecs;
	h.named = named;
	h.nnamed = ntrecs;
	err = xs_ike_plan(&h, plan);
	if (err) {
		p_err(ctx, err, "out of memory");
		goto out;
	}
	/* A route that moves between if_ids is one SET, never a DEL and an add. */
	for (i = 0; i < plan->nops; i++) {
		int e = exec_op(ctx, &st, &plan->ops[i]);

		if (e && !first)
			first = e;
	}
	err = first;
	{
		int fd = bpf_map__fd(st.skel->maps.ike_ranges);
		uint32_t k;

		for (k = 0; k < n && k < XS_IKE_RANGES_MAX; k++) {
			struct ike_range_value v;

			if (bpf_map_lookup_elem(fd, &k, &v))
				continue;
			v.routes = plan->range_routes[k];
			v.problems = plan->range_problems[k];
			v.at = (uint64_t)time(NULL);
			bpf_map_update_elem(fd, &k, &v, BPF_ANY);
		}
	}
out:
	free(routes);
	free(groups);
	free(recs);
	free(named);
	free(trecs);
	xs_state_close(&st);
	return err;
}

bool xs_ike_dev_to_down(const struct xs_ike_range *r, size_t n, const struct xs_link_info *li)
{
	return li->is_xfrm && !li->external && li->if_id && li->up &&
	       xs_ike_range_of(r, n, li->if_id) >= 0;
}

struct devs_down {
	const struct xs_ike_range *r;
	size_t n;
	struct xs_link_info *v;
	size_t nv;
};

static int devs_down_cb(const struct xs_link_attrs *la, void *arg)
{
	struct devs_down *d = arg;
	struct xs_link_info *v;

	if (!xs_ike_dev_to_down(d->r, d->n, &la->info))
		return 0;
	v = realloc(d->v, (d->nv + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	d->v = v;
	d->v[d->nv++] = la->info;
	return 0;
}

int xs_ike_devs_down(struct xs_ctx *ctx, const struct xs_ike_range *r, size_t n,
		     void (*told)(const struct xs_link_info *li, int err, void *arg), void *arg)
{
	struct devs_down d = { .r = r, .n = n };
	size_t i;
	int err, first = 0;

	/* Listed first, set down after: not while the dump is running. */
	err = xs_link_list(ctx, NULL, devs_down_cb, &d);
	for (i = 0; !err && i < d.nv; i++) {
		int e = xs_link_set_down(ctx, d.v[i].ifindex, d.v[i].ifname);

		if (told)
			told(&d.v[i], e, arg);
		if (e && !first)
			first = e;
	}
	free(d.v);
	return err ? err : first;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the IKE route planner (loader/lib/ike.c), without a
 * kernel: policies, SAs, named tunnels, routes and the daemon's records
 * made by hand, and the route operations and problems checked. Each case is
 * one of the ways the updown script's claims drifted (issue 19).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "ike.h"

struct world {
	struct xs_ike_range ranges[2];
	size_t nranges;
	struct xs_policy pols[16];
	size_t npols;
	uint32_t sas[16];
	size_t nsa;
	struct xs_ike_named named[4];
	size_t nnamed;
	struct xs_route_ent routes[16];
	size_t nroutes;
	struct xs_ike_route recs[16];
	size_t nrecs;
	struct xs_group_ent groups[4];
	size_t ngroups;
	struct xs_ike_plan p;
};

static void pfx(struct xs_prefix *p, const char *s)
{
	assert_int_equal(parse_prefix(s, p, false), 0);
}

static void key(struct apply_route_key *k, const char *s, uint32_t tenant)
{
	struct xs_prefix p;

	pfx(&p, s);
	memset(k, 0, sizeof(*k));
	k->family = (uint32_t)p.family;
	k->tenant = tenant;
	k->plen = p.plen;
	memcpy(k->addr, p.addr, 16);
}

static void world_init(struct world *w)
{
	memset(w, 0, sizeof(*w));
	w->ranges[0] = (struct xs_ike_range){ .lo = 1, .hi = 999, .tenant = 0 };
	w->nranges = 1;
}

/* An outbound policy (dst dst, if_id) of the IKE daemon, added at t. */
static struct xs_policy *pol(struct world *w, const char *dst, uint32_t if_id, uint64_t t)
{
	struct xs_policy *p = &w->pols[w->npols++];

	xs_policy_init(p, XFRM_POLICY_OUT, AF_INET);
	pfx(&p->sel_src, "10.0.0.0/24");
	pfx(&p->sel_dst, dst);
	p->if_id = if_id;
	p->add_time = t;
	return p;
}

static void sa(struct world *w, uint32_t if_id)
{
	size_t i = w->nsa++;

	/* Kept sorted, as the daemon passes them. */
	while (i > 0 && w->sas[i - 1] > if_id) {
		w->sas[i] = w->sas[i - 1];
		i--;
	}
	w->sas[i] = if_id;
}

static void route(struct world *w, const char *dst, uint32_t if_id, bool ikes)
{
	struct xs_route_ent *r = &w->routes[w->nroutes++];

	key(&r->key, dst, 0);
	r->val.if_id = if_id;
	r->val.tunnel_idx = if_id; /* any slot but 0 (a group) */
	if (ikes) {
		w->recs[w->nrecs].key = r->key;
		w->recs[w->nrecs++].if_id = if_id;
	}
}

/* A route to a group of if_ids (the last one a backup when backup_last),
 * as route add ... nexthop or the daemon (ikes: with its record) made it. */
static struct xs_group_ent *group(struct world *w, const char *dst, const uint32_t *ids,
				  uint32_t n, bool backup_last, bool ikes)
{
	struct xs_group_ent *g = &w->groups[w->ngroups++];
	uint32_t m;

	memset(g, 0, sizeof(*g));
	key(&g->key, dst, 0);
	g->gid = (uint32_t)w->ngroups;
	g->g.n = n;
	for (m = 0; m < n; m++) {
		g->g.nh[m].if_id = ids[m];
		g->g.nh[m].tunnel_idx = ids[m]; /* slots: not compared */
		g->g.nh[m].weight = 1;
		g->g.nh[m].flags = backup_last && m == n - 1 ? XS_NH_BACKUP : 0;
	}
	if (ikes) {
		w->recs[w->nrecs].key = g->key;
		w->recs[w->nrecs].if_id = 0;
		w->recs[w->nrecs++].digest = xs_group_digest(&g->g);
	}
	return g;
}

static void plan(struct world *w)
{
	struct xs_ike_have h = {
		.ranges = w->ranges, .nranges = w->nranges, .pols = w->pols, .npols = w->npols,
		.sa_ifids = w->sas, .nsa = w->nsa, .named = w->named, .nnamed = w->nnamed,
		.routes = w->routes, .nroutes = w->nroutes, .recs = w->recs, .nrecs = w->nrecs,
		.groups = w->groups, .ngroups = w->ngroups,
	};

	assert_int_equal(xs_ike_plan(&h, &w->p), 0);
}

static void expect_op(const struct world *w, size_t i, uint8_t kind, const char *dst,
		      uint32_t if_id)
{
	struct apply_route_key k;

	assert_true(i < w->p.nops);
	key(&k, dst, 0);
	assert_int_equal(w->p.ops[i].kind, kind);
	assert_memory_equal(&w->p.ops[i].key, &k, sizeof(k));
	assert_int_equal(w->p.ops[i].if_id, if_id);
}

static bool problem_has(const struct world *w, const char *s)
{
	size_t i;

	for (i = 0; i < w->p.nproblems; i++)
		if (strstr(w->p.problems[i], s))
			return true;
	return false;
}

/* A CHILD_SA up: policy and SA -> its route. */
static void test_child_up(void **state)
{
	struct world w;

	(void)state;
	world_init(&w);
	pol(&w, "192.168.1.0/24", 5, 100);
	sa(&w, 5);
	plan(&w);
	assert_int_equal(w.p.nops, 1);
	expect_op(&w, 0, XS_IKE_SET, "192.168.1.0/24", 5);
	assert_int_equal(w.p.nproblems, 0);
	assert_int_equal(w.p.range_routes[0], 1);
	xs_ike_plan_free(&w.p);
}

/* A policy without SA (an acquire, or an SA gone) is no route; nor is an
 * if_id outside the ranges, nor an inbound policy. */
static void test_no_sa_no_route(void **state)
{
	struct world w;

	(void)state;
	world_init(&w);
	pol(&w, "192.168.1.0/24", 5, 100);
	pol(&w, "192.168.2.0/24", 1000, 100);
	sa(&w, 1000);
	pol(&w, "192.168.3.0/24", 6, 100)->dir = XFRM_POLICY_IN;
	sa(&w, 6);
	plan(&w);
	assert_int_equal(w.p.nops, 0);
	xs_ike_plan_free(&w.p);
}

/* Nothing remembered: once the SAs and policies are gone (IKE rekey then
 * down, charon SIGKILL then flush), the daemon's routes go; a route to
 * the same prefix that is not the daemon's stays. */
static void test_gone_removes(void **state)
{
	struct world w;

	(void)state;
	world_init(&w);
	route(&w, "192.168.1.0/24", 5, true);
	route(&w, "192.168.9.0/24", 7, false);
	plan(&w);
	assert_int_equal(w.p.nops, 1);
	expect_op(&w, 0, XS_IKE_DEL, "192.168.1.0/24", 5);
	xs_ike_plan_free(&w.p);
}

/* A route lost on our side (detach + attach) is made again; one that is
 * there is left alone. */
static void test_restores_and_keeps(void **state)
{
	struct world w;

	(void)state;
	world_init(&w);
	pol(&w, "192.168.1.0/24", 5, 100);
	pol(&w, "192.168.2.0/24", 6, 100);
	sa(&w, 5);
	sa(&w, 6);
	route(&w, "192.168.2.0/24", 6, true);
	plan(&w);
	assert_int_equal(w.p.nops, 1);
	expect_op(&w, 0, XS_IKE_SET, "192.168.1.0/24", 5);
	xs_ike_plan_free(&w.p);
}

/* Two if_ids for one prefix (port split, two peers): the older policy
 * wins, the other is reported; a holder keeps the route even against an
 * older policy; two policies of one if_id are no conflict. */
static void test_conflict_holder(void **state)
{
	struct world w;

	(void)state;
	world_init(&w);
	pol(&w, "192.168.1.0/24", 8, 200)->sel_dport = 443;
	pol(&w, "192.168.1.0/24", 7, 100)->sel_dport = 80;
	pol(&w, "192.168.1.0/24", 7, 100)->sel_dport = 22;
	sa(&w, 7);
	sa(&w, 8);
	plan(&w);
	assert_int_equal(w.p.nops, 1);
	expect_op(&w, 0, XS_IKE_SET, "192.168.1.0/24", 7);
	assert_true(problem_has(&w, "if_id 8: conflicts with if_id 7"));
	assert_true(problem_has(&w, "narrower than a route"));
	assert_int_equal(w.p.range_routes[0], 1);
	xs_ike_plan_free(&w.p);

	/* The same with 8 holding the route already: it keeps it. */
	route(&w, "192.168.1.0/24", 8, true);
	plan(&w);
	assert_int_equal(w.p.nops, 0);
	assert_true(problem_has(&w, "if_id 7: conflicts with if_id 8"));
	xs_ike_plan_free(&w.p);

	/* Equal times: the lower if_id. */
	world_init(&w);
	pol(&w, "192.168.1.0/24", 9, 100);
	pol(&w, "192.168.1.0/24", 4, 100);
	sa(&w, 4);
	sa(&w, 9);
	plan(&w);
	expect_op(&w, 0, XS_IKE_SET, "192.168.1.0/24", 4);
	assert_true(problem_has(&w, "if_id 9: conflicts with if_id 4"));
	xs_ike_plan_free(&w.p);
}

/* A %unique if_id equal to a configured tunnel's is not routed. */
static void test_named_refused(void **state)
{
	struct world w;

	(void)state;
	world_init(&w);
	w.named[0] = (struct xs_ike_named){ 5, "branch1" };
	w.nnamed = 1;
	pol(&w, "192.168.1.0/24", 5, 100);
	sa(&w, 5);
	plan(&w);
	assert_int_equal(w.p.nops, 0);
	assert_true(problem_has(&w, "belongs to tunnel \"branch1\""));
	assert_int_equal(w.p.range_problems[0], 1);
	xs_ike_plan_free(&w.p);
}

/* Drift case 2: %unique past the range. On a configured tunnel's if_id or
 * on one nothing routes: no route, a problem naming it; the tunnel's own
 * wildcard policies and hand-made routes with SAs are left alone. */
static void test_outside_range(void **state)
{
	struct xs_policy *wild;
	struct world w;

	(void)state;
	world_init(&w);
	w.ranges[0].hi = 2;
	w.named[0] = (struct xs_ike_named){ 3, "branch1" };
	w.nnamed = 1;
	pol(&w, "192.168.1.200/32", 3, 100);
	sa(&w, 3);
	wild = pol(&w, "0.0.0.0/0", 3, 50);
	pfx(&wild->sel_src, "0.0.0.0/0");
	route(&w, "192.168.50.0/24", 3, false);
	pol(&w, "192.168.1.201/32", 4, 110);
	sa(&w, 4);
	pol(&w, "192.168.60.0/24", 1001, 120);
	sa(&w, 1001);
	route(&w, "192.168.60.0/24", 1001, false);
	plan(&w);
	assert_int_equal(w.p.nops, 0);
	assert_int_equal(w.p.nproblems, 2);
	assert_true(problem_has(&w, "192.168.1.200/32 if_id 3: outside the IKE range 1-2 and "
				    "the if_id of tunnel \"branch1\""));
	assert_true(problem_has(&w, "192.168.1.201/32 if_id 4: outside the IKE range 1-2, "
				    "not routed"));
	xs_ike_plan_free(&w.p);
}

/* The old and the new CHILD_SA of one peer and selector (a new %unique
 * if_id, policy b, beside the old one, a), as a make-before-break
 * reauthentication leaves them until the old IKE_SA is deleted. */
static void reauth_world(struct world *w, struct xs_policy **a, struct xs_policy **b)
{
	world_init(w);
	*a = pol(w, "192.168.1.200/32", 1, 100);
	*b = pol(w, "192.168.1.200/32", 2, 200);
	(*a)->ntmpl = (*b)->ntmpl = 1;
	pfx(&(*a)->tmpl[0].dst, "10.0.1.2/32");
	pfx(&(*b)->tmpl[0].dst, "10.0.1.2/32");
	sa(w, 1);
	sa(w, 2);
}

static void expect_overlap(const struct world *w, size_t i, uint32_t old, uint32_t new)
{
	const struct xs_ike_op *op;

	expect_op(w, i, XS_IKE_GROUP, "192.168.1.200/32", 0);
	op = &w->p.ops[i];
	assert_int_equal(op->g.n, 2);
	assert_int_equal(op->g.nh[0].if_id, old);
	assert_int_equal(op->g.nh[0].flags, 0);
	assert_int_equal(op->g.nh[0].weight, 1);
	assert_int_equal(op->g.nh[1].if_id, new);
	assert_int_equal(op->g.nh[1].flags, XS_NH_BACKUP);
	assert_int_equal(op->g.nh[1].weight, 1);
}

/* Drift case 5: make-before-break reauthentication. While both CHILD_SAs
 * have a policy and an SA the route is a group: the old if_id primary
 * (egress stays on the SA the peer has before it installs the new one),
 * the new one a backup (accepted by ingress); that is no conflict. The
 * same from a plain route of the daemon's, from none (a daemon started
 * mid-overlap) and from a plain route someone else made to the old if_id
 * (adopted). Two peers, or one prefix split by port, are still a
 * conflict. */
static void test_reauth_overlap_group(void **state)
{
	struct xs_policy *a, *b;
	struct world w;

	(void)state;
	reauth_world(&w, &a, &b);
	route(&w, "192.168.1.200/32", 1, true);
	plan(&w);
	assert_int_equal(w.p.nproblems, 0);
	assert_int_equal(w.p.nops, 1);
	expect_overlap(&w, 0, 1, 2);
	assert_int_equal(w.p.range_routes[0], 1);
	xs_ike_plan_free(&w.p);

	/* The old if_id newer by number only (a %unique counter restarted):
	 * age decides, not the if_id. */
	a->if_id = 7;
	w.sas[0] = 2;
	w.sas[1] = 7;
	w.nroutes = w.nrecs = 0;
	plan(&w);
	assert_int_equal(w.p.nproblems, 0);
	assert_int_equal(w.p.nops, 1);
	expect_overlap(&w, 0, 7, 2);
	xs_ike_plan_free(&w.p);

	reauth_world(&w, &a, &b);
	route(&w, "192.168.1.200/32", 1, false);
	plan(&w);
	assert_int_equal(w.p.nproblems, 0);
	assert_int_equal(w.p.nops, 1);
	expect_overlap(&w, 0, 1, 2);
	xs_ike_plan_free(&w.p);

	/* Another peer's newer policy: a conflict, the holder keeps it. */
	reauth_world(&w, &a, &b);
	route(&w, "192.168.1.200/32", 1, true);
	pfx(&b->tmpl[0].dst, "10.0.2.2/32");
	plan(&w);
	assert_int_equal(w.p.nops, 0);
	assert_true(problem_has(&w, "if_id 2: conflicts with if_id 1"));
	xs_ike_plan_free(&w.p);

	/* The same peer, the prefix split by port: a conflict too. */
	pfx(&b->tmpl[0].dst, "10.0.1.2/32");
	a->sel_proto = b->sel_proto = 6;
	a->sel_dport = 80;
	b->sel_dport = 443;
	plan(&w);
	assert_int_equal(w.p.nops, 0);
	assert_true(problem_has(&w, "if_id 2: conflicts with if_id 1"));
	xs_ike_plan_free(&w.p);
}

/* The daemon's own group of an overlap is its own: no conflict, no
 * problem, nothing to do while the overlap lasts (a restart too); a group
 * someone else made at the prefix is theirs, even one of the same
 * members, and is not taken. */
static void test_reauth_own_group(void **state)
{
	static const uint32_t ids[] = { 1, 2 };
	struct xs_policy *a, *b;
	struct world w;

	(void)state;
	reauth_world(&w, &a, &b);
	group(&w, "192.168.1.200/32", ids, 2, true, true);
	plan(&w);
	assert_int_equal(w.p.nproblems, 0);
	assert_int_equal(w.p.nops, 0);
	assert_int_equal(w.p.range_routes[0], 1);
	xs_ike_plan_free(&w.p);

	/* Not the daemon's (no record; or a record of another group). */
	reauth_world(&w, &a, &b);
	group(&w, "192.168.1.200/32", ids, 2, true, false);
	plan(&w);
	assert_int_equal(w.p.nops, 0);
	assert_true(problem_has(&w, "if_id 2: the prefix is a route group's"));
	xs_ike_plan_free(&w.p);

	reauth_world(&w, &a, &b);
	group(&w, "192.168.1.200/32", ids, 2, true, true);
	w.groups[0].g.nh[1].flags = 0; /* changed by route add since */
	plan(&w);
	assert_int_equal(w.p.nops, 0);
	assert_true(problem_has(&w, "the prefix is a route group's"));
	xs_ike_plan_free(&w.p);

	/* A group at a prefix with a single CHILD_SA: not taken either. */
	world_init(&w);
	pol(&w, "192.168.1.200/32", 1, 100);
	sa(&w, 1);
	group(&w, "192.168.1.200/32", ids, 2, false, false);
	plan(&w);
	assert_int_equal(w.p.nops, 0);
	assert_true(problem_has(&w, "if_id 1: the prefix is a route group's"));
	xs_ike_plan_free(&w.p);
}

/* The overlap's end: once the old CHILD_SA's policy or SA is gone, the
 * daemon's group is a plain route to the new if_id again, in one SET (no
 * moment without a route); once both are gone, the route goes. */
static void test_reauth_old_gone(void **state)
{
	static const uint32_t ids[] = { 1, 2 };
	struct xs_policy *a, *b;
	struct world w;

	(void)state;
	reauth_world(&w, &a, &b);
	group(&w, "192.168.1.200/32", ids, 2, true, true);
	a->if_id = 3; /* policy 1 gone (one of if_id 3, without SA, instead) */
	plan(&w);
	assert_int_equal(w.p.nproblems, 0);
	assert_int_equal(w.p.nops, 1);
	expect_op(&w, 0, XS_IKE_SET, "192.168.1.200/32", 2);
	xs_ike_plan_free(&w.p);

	/* The old SA gone, its policy still there. */
	reauth_world(&w, &a, &b);
	group(&w, "192.168.1.200/32", ids, 2, true, true);
	w.sas[0] = 2;
	w.nsa = 1;
	plan(&w);
	assert_int_equal(w.p.nops, 1);
	expect_op(&w, 0, XS_IKE_SET, "192.168.1.200/32", 2);
	xs_ike_plan_free(&w.p);

	/* Both gone (the daemon was down meanwhile): the group goes. */
	world_init(&w);
	group(&w, "192.168.1.200/32", ids, 2, true, true);
	plan(&w);
	assert_int_equal(w.p.nproblems, 0);
	assert_int_equal(w.p.nops, 1);
	expect_op(&w, 0, XS_IKE_DEL, "192.168.1.200/32", 0);
	xs_ike_plan_free(&w.p);

	/* Someone else's group is never removed. */
	world_init(&w);
	group(&w, "192.168.1.200/32", ids, 2, true, false);
	plan(&w);
	assert_int_equal(w.p.nops, 0);
	xs_ike_plan_free(&w.p);
}

/* An overlap that outlasts a reauthentication (XS_IKE_OVERLAP_MAX_S): the
 * old CHILD_SA is one the peer no longer has (a charon killed and
 * restarted leaves its SAs until they expire). The new one carries, the
 * old one stays accepted; the daemon's group of the overlap is rewritten
 * so. */
static void test_reauth_overlap_stale(void **state)
{
	static const uint32_t ids[] = { 1, 2 };
	struct xs_policy *a, *b;
	struct world w;
	struct xs_ike_have h;

	(void)state;
	reauth_world(&w, &a, &b);
	group(&w, "192.168.1.200/32", ids, 2, true, true);
	h = (struct xs_ike_have){
		.ranges = w.ranges, .nranges = w.nranges, .pols = w.pols, .npols = w.npols,
		.sa_ifids = w.sas, .nsa = w.nsa, .routes = w.routes, .nroutes = w.nroutes,
		.recs = w.recs, .nrecs = w.nrecs, .groups = w.groups, .ngroups = w.ngroups,
		.now = 200 + XS_IKE_OVERLAP_MAX_S - 1,
	};
	assert_int_equal(xs_ike_plan(&h, &w.p), 0);
	assert_int_equal(w.p.nops, 0); /* still a reauthentication */
	xs_ike_plan_free(&w.p);

	h.now = 200 + XS_IKE_OVERLAP_MAX_S;
	assert_int_equal(xs_ike_plan(&h, &w.p), 0);
	assert_int_equal(w.p.nproblems, 0);
	assert_int_equal(w.p.nops, 1);
	expect_op(&w, 0, XS_IKE_GROUP, "192.168.1.200/32", 0);
	assert_int_equal(w.p.ops[0].g.n, 2);
	assert_int_equal(w.p.ops[0].g.nh[0].if_id, 1);
	assert_int_equal(w.p.ops[0].g.nh[0].flags, XS_NH_BACKUP);
	assert_int_equal(w.p.ops[0].g.nh[1].if_id, 2);
	assert_int_equal(w.p.ops[0].g.nh[1].flags, 0);
	xs_ike_plan_free(&w.p);
}

/* Three CHILD_SAs of one peer (a second reauthentication before the
 * first old one went): the two older primary, the newest the backup. */
static void test_reauth_three(void **state)
{
	struct xs_policy *a, *b, *c;
	struct world w;

	(void)state;
	reauth_world(&w, &a, &b);
	c = pol(&w, "192.168.1.200/32", 3, 300);
	c->ntmpl = 1;
	pfx(&c->tmpl[0].dst, "10.0.1.2/32");
	sa(&w, 3);
	plan(&w);
	assert_int_equal(w.p.nproblems, 0);
	assert_int_equal(w.p.nops, 1);
	assert_int_equal(w.p.ops[0].kind, XS_IKE_GROUP);
	assert_int_equal(w.p.ops[0].g.n, 3);
	assert_int_equal(w.p.ops[0].g.nh[0].if_id, 1);
	assert_int_equal(w.p.ops[0].g.nh[1].if_id, 2);
	assert_int_equal(w.p.ops[0].g.nh[2].if_id, 3);
	assert_int_equal(w.p.ops[0].g.nh[0].flags | w.p.ops[0].g.nh[1].flags, 0);
	assert_int_equal(w.p.ops[0].g.nh[2].flags, XS_NH_BACKUP);
	xs_ike_plan_free(&w.p);
}

/* Another owner's route is not taken; the same if_id's is adopted. */
static void test_other_owner(void **state)
{
	struct world w;

	(void)state;
	world_init(&w);
	route(&w, "192.168.1.0/24", 1000, false);
	route(&w, "192.168.2.0/24", 6, false); /* the updown script's */
	pol(&w, "192.168.1.0/24", 5, 100);
	pol(&w, "192.168.2.0/24", 6, 100);
	sa(&w, 5);
	sa(&w, 6);
	plan(&w);
	assert_int_equal(w.p.nops, 1);
	expect_op(&w, 0, XS_IKE_SET, "192.168.2.0/24", 6);
	assert_true(problem_has(&w, "routed to if_id 1000 by another owner"));
	xs_ike_plan_free(&w.p);
}

/* allow: prefixes outside are refused; tenant from the range. */
static void test_allow_and_tenant(void **state)
{
	struct world w;
	struct apply_route_key k;

	(void)state;
	world_init(&w);
	w.ranges[0].tenant = 3;
	pfx(&w.ranges[0].allow[0], "192.168.0.0/16");
	w.ranges[0].nallow = 1;
	pol(&w, "192.168.1.0/24", 5, 100);
	pol(&w, "10.9.0.0/16", 6, 100);
	pol(&w, "192.0.0.0/8", 7, 100);
	sa(&w, 5);
	sa(&w, 6);
	sa(&w, 7);
	plan(&w);
	assert_int_equal(w.p.nops, 1);
	key(&k, "192.168.1.0/24", 3);
	assert_memory_equal(&w.p.ops[0].key, &k, sizeof(k));
	assert_true(problem_has(&w, "10.9.0.0/16 tenant 3 if_id 6: prefix outside the allowed"));
	assert_true(problem_has(&w, "192.0.0.0/8 tenant 3 if_id 7: prefix outside the allowed"));
	xs_ike_plan_free(&w.p);
}

/* A route the daemon made that was re-pointed by someone else: its record
 * goes, the route stays; a record whose route is gone goes too. */
static void test_forget(void **state)
{
	struct world w;

	(void)state;
	world_init(&w);
	route(&w, "192.168.1.0/24", 5, true);
	w.routes[0].val.if_id = 1000;
	key(&w.recs[1].key, "192.168.4.0/24", 0);
	w.recs[1].if_id = 9;
	w.nrecs = 2;
	plan(&w);
	assert_int_equal(w.p.nops, 2);
	expect_op(&w, 0, XS_IKE_FORGET, "192.168.1.0/24", 5);
	expect_op(&w, 1, XS_IKE_FORGET, "192.168.4.0/24", 9);
	xs_ike_plan_free(&w.p);
}

/* A route moves in one SET when its holder's SA is gone and another if_id
 * wants the prefix (a peer's new CHILD_SA with a new %unique if_id). */
static void test_move(void **state)
{
	struct world w;

	(void)state;
	world_init(&w);
	route(&w, "192.168.1.0/24", 5, true);
	pol(&w, "192.168.1.0/24", 5, 100);
	pol(&w, "192.168.1.0/24", 6, 200);
	sa(&w, 6);
	plan(&w);
	assert_int_equal(w.p.nops, 1);
	expect_op(&w, 0, XS_IKE_SET, "192.168.1.0/24", 6);
	assert_int_equal(w.p.nproblems, 0);
	xs_ike_plan_free(&w.p);
}

/* pluto's ipsecN: set down only when it is an up xfrm device, not
 * external, with a non-zero if_id inside a range. */
static void test_dev_to_down(void **state)
{
	struct xs_ike_range r[2] = { { .lo = 40, .hi = 49 }, { .lo = 100, .hi = 100 } };
	struct xs_link_info pluto = { .is_xfrm = true, .up = true, .if_id = 42 }, li;

	(void)state;
	assert_true(xs_ike_dev_to_down(r, 2, &pluto));
	li = pluto;
	li.if_id = 100;
	assert_true(xs_ike_dev_to_down(r, 2, &li));
	li.if_id = 77; /* a classic device outside the ranges */
	assert_false(xs_ike_dev_to_down(r, 2, &li));
	li = pluto;
	li.up = false; /* down already */
	assert_false(xs_ike_dev_to_down(r, 2, &li));
	li = pluto;
	li.external = true; /* the collect_md one that carries the traffic */
	assert_false(xs_ike_dev_to_down(r, 2, &li));
	li = pluto;
	li.is_xfrm = false; /* another kind with the name */
	assert_false(xs_ike_dev_to_down(r, 2, &li));
	li = pluto;
	li.if_id = 0;
	assert_false(xs_ike_dev_to_down(r, 2, &li));
	assert_false(xs_ike_dev_to_down(r, 0, &pluto)); /* no ranges: never */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_child_up),     cmocka_unit_test(test_no_sa_no_route),
		cmocka_unit_test(test_gone_removes), cmocka_unit_test(test_restores_and_keeps),
		cmocka_unit_test(test_conflict_holder), cmocka_unit_test(test_named_refused),
		cmocka_unit_test(test_other_owner),  cmocka_unit_test(test_allow_and_tenant),
		cmocka_unit_test(test_forget),       cmocka_unit_test(test_move),
		cmocka_unit_test(test_dev_to_down),
		cmocka_unit_test(test_outside_range), cmocka_unit_test(test_reauth_overlap_group),
		cmocka_unit_test(test_reauth_own_group), cmocka_unit_test(test_reauth_old_gone),
		cmocka_unit_test(test_reauth_three), cmocka_unit_test(test_reauth_overlap_stale),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

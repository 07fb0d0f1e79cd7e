// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the planner (loader/lib/plan.c), without a kernel: a model
 * of one device and the namespace's SAs and policies is made by hand (or by
 * playing a plan onto it, as the kernel would), a file is planned against
 * it, and the operations are checked: order of phases, conflicts, ownership,
 * adoption, limits, and that the undo of a plan gives back what was there.
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

#include "model.h"
#include "plan.h"

#define KEY "0x0102030405060708090a0b0c0d0e0f1011121314"

/* What the kernel and the pins hold: one device, ipsec0. */
struct world {
	uint32_t tenant_mode, mark_mask, max_routes, max_tunnels;
	struct xs_rec_ent recs[16];
	size_t nrecs;
	struct xs_route_ent routes[32];
	size_t nroutes;
	struct own_ent owned[32];
	size_t nowned;
	struct slot_ent slots[32];
	size_t nslots;
	struct xs_sa ksa[32];
	size_t nksa;
	struct xs_policy kpol[64];
	size_t nkpol;
	struct elsewhere elsewhere[4]; /* tunnels of other devices */
	size_t nelsewhere;
	struct xs_group_ent groups[8]; /* routes to groups (content: gtab) */
	size_t ngroups;
	struct route_group gtab[16]; /* the group indexes; n 0: free */
};

/* One planning: the run and what it was given. */
struct planning {
	struct xs_ctx ctx;
	char err[1024];
	struct xs_run_opts o;
	struct xs_config_file cfg;
	struct run r;
	int rc;
};

static void world_init(struct world *w)
{
	memset(w, 0, sizeof(*w));
	w->tenant_mode = XS_TENANT_MARK;
	w->mark_mask = 0xff00;
	w->max_routes = 1024;
	w->max_tunnels = 64;
}

static void *dup_n(const void *v, size_t n, size_t size)
{
	void *p = calloc(n + 1, size);

	assert_non_null(p);
	if (n)
		memcpy(p, v, n * size);
	return p;
}

/* Plan json against w, in scope (name: the tunnel of a del). */
static int plan_on(struct planning *pl, const struct world *w, const char *json,
		   enum xs_scope scope, const char *name)
{
	char why[512];
	size_t i;
	int err;

	memset(pl, 0, sizeof(*pl));
	pl->ctx.errbuf = pl->err;
	pl->ctx.errlen = sizeof(pl->err);
	pl->o.scope = scope;
	pl->o.src = scope == XS_SCOPE_FILE ? "f.json" : NULL;
	pl->o.name = name;
	pl->o.dev = "ipsec0";
	if (json) {
		err = xs_config_parse(json, strlen(json), &pl->cfg, why, sizeof(why));
		if (err)
			fail_msg("the test's file does not parse: %s", why);
	}
	pl->r.ctx = &pl->ctx;
	pl->r.o = &pl->o;
	pl->r.cfg = &pl->cfg;
	pl->r.gen = 42;
	pl->r.crash_after = pl->r.fail_after = -1;
	assert_int_equal(collect_devs(&pl->r), 0);
	err = build_all(&pl->r);
	if (err)
		return pl->rc = err;
	for (i = 0; i < pl->r.ndevs; i++) {
		struct dev_run *d = &pl->r.devs[i];

		assert_string_equal(d->name, "ipsec0");
		d->tenant_mode = w->tenant_mode;
		d->mark_mask = w->mark_mask;
		d->max_routes = w->max_routes;
		d->max_tunnels = w->max_tunnels;
		d->recs = dup_n(w->recs, w->nrecs, sizeof(*w->recs));
		d->nrecs = w->nrecs;
		d->routes = dup_n(w->routes, w->nroutes, sizeof(*w->routes));
		d->nroutes = w->nroutes;
		d->owned = dup_n(w->owned, w->nowned, sizeof(*w->owned));
		d->nowned = w->nowned;
		d->slots = dup_n(w->slots, w->nslots, sizeof(*w->slots));
		d->nslots = w->nslots;
		d->groups = dup_n(w->groups, w->ngroups, sizeof(*w->groups));
		d->ngroups = w->ngroups;
		for (size_t g = 0; g < d->ngroups; g++)
			d->groups[g].g = w->gtab[d->groups[g].gid];
		/* The indexes in use that no route names, as
		 * xs_groups_orphans() finds them. */
		d->orphans = calloc(16, sizeof(*d->orphans));
		assert_non_null(d->orphans);
		for (uint32_t gid = 1; gid < 16; gid++) {
			size_t g;

			for (g = 0; g < w->ngroups && w->groups[g].gid != gid; g++)
				;
			if (w->gtab[gid].n && g == w->ngroups) {
				d->orphans[d->norphans].gid = gid;
				d->orphans[d->norphans++].g = w->gtab[gid];
			}
		}
		assert_int_equal(dev_index(&pl->r, d), 0);
	}
	pl->r.ksa = dup_n(w->ksa, w->nksa, sizeof(*w->ksa));
	pl->r.nksa = w->nksa;
	pl->r.kpol = dup_n(w->kpol, w->nkpol, sizeof(*w->kpol));
	pl->r.nkpol = w->nkpol;
	pl->r.elsewhere = dup_n(w->elsewhere, w->nelsewhere, sizeof(*w->elsewhere));
	pl->r.nelsewhere = w->nelsewhere;
	return pl->rc = xs_plan_model(&pl->r);
}

static void plan_done(struct planning *pl)
{
	run_free(&pl->r);
	xs_config_free(&pl->cfg);
}

static size_t count_kind(const struct planning *pl, uint8_t kind)
{
	size_t i, n = 0;

	for (i = 0; i < pl->r.nops; i++)
		n += pl->r.ops[i].kind == kind;
	return n;
}

static size_t count_visible(const struct planning *pl)
{
	size_t i, n = 0;

	for (i = 0; i < pl->r.nops; i++)
		n += pl->r.ops[i].visible;
	return n;
}

/* The first op of kind (and its phase), or NULL. */
static const struct op *first_of(const struct planning *pl, uint8_t kind)
{
	size_t i;

	for (i = 0; i < pl->r.nops; i++)
		if (pl->r.ops[i].kind == kind)
			return &pl->r.ops[i];
	return NULL;
}

/* ---- The kernel, played by hand ---- */

static int route_key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct apply_route_key));
}

static int u32_key_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int rec_key_cmp(const void *a, const void *b)
{
	return strncmp(a, b, XS_TUNNEL_NAME_LEN);
}

/* Put (or with del, remove) elem in the array v of *n, identified by cmp. */
static void put(void *v, size_t *n, size_t cap, size_t size, const void *elem,
		int (*cmp)(const void *, const void *), bool del)
{
	char *p = v;
	size_t i;

	for (i = 0; i < *n; i++)
		if (!cmp(p + i * size, elem))
			break;
	if (del) {
		if (i < *n) {
			memmove(p + i * size, p + (i + 1) * size, (*n - i - 1) * size);
			(*n)--;
		}
		return;
	}
	if (i == *n) {
		assert_true(*n < cap);
		(*n)++;
	}
	memcpy(p + i * size, elem, size);
}

#define PUT(w, arr, elem, cmp, del)                                                  \
	put((w)->arr, &(w)->n##arr, sizeof((w)->arr) / sizeof((w)->arr[0]),           \
	    sizeof((w)->arr[0]), (elem), (cmp), (del))

static uint32_t next_idx(const struct world *w)
{
	uint32_t idx = 1;
	size_t i;

	for (i = 0; i < w->nslots; i++)
		if (w->slots[i].v.tunnel_idx >= idx)
			idx = w->slots[i].v.tunnel_idx + 1;
	return idx;
}

/* Route key k leads to group index gid (and to nothing else). */
static void set_group(struct world *w, const struct apply_route_key *k, uint32_t gid)
{
	struct xs_group_ent e = { .key = *k, .gid = gid };

	assert_true(w->gtab[gid].n > 0);
	e.g = w->gtab[gid];
	PUT(w, routes, k, route_key_cmp, true);
	PUT(w, groups, &e, route_key_cmp, false);
}

/* Do ops[0..n) to w, in order, as exec_ops() would make the kernel do. */
static void play(struct world *w, struct op *ops, size_t n)
{
	size_t i, k;

	for (i = 0; i < n; i++) {
		struct op *op = &ops[i];

		switch (op->kind) {
		case OP_SA_ADD:
		case OP_SA_DEL:
			PUT(w, ksa, op->u.sa, ksa_cmp, op->kind == OP_SA_DEL);
			break;
		case OP_POL_ADD:
		case OP_POL_UPD:
		case OP_POL_DEL:
			PUT(w, kpol, op->u.pol.pol, kpol_cmp, op->kind == OP_POL_DEL);
			break;
		case OP_ROUTE_SET: {
			struct xs_route_ent e = { .key = op->u.route.key };

			if (op->u.route.exact && !op->u.route.old.tunnel_idx) {
				set_group(w, &op->u.route.key, op->u.route.old.if_id);
				break;
			}
			e.val.if_id = op->u.route.if_id;
			for (k = 0; k < w->nslots; k++)
				if (w->slots[k].if_id == e.val.if_id)
					e.val.tunnel_idx = w->slots[k].v.tunnel_idx;
			PUT(w, groups, &op->u.route.key, route_key_cmp, true);
			PUT(w, routes, &e, route_key_cmp, false);
			break;
		}
		case OP_ROUTE_DEL:
			PUT(w, routes, &op->u.route.key, route_key_cmp, true);
			PUT(w, groups, &op->u.route.key, route_key_cmp, true);
			break;
		case OP_GROUP_SET: {
			uint32_t gid = 1;
			struct route_group g = *op->u.group.g;

			while (w->gtab[gid].n)
				gid++;
			assert_true(gid < 16);
			for (uint32_t m = 0; m < g.n; m++) {
				for (k = 0; k < w->nslots; k++)
					if (w->slots[k].if_id == g.nh[m].if_id)
						break;
				assert_true(k < w->nslots); /* slots first */
				g.nh[m].tunnel_idx = w->slots[k].v.tunnel_idx;
			}
			w->gtab[gid] = g;
			op->u.group.gid = gid;
			set_group(w, &op->u.group.key, gid);
			break;
		}
		case OP_GROUP_UNSET: {
			struct xs_route_ent e = { .key = op->u.group.key, .val = op->u.group.old };

			PUT(w, groups, &op->u.group.key, route_key_cmp, true);
			w->gtab[op->u.group.gid].n = 0;
			if (op->u.group.had_old && op->u.group.old.tunnel_idx)
				PUT(w, routes, &e, route_key_cmp, false);
			else if (op->u.group.had_old)
				set_group(w, &op->u.group.key, op->u.group.old.if_id);
			break;
		}
		case OP_GROUP_FREE:
			w->gtab[op->u.group.gid].n = 0;
			break;
		case OP_GROUP_PUT:
			w->gtab[op->u.group.gid] = *op->u.group.g;
			break;
		case OP_SLOT_ENSURE: {
			struct slot_ent s = { .if_id = op->u.slot.if_id };

			op->u.slot.created = true;
			for (k = 0; k < w->nslots; k++)
				if (w->slots[k].if_id == s.if_id)
					op->u.slot.created = false;
			s.v.tenant = op->u.slot.tenant;
			s.v.tunnel_idx = op->u.slot.restore ? op->u.slot.idx : next_idx(w);
			PUT(w, slots, &s, u32_key_cmp, false);
			break;
		}
		case OP_SLOT_REMOVE: {
			struct slot_ent s = { .if_id = op->u.slot.if_id };

			for (k = 0; k < w->nslots; k++)
				if (w->slots[k].if_id == s.if_id)
					op->u.slot.idx = w->slots[k].v.tunnel_idx;
			PUT(w, slots, &s, u32_key_cmp, true);
			break;
		}
		case OP_REC_PUT:
		case OP_REC_DEL: {
			struct xs_rec_ent e = { .key = op->u.rec.key };

			if (op->u.rec.rec)
				e.rec = *op->u.rec.rec;

			PUT(w, recs, &e, rec_key_cmp, op->kind == OP_REC_DEL);
			break;
		}
		case OP_OWN_PUT:
		case OP_OWN_DEL: {
			struct own_ent e = { .key = op->u.own.key, .val = op->u.own.val };

			PUT(w, owned, &e, route_key_cmp, op->kind == OP_OWN_DEL);
			break;
		}
		default:
			fail_msg("unknown op kind %u", op->kind);
		}
	}
}

/* Plan json on w and play the plan onto it: w is then what apply leaves. */
static void apply_on(struct world *w, const char *json, enum xs_scope scope)
{
	struct planning pl;

	if (plan_on(&pl, w, json, scope, NULL))
		fail_msg("plan failed: %s", pl.err);
	play(w, pl.r.ops, pl.r.nops);
	plan_done(&pl);
}

static void sort_world(struct world *w)
{
	qsort(w->ksa, w->nksa, sizeof(*w->ksa), ksa_cmp);
	qsort(w->kpol, w->nkpol, sizeof(*w->kpol), kpol_cmp);
	qsort(w->routes, w->nroutes, sizeof(*w->routes), route_key_cmp);
	qsort(w->groups, w->ngroups, sizeof(*w->groups), route_key_cmp);
	qsort(w->owned, w->nowned, sizeof(*w->owned), route_key_cmp);
	qsort(w->slots, w->nslots, sizeof(*w->slots), u32_key_cmp);
	qsort(w->recs, w->nrecs, sizeof(*w->recs), rec_key_cmp);
}

/* The same objects (records compared whole, routes by key and if_id). */
static void assert_same_world(struct world *a, struct world *b)
{
	size_t i;

	sort_world(a);
	sort_world(b);
	assert_int_equal(a->nksa, b->nksa);
	for (i = 0; i < a->nksa; i++)
		assert_int_equal(ksa_cmp(&a->ksa[i], &b->ksa[i]), 0);
	assert_int_equal(a->nkpol, b->nkpol);
	for (i = 0; i < a->nkpol; i++)
		assert_int_equal(kpol_cmp(&a->kpol[i], &b->kpol[i]), 0);
	assert_int_equal(a->nroutes, b->nroutes);
	for (i = 0; i < a->nroutes; i++) {
		assert_memory_equal(&a->routes[i].key, &b->routes[i].key, sizeof(a->routes[i].key));
		assert_int_equal(a->routes[i].val.if_id, b->routes[i].val.if_id);
	}
	assert_int_equal(a->ngroups, b->ngroups);
	for (i = 0; i < a->ngroups; i++) {
		assert_memory_equal(&a->groups[i].key, &b->groups[i].key, sizeof(a->groups[i].key));
		assert_true(xs_group_same(&a->gtab[a->groups[i].gid], &b->gtab[b->groups[i].gid]));
	}
	for (i = 0; i < 16; i++)
		assert_int_equal(a->gtab[i].n != 0, b->gtab[i].n != 0);
	assert_int_equal(a->nowned, b->nowned);
	for (i = 0; i < a->nowned; i++) {
		assert_memory_equal(&a->owned[i].key, &b->owned[i].key, sizeof(a->owned[i].key));
		assert_int_equal(a->owned[i].val.if_id, b->owned[i].val.if_id);
		assert_int_equal(a->owned[i].val.gen, b->owned[i].val.gen);
		assert_int_equal(a->owned[i].val.pad, b->owned[i].val.pad);
	}
	assert_int_equal(a->nslots, b->nslots);
	for (i = 0; i < a->nslots; i++) {
		assert_int_equal(a->slots[i].if_id, b->slots[i].if_id);
		assert_int_equal(a->slots[i].v.tenant, b->slots[i].v.tenant);
	}
	assert_int_equal(a->nrecs, b->nrecs);
	for (i = 0; i < a->nrecs; i++)
		assert_memory_equal(&a->recs[i], &b->recs[i], sizeof(a->recs[i]));
}

/* A route made by "route add": in the maps, no record of apply's. */
static void cli_route(struct world *w, const char *prefix, uint32_t tenant, uint32_t if_id)
{
	struct xs_route_ent e = { 0 };
	struct xs_prefix p;

	assert_int_equal(parse_prefix(prefix, &p, false), 0);
	e.key.family = (uint32_t)p.family;
	e.key.tenant = tenant;
	e.key.plen = p.plen;
	memcpy(e.key.addr, p.addr, 16);
	e.val.if_id = if_id;
	PUT(w, routes, &e, route_key_cmp, false);
}

/* A route to a group made by "route add ... nexthop": group index gid with
 * members a and b (weight 1), no record of apply's. */
static void cli_group(struct world *w, const char *prefix, uint32_t tenant, uint32_t gid,
		      uint32_t a, uint32_t b)
{
	struct apply_route_key k = { 0 };
	struct route_group *g = &w->gtab[gid];
	struct xs_prefix p;

	assert_int_equal(parse_prefix(prefix, &p, false), 0);
	k.family = (uint32_t)p.family;
	k.tenant = tenant;
	k.plen = p.plen;
	memcpy(k.addr, p.addr, 16);
	memset(g, 0, sizeof(*g));
	g->n = 2;
	g->tenant = tenant;
	g->nh[0] = (struct xs_nexthop){ .if_id = a, .tunnel_idx = 50 + gid, .weight = 1 };
	g->nh[1] = (struct xs_nexthop){ .if_id = b, .tunnel_idx = 60 + gid, .weight = 1 };
	set_group(w, &k, gid);
}

/* ---- Files ---- */

#define TUN(name, if_id, n, prefixes)                                                   \
	"{ \"name\": \"" name "\", \"dev\": \"ipsec0\", \"if_id\": " #if_id ",\n"         \
	"  \"tenant\": \"0x100\", \"local\": \"10.0." #n ".1\", \"remote\": \"10.0." #n   \
	".2\",\n"                                                                          \
	"  \"spi_in\": \"0x20" #n "0\", \"spi_out\": \"0x10" #n "0\",\n"                   \
	"  \"aead\": { \"name\": \"rfc4106(gcm(aes))\", \"icv_bits\": 128, \"key\": \"" KEY \
	"\" },\n"                                                                          \
	"  \"prefixes\": [ " prefixes " ] }"

#define LINK "\"links\": [ { \"name\": \"ipsec0\", \"tenant_key\": \"mark\", \"mark_mask\": \"0xff00\" } ]"

static const char f1[] = "{ " LINK ",\n \"tunnels\": [ " TUN("t1", 101, 1,
							 "\"192.168.1.0/24\", \"2001:db8:1::/64\"") " ],\n"
			 " \"routes\": [ { \"prefix\": \"10.9.0.0/16\", \"if_id\": 55, \"tenant\": \"0x100\" } ] }";

/* f1 with t1's IPv6 prefix gone, its loose route gone, and t2 new. */
static const char f2[] = "{ " LINK ",\n \"tunnels\": [ " TUN("t1", 101, 1, "\"192.168.1.0/24\"") ",\n" TUN(
	"t2", 102, 2, "\"192.168.2.0/24\"") " ] }";

/* ---- Tests ---- */

/* A new tunnel: its record before any of its objects, its SAs and
 * policies, its counters, and its routes last; every op in phase order. */
static void test_new_tunnel_order(void **state)
{
	const struct op *rec, *sa, *slot, *route;
	struct planning pl;
	struct world w;
	size_t i;

	(void)state;
	world_init(&w);
	assert_int_equal(plan_on(&pl, &w, f1, XS_SCOPE_FILE, NULL), 0);
	for (i = 1; i < pl.r.nops; i++)
		assert_true(pl.r.ops[i - 1].phase <= pl.r.ops[i].phase);
	assert_int_equal(count_kind(&pl, OP_SA_ADD), 2);
	assert_int_equal(count_kind(&pl, OP_POL_ADD), 6);
	assert_int_equal(count_kind(&pl, OP_ROUTE_SET), 3);
	assert_int_equal(count_kind(&pl, OP_SLOT_ENSURE), 2);
	assert_int_equal(count_kind(&pl, OP_OWN_PUT), 1);
	rec = first_of(&pl, OP_REC_PUT);
	sa = first_of(&pl, OP_SA_ADD);
	slot = first_of(&pl, OP_SLOT_ENSURE);
	route = first_of(&pl, OP_ROUTE_SET);
	assert_non_null(rec);
	assert_int_equal(rec->u.rec.rec->state, XS_TUN_ADDING);
	assert_true(rec < sa && sa < slot && slot < route);
	/* The record says ready after the last object. */
	assert_int_equal(pl.r.ops[pl.r.nops - 1].phase, PH_FINAL);
	plan_done(&pl);
}

/* What a plan made, the next plan of the same file leaves alone. */
static void test_idempotent(void **state)
{
	struct planning pl;
	struct world w;

	(void)state;
	world_init(&w);
	apply_on(&w, f1, XS_SCOPE_FILE);
	assert_int_equal(w.nrecs, 1);
	assert_int_equal(w.recs[0].rec.state, XS_TUN_READY);
	assert_int_equal(plan_on(&pl, &w, f1, XS_SCOPE_FILE, NULL), 0);
	assert_int_equal(count_visible(&pl), 0);
	assert_int_equal(pl.r.nops, 0);
	plan_done(&pl);
}

/* Rollback: the inverse of every op done, in reverse order, gives back
 * exactly what was there before the run. */
static void test_rollback_restores(void **state)
{
	struct world before, w;
	struct planning pl;
	struct op *inv;
	size_t i, n = 0;

	(void)state;
	world_init(&w);
	apply_on(&w, f1, XS_SCOPE_FILE);
	before = w;
	assert_int_equal(plan_on(&pl, &w, f2, XS_SCOPE_FILE, NULL), 0);
	assert_true(count_kind(&pl, OP_ROUTE_DEL) >= 2); /* t1's v6 prefix, the loose route */
	assert_true(count_kind(&pl, OP_SA_ADD) == 2); /* t2 */
	play(&w, pl.r.ops, pl.r.nops);
	inv = calloc(pl.r.nops + 1, sizeof(*inv));
	assert_non_null(inv);
	for (i = pl.r.nops; i-- > 0;)
		if (op_inverse(&pl.r.ops[i], &inv[n]))
			n++;
	play(&w, inv, n);
	assert_same_world(&w, &before);
	free(inv);
	plan_done(&pl);
}

/* Conflict: an SA the file's tunnel needs exists and is no tunnel's. */
static void test_conflict_foreign_sa(void **state)
{
	struct planning pl;
	struct world w;

	(void)state;
	world_init(&w);
	xs_sa_init(&w.ksa[0]);
	assert_int_equal(parse_addr("10.0.1.1", &w.ksa[0].src), 0);
	assert_int_equal(parse_addr("10.0.1.2", &w.ksa[0].dst), 0);
	w.ksa[0].spi = 0x1010;
	w.ksa[0].if_id = 7;
	w.nksa = 1;
	assert_int_not_equal(plan_on(&pl, &w, f1, XS_SCOPE_FILE, NULL), 0);
	assert_non_null(strstr(pl.err, "f.json: tunnels[0] (\"t1\")"));
	assert_non_null(strstr(pl.err, "0x00001010"));
	plan_done(&pl);
}

/* Ownership: a route made by "route add" is not the file's to remove. */
static void test_cli_route_left_alone(void **state)
{
	struct planning pl;
	struct world w;
	size_t i;

	(void)state;
	world_init(&w);
	apply_on(&w, f1, XS_SCOPE_FILE);
	cli_route(&w, "10.50.0.0/16", 0x100, 55);
	assert_int_equal(plan_on(&pl, &w, f2, XS_SCOPE_FILE, NULL), 0);
	for (i = 0; i < pl.r.nops; i++)
		if (pl.r.ops[i].kind == OP_ROUTE_DEL)
			assert_true(pl.r.ops[i].u.route.key.addr[1] != 50);
	plan_done(&pl);
}

/* Ownership is the same for tunnels: one tunnel add made is left alone by
 * a file that does not name it (and said to be), its routes too, and taken
 * over by a file that does; then it is the file's to remove. */
static void test_cli_tunnel_left_alone(void **state)
{
	static const char t9[] = "{ \"tunnels\": [ " TUN("t9", 109, 9, "\"192.168.9.0/24\"") " ] }";
	static const char f1_t9[] = "{ " LINK ",\n \"tunnels\": [ " TUN(
		"t1", 101, 1, "\"192.168.1.0/24\", \"2001:db8:1::/64\"") ",\n" TUN(
		"t9", 109, 9, "\"192.168.9.0/24\"") " ],\n"
		" \"routes\": [ { \"prefix\": \"10.9.0.0/16\", \"if_id\": 55, \"tenant\": \"0x100\" } ] }";
	struct planning pl;
	struct world w;
	size_t i;

	(void)state;
	world_init(&w);
	apply_on(&w, f1, XS_SCOPE_FILE);
	apply_on(&w, t9, XS_SCOPE_ADD);
	cli_route(&w, "10.50.0.0/16", 0x100, 55);
	assert_int_equal(plan_on(&pl, &w, f1, XS_SCOPE_FILE, NULL), 0);
	assert_int_equal(pl.r.nops, 0);
	assert_int_equal(pl.r.kept_tunnels, 1);
	assert_int_equal(pl.r.kept_routes, 1);
	assert_int_equal(pl.r.nkept, 2);
	assert_non_null(strstr(pl.r.kept[0], "tunnel \"t9\""));
	assert_non_null(strstr(pl.r.kept[1], "10.50.0.0/16"));
	plan_done(&pl);

	/* Named: taken over, nothing else changes. */
	assert_int_equal(plan_on(&pl, &w, f1_t9, XS_SCOPE_FILE, NULL), 0);
	assert_int_equal(pl.r.kept_tunnels, 0);
	for (i = 0; i < pl.r.nops; i++)
		assert_true(pl.r.ops[i].kind == OP_REC_PUT || pl.r.ops[i].kind == OP_OWN_PUT);
	assert_true(count_kind(&pl, OP_REC_PUT) >= 1);
	play(&w, pl.r.ops, pl.r.nops);
	plan_done(&pl);

	/* The file's now: a file without it removes it. */
	assert_int_equal(plan_on(&pl, &w, f1, XS_SCOPE_FILE, NULL), 0);
	assert_int_equal(count_kind(&pl, OP_REC_DEL), 1);
	assert_int_equal(count_kind(&pl, OP_SA_DEL), 2);
	plan_done(&pl);
}

/* "owner": "cli" (what show writes for them): a file that restores such
 * objects makes them if missing but does not own them. */
static void test_file_keeps_cli_owner(void **state)
{
	static const char saved[] = "{ " LINK ",\n \"tunnels\": [ " TUN(
		"t1", 101, 1, "\"192.168.1.0/24\", \"2001:db8:1::/64\"") " ],\n"
		" \"routes\": [ { \"prefix\": \"10.9.0.0/16\", \"if_id\": 55, \"tenant\": \"0x100\",\n"
		"   \"owner\": \"cli\" } ] }";
	static const char only_t1[] = "{ " LINK ",\n \"tunnels\": [ " TUN(
		"t1", 101, 1, "\"192.168.1.0/24\", \"2001:db8:1::/64\"") " ] }";
	struct planning pl;
	struct world w;

	(void)state;
	world_init(&w);
	assert_int_equal(plan_on(&pl, &w, saved, XS_SCOPE_FILE, NULL), 0);
	assert_int_equal(count_kind(&pl, OP_OWN_PUT), 0);
	assert_int_equal(count_kind(&pl, OP_ROUTE_SET), 3);
	play(&w, pl.r.ops, pl.r.nops);
	plan_done(&pl);
	/* Not the file's: a file without it leaves it, and says so. */
	assert_int_equal(plan_on(&pl, &w, only_t1, XS_SCOPE_FILE, NULL), 0);
	assert_int_equal(count_kind(&pl, OP_ROUTE_DEL), 0);
	assert_int_equal(pl.r.kept_routes, 1);
	plan_done(&pl);
}

/* Adoption: the file names a route "route add" made: recorded as the
 * file's, not made again; a later file without it removes it. */
static void test_route_adopted(void **state)
{
	static const char only_t1[] = "{ " LINK ",\n \"tunnels\": [ " TUN(
		"t1", 101, 1, "\"192.168.1.0/24\", \"2001:db8:1::/64\"") " ] }";
	struct planning pl;
	struct world w;

	(void)state;
	world_init(&w);
	apply_on(&w, only_t1, XS_SCOPE_FILE);
	cli_route(&w, "10.9.0.0/16", 0x100, 55);
	assert_int_equal(plan_on(&pl, &w, f1, XS_SCOPE_FILE, NULL), 0);
	assert_int_equal(count_kind(&pl, OP_ROUTE_SET), 0);
	assert_int_equal(count_kind(&pl, OP_OWN_PUT), 1);
	play(&w, pl.r.ops, pl.r.nops);
	plan_done(&pl);
	assert_int_equal(plan_on(&pl, &w, only_t1, XS_SCOPE_FILE, NULL), 0);
	assert_int_equal(count_kind(&pl, OP_ROUTE_DEL), 1);
	plan_done(&pl);
}

/* tunnel add may not take another tunnel's prefix; the error names it. */
static void test_prefix_of_another_tunnel(void **state)
{
	static const char t2[] = "{ \"tunnels\": [ " TUN("t2", 102, 2, "\"192.168.1.0/24\"") " ] }";
	struct planning pl;
	struct world w;

	(void)state;
	world_init(&w);
	apply_on(&w, f1, XS_SCOPE_FILE);
	assert_int_equal(plan_on(&pl, &w, t2, XS_SCOPE_ADD, NULL), -EEXIST);
	assert_non_null(strstr(pl.err, "t1"));
	plan_done(&pl);
}

/* A ready tunnel is not added again; one a killed run left half made is
 * finished by the next add of it. */
static void test_add_existing(void **state)
{
	static const char t1[] = "{ \"tunnels\": [ " TUN("t1", 101, 1, "\"192.168.1.0/24\"") " ] }";
	struct planning pl;
	struct world w;

	(void)state;
	world_init(&w);
	apply_on(&w, t1, XS_SCOPE_ADD);
	assert_int_equal(plan_on(&pl, &w, t1, XS_SCOPE_ADD, NULL), -EEXIST);
	assert_non_null(strstr(pl.err, "exists already"));
	plan_done(&pl);

	w.recs[0].rec.state = XS_TUN_ADDING;
	w.nksa = 1; /* the outbound SA was not made yet */
	assert_int_equal(plan_on(&pl, &w, t1, XS_SCOPE_ADD, NULL), 0);
	assert_int_equal(count_kind(&pl, OP_SA_ADD), 1);
	assert_int_equal(pl.r.ops[pl.r.nops - 1].kind, OP_REC_PUT);
	assert_int_equal(pl.r.ops[pl.r.nops - 1].u.rec.rec->state, XS_TUN_READY);
	plan_done(&pl);
}

/* tunnel del: steering goes first, then policies and SAs, the record
 * last, so that a run killed half way leaves a record for what is left. */
static void test_del_order(void **state)
{
	const struct op *route, *sa, *rec;
	struct planning pl;
	struct world w;

	(void)state;
	world_init(&w);
	apply_on(&w, f1, XS_SCOPE_FILE);
	assert_int_equal(plan_on(&pl, &w, NULL, XS_SCOPE_DEL, "t1"), 0);
	route = first_of(&pl, OP_ROUTE_DEL);
	sa = first_of(&pl, OP_SA_DEL);
	rec = first_of(&pl, OP_REC_DEL);
	assert_non_null(route);
	assert_non_null(sa);
	assert_non_null(rec);
	assert_true(route < sa && sa < rec);
	assert_int_equal(count_kind(&pl, OP_ROUTE_DEL), 2);
	assert_int_equal(count_kind(&pl, OP_POL_DEL), 6);
	/* The loose route of the file is not the tunnel's. */
	assert_int_equal(count_kind(&pl, OP_OWN_DEL), 0);
	plan_done(&pl);

	assert_int_equal(plan_on(&pl, &w, NULL, XS_SCOPE_DEL, "nope"), -ENOENT);
	assert_non_null(strstr(pl.err, "no tunnel \"nope\""));
	plan_done(&pl);
}

/* A tunnel's name is the namespace's: taken on another device, it is
 * refused to tunnel add and to apply alike, naming the device. */
static void test_name_is_the_namespaces(void **state)
{
	static const char t1[] = "{ \"tunnels\": [ " TUN("t1", 101, 1, "\"192.168.1.0/24\"") " ] }";
	struct planning pl;
	struct world w;

	(void)state;
	world_init(&w);
	snprintf(w.elsewhere[0].name, sizeof(w.elsewhere[0].name), "t1");
	snprintf(w.elsewhere[0].dev, sizeof(w.elsewhere[0].dev), "ipsec1");
	w.nelsewhere = 1;
	assert_int_equal(plan_on(&pl, &w, t1, XS_SCOPE_ADD, NULL), -EEXIST);
	assert_non_null(strstr(pl.err, "tunnel \"t1\": exists already on ipsec1"));
	plan_done(&pl);
	assert_int_equal(plan_on(&pl, &w, f1, XS_SCOPE_FILE, NULL), -EEXIST);
	assert_non_null(strstr(pl.err, "f.json: tunnels[0] (\"t1\"): exists already on ipsec1"));
	plan_done(&pl);
}

/* Route groups are route add's: no plain route takes a group's prefix, and
 * no plan removes the counters of a group's member. */
static void test_route_groups_left_alone(void **state)
{
	static const char t1[] = "{ \"tunnels\": [ " TUN("t1", 101, 1, "\"192.168.1.0/24\"") " ] }";
	struct planning pl;
	struct world w;
	struct xs_prefix p;

	(void)state;
	world_init(&w);
	assert_int_equal(parse_prefix("192.168.1.0/24", &p, false), 0);
	cli_group(&w, "192.168.1.0/24", 0x100, 1, 201, 202);
	assert_int_equal(plan_on(&pl, &w, t1, XS_SCOPE_ADD, NULL), -EEXIST);
	assert_non_null(strstr(pl.err, "is a route group"));
	plan_done(&pl);

	world_init(&w);
	apply_on(&w, t1, XS_SCOPE_ADD);
	cli_group(&w, "10.7.0.0/16", 0x100, 1, 101, 202);
	assert_int_equal(plan_on(&pl, &w, NULL, XS_SCOPE_DEL, "t1"), -EBUSY);
	assert_non_null(strstr(pl.err, "if_id 101 is a member of a route group"));
	plan_done(&pl);
}

#define GLINK "\"links\": [ { \"name\": \"ipsec0\", \"tenant_key\": \"mark\", \"mark_mask\": \"0xff00\" } ]"
#define GROUP(w1, members2)                                                                 \
	"{ " GLINK ", \"routes\": [ { \"prefix\": \"10.8.0.0/16\", \"tenant\": \"0x100\",\n"        \
	"  \"nexthops\": [ { \"if_id\": 201, \"weight\": " #w1 ", \"dscp\": [ 46 ] }" members2 \
	" ] } ] }"

static const char g1[] = GROUP(3, ", { \"if_id\": 202 }");
static const char g2[] = GROUP(1, ", { \"if_id\": 202 }, { \"if_id\": 203, \"backup\": true }");
static const char gplain[] = "{ " GLINK ", \"routes\": [ { \"prefix\": \"10.8.0.0/16\", "
			     "\"tenant\": \"0x100\", \"if_id\": 202 } ] }";
static const char gnone[] = "{ " GLINK ", \"routes\": [ ] }";

static size_t phase_of(const struct planning *pl, uint8_t kind)
{
	const struct op *op = first_of(pl, kind);

	return op ? op->phase : 0;
}

/* A file's group: a slot per member before the group, the ownership
 * record before the route; the plan of the same file then is empty. */
static void test_group_add(void **state)
{
	struct planning pl;
	struct world w;
	const struct op *op;

	(void)state;
	world_init(&w);
	assert_int_equal(plan_on(&pl, &w, g1, XS_SCOPE_FILE, NULL), 0);
	assert_int_equal(count_kind(&pl, OP_SLOT_ENSURE), 2);
	assert_int_equal(count_kind(&pl, OP_GROUP_SET), 1);
	assert_int_equal(count_kind(&pl, OP_OWN_PUT), 1);
	assert_int_equal(count_visible(&pl), 1);
	assert_true(phase_of(&pl, OP_SLOT_ENSURE) < phase_of(&pl, OP_GROUP_SET));
	op = first_of(&pl, OP_GROUP_SET);
	assert_int_equal(op->u.group.g->n, 2);
	assert_int_equal(op->u.group.g->nh[0].if_id, 201);
	assert_int_equal(op->u.group.g->nh[0].weight, 3);
	assert_true(op->u.group.g->nh[0].dscp == 1ull << 46);
	assert_int_equal(op->u.group.g->nh[1].weight, 1);
	assert_false(op->u.group.had_old);
	/* Recorded before it is made, with the group's digest. */
	assert_true(first_of(&pl, OP_OWN_PUT) < op);
	assert_int_equal(first_of(&pl, OP_OWN_PUT)->u.own.val.if_id, 0);
	assert_int_equal(first_of(&pl, OP_OWN_PUT)->u.own.val.pad, xs_group_digest(op->u.group.g));
	play(&w, pl.r.ops, pl.r.nops);
	plan_done(&pl);
	assert_int_equal(w.ngroups, 1);
	assert_int_equal(w.nroutes, 0);
	assert_int_equal(plan_on(&pl, &w, g1, XS_SCOPE_FILE, NULL), 0);
	assert_int_equal(pl.r.nops, 0);
	plan_done(&pl);
}

/* A change of weights or members: a new group, the route moved to it,
 * the old index freed last; undone, the world is what it was. */
static void test_group_change_rollback(void **state)
{
	static const char *const next[] = { g2, gplain, gnone };
	struct world before, w;
	struct planning pl;
	struct op *inv;
	size_t i, n, f;

	(void)state;
	for (f = 0; f < 3; f++) {
		world_init(&w);
		apply_on(&w, g1, XS_SCOPE_FILE);
		before = w;
		assert_int_equal(plan_on(&pl, &w, next[f], XS_SCOPE_FILE, NULL), 0);
		assert_int_equal(count_kind(&pl, OP_GROUP_FREE), 1);
		assert_int_equal(phase_of(&pl, OP_GROUP_FREE), PH_FINAL);
		assert_int_equal(count_kind(&pl, OP_GROUP_SET), f == 0);
		assert_int_equal(count_kind(&pl, OP_ROUTE_SET), f == 1);
		assert_int_equal(count_kind(&pl, OP_ROUTE_DEL), f == 2);
		play(&w, pl.r.ops, pl.r.nops);
		assert_int_equal(w.ngroups, f == 0);
		assert_int_equal(w.nroutes, f == 1);
		assert_int_equal(w.gtab[1].n, 0); /* the old index is free */
		inv = calloc(pl.r.nops + 1, sizeof(*inv));
		assert_non_null(inv);
		for (i = pl.r.nops, n = 0; i-- > 0;)
			if (op_inverse(&pl.r.ops[i], &inv[n]))
				n++;
		play(&w, inv, n);
		assert_same_world(&w, &before);
		free(inv);
		plan_done(&pl);
	}
	/* A plain route of the file becomes a group, and back. */
	world_init(&w);
	apply_on(&w, gplain, XS_SCOPE_FILE);
	assert_int_equal(plan_on(&pl, &w, g1, XS_SCOPE_FILE, NULL), 0);
	assert_true(first_of(&pl, OP_GROUP_SET)->u.group.had_old);
	assert_int_equal(first_of(&pl, OP_GROUP_SET)->u.group.old.if_id, 202);
	play(&w, pl.r.ops, pl.r.nops);
	plan_done(&pl);
	assert_int_equal(w.ngroups, 1);
	assert_int_equal(w.nroutes, 0);
	assert_int_equal(plan_on(&pl, &w, g1, XS_SCOPE_FILE, NULL), 0);
	assert_int_equal(pl.r.nops, 0);
	plan_done(&pl);
}

/* Ownership: route add's group is left alone (and said to be); one that
 * route add changed after apply made it is no longer apply's; a file that
 * names route add's group takes it over. */
static void test_group_ownership(void **state)
{
	struct planning pl;
	struct world w;

	(void)state;
	world_init(&w);
	cli_group(&w, "10.8.0.0/16", 0x100, 1, 201, 202);
	assert_int_equal(plan_on(&pl, &w, gnone, XS_SCOPE_FILE, NULL), 0);
	assert_int_equal(pl.r.nops, 0);
	assert_int_equal(pl.r.kept_routes, 1);
	assert_non_null(strstr(pl.r.kept[0], "10.8.0.0/16"));
	plan_done(&pl);

	world_init(&w);
	apply_on(&w, g1, XS_SCOPE_FILE);
	/* route add ... nexthop over it: another group at another index */
	cli_group(&w, "10.8.0.0/16", 0x100, 2, 201, 203);
	w.gtab[1].n = 0;
	assert_int_equal(plan_on(&pl, &w, gnone, XS_SCOPE_FILE, NULL), 0);
	assert_int_equal(count_kind(&pl, OP_ROUTE_DEL), 0);
	assert_int_equal(count_kind(&pl, OP_GROUP_FREE), 0);
	assert_int_equal(count_kind(&pl, OP_OWN_DEL), 1);
	assert_int_equal(pl.r.nnotices, 1);
	assert_non_null(strstr(pl.r.notices[0], "a group apply did not make"));
	plan_done(&pl);

	/* The same group made again at the index apply's had: still not
	 * apply's when its members differ. */
	world_init(&w);
	apply_on(&w, g1, XS_SCOPE_FILE);
	cli_group(&w, "10.8.0.0/16", 0x100, 1, 201, 202);
	assert_int_equal(plan_on(&pl, &w, gnone, XS_SCOPE_FILE, NULL), 0);
	assert_int_equal(count_kind(&pl, OP_ROUTE_DEL), 0);
	plan_done(&pl);

	world_init(&w);
	cli_group(&w, "10.8.0.0/16", 0x100, 1, 201, 202);
	assert_int_equal(plan_on(&pl, &w, g1, XS_SCOPE_FILE, NULL), 0);
	assert_int_equal(count_kind(&pl, OP_GROUP_SET), 1);
	assert_int_equal(count_kind(&pl, OP_GROUP_FREE), 1);
	play(&w, pl.r.ops, pl.r.nops);
	plan_done(&pl);
	assert_int_equal(plan_on(&pl, &w, gnone, XS_SCOPE_FILE, NULL), 0);
	assert_int_equal(count_kind(&pl, OP_ROUTE_DEL), 1);
	assert_int_equal(count_kind(&pl, OP_GROUP_FREE), 1);
	plan_done(&pl);
}

/* A run killed after it wrote a new group and moved the route, before it
 * freed the old index: the next run of a file frees it, and only that. */
static void test_group_orphan(void **state)
{
	struct planning pl;
	struct world w;

	(void)state;
	world_init(&w);
	apply_on(&w, g1, XS_SCOPE_FILE);
	w.gtab[5] = w.gtab[w.groups[0].gid]; /* named by no route */
	assert_int_equal(plan_on(&pl, &w, g1, XS_SCOPE_FILE, NULL), 0);
	assert_int_equal(pl.r.nops, 1);
	assert_int_equal(first_of(&pl, OP_GROUP_FREE)->u.group.gid, 5);
	play(&w, pl.r.ops, pl.r.nops);
	plan_done(&pl);
	assert_int_equal(w.gtab[5].n, 0);
	assert_true(w.gtab[w.groups[0].gid].n > 0);
	assert_int_equal(plan_on(&pl, &w, g1, XS_SCOPE_FILE, NULL), 0);
	assert_int_equal(pl.r.nops, 0);
	plan_done(&pl);
	/* tunnel add and del leave it to apply */
	w.gtab[5] = w.gtab[w.groups[0].gid];
	(void)plan_on(&pl, &w, NULL, XS_SCOPE_DEL, "nosuch");
	assert_int_equal(count_kind(&pl, OP_GROUP_FREE), 0);
	plan_done(&pl);
}

/* A member serves the group's tenant: another route of the file to it
 * with another tenant is refused at planning, naming the entry. */
static void test_group_member_tenant(void **state)
{
	static const char f[] = "{ " GLINK ", \"routes\": [ "
				"{ \"prefix\": \"10.8.0.0/16\", \"tenant\": \"0x100\", "
				"\"nexthops\": [ { \"if_id\": 201 }, { \"if_id\": 202 } ] },"
				"{ \"prefix\": \"10.9.0.0/16\", \"tenant\": \"0x200\", \"if_id\": 202 } ] }";
	struct planning pl;
	struct world w;

	(void)state;
	world_init(&w);
	assert_int_equal(plan_on(&pl, &w, f, XS_SCOPE_FILE, NULL), -EINVAL);
	assert_non_null(strstr(pl.err, "if_id 202 serves tenant"));
	assert_int_equal(pl.r.nops, 0);
	plan_done(&pl);
}

/* Limits: a plan over a table's size is refused before the first change,
 * naming the size and the option that raises it. */
static void test_limits(void **state)
{
	static const char three_v4[] = "{ " LINK ",\n \"tunnels\": [ " TUN(
		"t1", 101, 1, "\"192.168.1.0/24\", \"192.168.2.0/24\", \"192.168.3.0/24\"") " ] }";
	static const char two_v4_one_v6[] = "{ " LINK ",\n \"tunnels\": [ " TUN(
		"t1", 101, 1, "\"192.168.1.0/24\", \"192.168.2.0/24\", \"2001:db8::/64\"") " ] }";
	struct planning pl;
	struct world w;

	(void)state;
	world_init(&w);
	w.max_routes = 2;
	assert_int_equal(plan_on(&pl, &w, three_v4, XS_SCOPE_FILE, NULL), -ENOSPC);
	assert_non_null(strstr(pl.err, "is full (2 routes per family; this would make 3 IPv4 routes)"));
	assert_non_null(strstr(pl.err, "\"routes N\""));
	plan_done(&pl);
	assert_int_equal(plan_on(&pl, &w, two_v4_one_v6, XS_SCOPE_FILE, NULL), 0);
	plan_done(&pl);

	/* Routes that go make room for those that come. */
	w.max_routes = 3;
	apply_on(&w, f1, XS_SCOPE_FILE);
	assert_int_equal(plan_on(&pl, &w, three_v4, XS_SCOPE_FILE, NULL), 0);
	plan_done(&pl);

	world_init(&w);
	w.max_tunnels = 1;
	assert_int_equal(plan_on(&pl, &w, f1, XS_SCOPE_FILE, NULL), -ENOSPC);
	assert_non_null(strstr(pl.err, "tunnel table of \"ipsec0\" is full (1 tunnels; this would make 2)"));
	plan_done(&pl);
}

/* The rule of what a re-attach may change, shared by attach and apply. */
/* Per-CPU SAs: a tunnel sends from every CPU only with an SA for each, or
 * one without a CPU. */
static void test_sa_cpus_covered(void **state)
{
	static const uint32_t cpus[] = { 0, 1, 3 }; /* CPU 2 offline */
	uint32_t pcpu[4] = { 0 }, gap;

	(void)state;
	assert_false(xs_plan_sa_cpus_covered(pcpu, 0, cpus, 3, &gap));
	assert_int_equal(gap, XS_PCPU_ANY);
	pcpu[0] = XS_PCPU_ANY;
	assert_true(xs_plan_sa_cpus_covered(pcpu, 1, cpus, 3, &gap));
	pcpu[0] = 0;
	pcpu[1] = 3;
	assert_false(xs_plan_sa_cpus_covered(pcpu, 2, cpus, 3, &gap));
	assert_int_equal(gap, 1);
	pcpu[2] = 1;
	assert_true(xs_plan_sa_cpus_covered(pcpu, 3, cpus, 3, &gap));
	/* An SA of an offline CPU covers nothing else. */
	pcpu[2] = 2;
	assert_false(xs_plan_sa_cpus_covered(pcpu, 3, cpus, 3, &gap));
	assert_int_equal(gap, 1);
	pcpu[3] = XS_PCPU_ANY;
	assert_true(xs_plan_sa_cpus_covered(pcpu, 4, cpus, 3, &gap));
}

static void test_plan_attach(void **state)
{
	struct meta_value m = { .tenant_mode = XS_TENANT_MARK, .mark_mask = 0xff00,
				.max_routes = 100, .max_tunnels = 10, .flags = XS_CFG_RPF };
	struct attach_args a = { .dev = "ipsec0" }, eff;
	char why[256];

	(void)state;
	assert_int_equal(xs_plan_attach(&a, &m, &eff, why, sizeof(why)), 0);
	assert_int_equal(eff.tenant_mode, XS_TENANT_MARK);
	assert_int_equal(eff.mark_mask, 0xff00);
	assert_int_equal(eff.max_routes, 100);
	assert_int_equal(eff.flags, XS_CFG_RPF);

	a.flags = XS_CFG_MARK_INGRESS;
	a.flags_set = XS_CFG_MARK_INGRESS;
	assert_int_equal(xs_plan_attach(&a, &m, &eff, why, sizeof(why)), 0);
	assert_int_equal(eff.flags, XS_CFG_RPF | XS_CFG_MARK_INGRESS);

	a.have_tenant = true;
	a.tenant_mode = XS_TENANT_IIF;
	assert_int_equal(xs_plan_attach(&a, &m, &eff, why, sizeof(why)), -EEXIST);
	assert_non_null(strstr(why, "tenant-key mark 0xff00"));
	assert_non_null(strstr(why, "xfrm-steer detach dev ipsec0"));

	a.tenant_mode = XS_TENANT_MARK;
	a.mark_mask = 0xff00;
	a.have_routes = true;
	a.max_routes = 200;
	assert_int_equal(xs_plan_attach(&a, &m, &eff, why, sizeof(why)), -EEXIST);
	assert_non_null(strstr(why, "routes 100 tunnels 10"));

	/* mark-ingress needs a mark tenant key, attached or new. */
	memset(&a, 0, sizeof(a));
	a.dev = "ipsec0";
	a.flags = a.flags_set = XS_CFG_MARK_INGRESS;
	m.tenant_mode = XS_TENANT_NONE;
	assert_int_equal(xs_plan_attach(&a, &m, &eff, why, sizeof(why)), -EINVAL);
	assert_int_equal(xs_plan_attach(&a, NULL, &eff, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "needs tenant-key mark"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_tunnel_order),
		cmocka_unit_test(test_idempotent),
		cmocka_unit_test(test_rollback_restores),
		cmocka_unit_test(test_conflict_foreign_sa),
		cmocka_unit_test(test_cli_route_left_alone),
		cmocka_unit_test(test_cli_tunnel_left_alone),
		cmocka_unit_test(test_file_keeps_cli_owner),
		cmocka_unit_test(test_route_adopted),
		cmocka_unit_test(test_prefix_of_another_tunnel),
		cmocka_unit_test(test_add_existing),
		cmocka_unit_test(test_del_order),
		cmocka_unit_test(test_name_is_the_namespaces),
		cmocka_unit_test(test_route_groups_left_alone),
		cmocka_unit_test(test_group_add),
		cmocka_unit_test(test_group_change_rollback),
		cmocka_unit_test(test_group_ownership),
		cmocka_unit_test(test_group_member_tenant),
		cmocka_unit_test(test_group_orphan),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_plan_attach),
		cmocka_unit_test(test_sa_cpus_covered),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

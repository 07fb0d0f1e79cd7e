// SPDX-License-Identifier: GPL-2.0
/*
 * xfrm-steer apply and show: converge the kernel to a declarative file, and
 * print what is there in the same form.
 *
 * The engine (xs_converge) reads what there is, plans every change as one
 * operation with the state it replaces, runs the plan in a fixed order of
 * phases, and on the first failure plays the operations done back in
 * reverse. The order is what makes a run killed at any point recoverable:
 * a tunnel's record is written before any kernel object it names is made
 * and deleted after the last of them is gone, so whatever exists is always
 * covered by a record, and the next run finds and finishes it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/stat.h>
#include <linux/netlink.h>
#include <linux/udp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "config.h"
#include "iifbind.h"
#include "keys.h"
#include "netlink.h"
#include "state.h"
#include "tunnel.h"
#include "xfrm.h"
#include "xfrm_steer.skel.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Grow *v (of elements of size) to hold n + 1; NULL when out of memory. */
static void *vec_slot(void *vp, size_t *cap, size_t n, size_t size)
{
	void **v = vp;
	void *p;

	if (n < *cap)
		return (char *)*v + n * size;
	/* Not realloc(): the vectors of SAs hold keys, and the old block
	 * must be wiped before it goes back to the allocator. */
	p = calloc(*cap ? *cap * 2 : 16, size);
	if (!p)
		return NULL;
	if (*v) {
		memcpy(p, *v, *cap * size);
		explicit_bzero(*v, *cap * size);
		free(*v);
	}
	*v = p;
	*cap = *cap ? *cap * 2 : 16;
	return (char *)*v + n * size;
}

/* qsort() and bsearch() want an array even when there is nothing in it. */
static void sort_n(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n)
		qsort(base, n, size, cmp);
}

static void *search_n(const void *key, const void *base, size_t n, size_t size,
		      int (*cmp)(const void *, const void *))
{
	return n ? bsearch(key, base, n, size, cmp) : NULL;
}

/* ---- Readers ---- */

int xs_recs_read(struct xs_state *st, struct xs_rec_ent **v, size_t *n)
{
	int fd = bpf_map__fd(st->skel->maps.tunnel_names);
	struct tunnel_name_key key, next;
	struct xs_rec_ent *e;
	size_t cap = 0;
	void *prev = NULL;

	*v = NULL;
	*n = 0;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		e = vec_slot(v, &cap, *n, sizeof(**v));
		if (!e)
			return -ENOMEM;
		e->key = key;
		e->key.name[sizeof(e->key.name) - 1] = '\0';
		if (bpf_map_lookup_elem(fd, &key, &e->rec))
			continue; /* deleted meanwhile */
		if (e->rec.magic != XS_TUNNEL_MAGIC)
			continue;
		(*n)++;
	}
	return errno == ENOENT ? 0 : -errno;
}

static int read_routes_family(struct xs_state *st, int family, struct xs_route_ent **v,
			      size_t *n, size_t *cap)
{
	int fd = family == AF_INET ? bpf_map__fd(st->skel->maps.routes_v4) :
				     bpf_map__fd(st->skel->maps.routes_v6);
	union {
		struct route_key_v4 v4;
		struct route_key_v6 v6;
	} key, next;
	struct xs_route_ent *e;
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		e = vec_slot(v, cap, *n, sizeof(**v));
		if (!e)
			return -ENOMEM;
		memset(e, 0, sizeof(*e));
		if (bpf_map_lookup_elem(fd, &key, &e->val))
			continue;
		e->key.family = (uint32_t)family;
		if (family == AF_INET) {
			e->key.tenant = key.v4.tenant;
			e->key.plen = key.v4.prefixlen - 32;
			memcpy(e->key.addr, &key.v4.addr, 4);
		} else {
			e->key.tenant = key.v6.tenant;
			e->key.plen = key.v6.prefixlen - 32;
			memcpy(e->key.addr, key.v6.addr, 16);
		}
		(*n)++;
	}
	return errno == ENOENT ? 0 : -errno;
}

int xs_routes_read(struct xs_state *st, struct xs_route_ent **v, size_t *n)
{
	size_t cap = 0;
	int err;

	*v = NULL;
	*n = 0;
	err = read_routes_family(st, AF_INET, v, n, &cap);
	if (!err)
		err = read_routes_family(st, AF_INET6, v, n, &cap);
	return err;
}

struct sa_vec {
	struct xs_sa *v;
	size_t n, cap;
};

static int sa_push_cb(const struct xs_sa *sa, void *data)
{
	struct sa_vec *sv = data;
	struct xs_sa *e = vec_slot(&sv->v, &sv->cap, sv->n, sizeof(*sv->v));

	if (!e)
		return -ENOMEM;
	*e = *sa;
	sv->n++;
	return 0;
}

int xs_sas_read(struct xs_ctx *ctx, struct xs_nl *nl, struct xs_sa **v, size_t *n)
{
	struct sa_vec sv = { 0 };
	int err = xs_sa_dump(ctx, nl, sa_push_cb, &sv);

	if (err == -ENOMEM)
		p_err(ctx, err, "out of memory");
	if (err) {
		xs_sas_free(sv.v, sv.cap);
		return err;
	}
	*v = sv.v;
	*n = sv.n;
	return 0;
}

void xs_sas_free(struct xs_sa *v, size_t n)
{
	if (v && n)
		explicit_bzero(v, n * sizeof(*v));
	free(v);
}

struct pol_vec {
	struct xs_policy *v;
	size_t n, cap;
};

static int pol_push_cb(const struct xs_policy *pol, void *data)
{
	struct pol_vec *pv = data;
	struct xs_policy *e = vec_slot(&pv->v, &pv->cap, pv->n, sizeof(*pv->v));

	if (!e)
		return -ENOMEM;
	*e = *pol;
	pv->n++;
	return 0;
}

int xs_pols_read(struct xs_ctx *ctx, struct xs_nl *nl, struct xs_policy **v, size_t *n)
{
	struct pol_vec pv = { 0 };
	int err = xs_policy_dump(ctx, nl, pol_push_cb, &pv);

	if (err == -ENOMEM)
		p_err(ctx, err, "out of memory");
	if (err) {
		free(pv.v);
		return err;
	}
	*v = pv.v;
	*n = pv.n;
	return 0;
}

static void set_addr(struct xs_prefix *p, uint32_t family, const __be32 *a)
{
	memset(p, 0, sizeof(*p));
	p->family = (int)family;
	p->plen = family == AF_INET ? 32 : 128;
	memcpy(p->addr, a, family == AF_INET ? 4 : 16);
}

void xs_rec_sas(const struct tunnel_rec *rec, struct xs_prefix *in_dst,
		struct xs_prefix *out_dst)
{
	set_addr(in_dst, rec->family, rec->local);
	set_addr(out_dst, rec->family, rec->remote);
}

static bool addr_eq(const struct xs_prefix *a, const struct xs_prefix *b)
{
	return a->family == b->family &&
	       !memcmp(a->addr, b->addr, a->family == AF_INET ? 4 : 16);
}

static bool wildcard(const struct xs_prefix *p)
{
	static const uint8_t zero[16];

	return p->plen == 0 && !memcmp(p->addr, zero, 16);
}

/* One of the wildcard policies a tunnel makes for its if_id. */
bool xs_pol_is_tunnels(const struct xs_policy *p, uint32_t if_id)
{
	return p->if_id == if_id && p->dir <= XFRM_POLICY_FWD && wildcard(&p->sel_src) &&
	       wildcard(&p->sel_dst);
}

unsigned int xs_rec_npolicies(const struct tunnel_rec *rec)
{
	/* Tunnel mode: out, in and fwd for both inner families; transport
	 * mode: out and in for the outer family. */
	return rec->mode == XFRM_MODE_TRANSPORT ? 2 : 6;
}

/* ---- The engine's state ---- */

/* Route keys: the file's and the maps' forms meet in apply_route_key. */
static void rkey_from(struct apply_route_key *k, const struct xs_prefix *p, uint32_t tenant)
{
	memset(k, 0, sizeof(*k));
	k->family = (uint32_t)p->family;
	k->tenant = tenant;
	k->plen = p->plen;
	memcpy(k->addr, p->addr, 16);
}

static const char *rkey_str(const struct apply_route_key *k, char *buf, size_t len)
{
	struct xs_prefix p = { .family = (int)k->family, .plen = (uint8_t)k->plen };
	char a[64];

	memcpy(p.addr, k->addr, 16);
	snprintf(buf, len, "%s tenant 0x%x", format_prefix(&p, a, sizeof(a)), k->tenant);
	return buf;
}

struct dev_run {
	char name[XS_IFNAME_LEN];
	struct xs_state st;
	bool open;
	bool fresh; /* dry run: not attached yet, so empty */
	uint32_t tenant_mode, mark_mask;
	struct xs_rec_ent *recs;
	bool *rec_scope; /* per record: this run may change or remove it */
	long *rec_want; /* per record: the wants[] entry for it, or -1 */
	size_t nrecs;
	/* if_ids whose routes are the run's to change (sorted): those of
	 * in-scope records and of the file's tunnels on this device. */
	uint32_t *tids;
	size_t ntids;
	struct xs_route_ent *routes;
	bool *route_leaves; /* per route: planned to go, or to lead elsewhere */
	size_t nroutes;
	struct own_ent {
		struct apply_route_key key;
		struct apply_route_value val;
	} *owned;
	size_t nowned;
	struct slot_ent {
		uint32_t if_id;
		struct tunnel_value v;
	} *slots;
	size_t nslots;
};

/* A tunnel of the file, resolved against its device. */
struct want {
	size_t idx; /* in cfg->tunnels */
	size_t dev;
	uint32_t tenant;
	struct tunnel_rec rec;
	struct xs_sa sa[2]; /* inbound, outbound */
	bool has_key[2];
	struct xs_policy pol[6];
	unsigned int npol;
};

/* A route of the file, tunnels' prefixes included. */
struct want_route {
	size_t dev;
	struct apply_route_key key;
	uint32_t if_id;
	int tunnel; /* index into wants, or -1 for a route of "routes" */
	size_t idx; /* in cfg->routes when tunnel < 0 */
};

enum op_kind {
	OP_SA_ADD,
	OP_SA_DEL,
	OP_POL_ADD,
	OP_POL_UPD,
	OP_POL_DEL,
	OP_ROUTE_SET,
	OP_ROUTE_DEL,
	OP_SLOT_ENSURE,
	OP_SLOT_REMOVE,
	OP_REC_PUT,
	OP_REC_DEL,
	OP_OWN_PUT,
	OP_OWN_DEL,
};

/* The order in which a plan runs; see the comment at the top. */
enum phase {
	PH_ROUTE_DEL = 1, /* stop steering into what goes */
	PH_SLOT_DEL,
	PH_POL_DEL,
	PH_SA_DEL,
	PH_REC, /* records: intent before the objects are made */
	PH_SA_ADD,
	PH_POL_ADD,
	PH_SLOT_ADD,
	PH_ROUTE_SET, /* steer once the tunnel is complete */
	PH_FINAL, /* records marked ready; bookkeeping */
};

/* Whom an operation is for, for messages. */
enum ent_kind {
	ENT_NONE,
	ENT_TUNNEL, /* cfg->tunnels[ent] */
	ENT_ROUTE, /* cfg->routes[ent] */
	ENT_REC, /* devs[dev].recs[ent]: a tunnel the file does not name */
	ENT_KROUTE, /* devs[dev].routes[ent]: a route the file does not name */
	ENT_KSA, /* ksa[ent]: an SA of no tunnel in the file */
	ENT_KPOL, /* kpol[ent] */
};

enum op_status { OS_PLANNED, OS_DONE, OS_NOOP, OS_FAILED };

struct op {
	uint8_t kind, phase, ent_kind, status;
	bool visible; /* a change to report; bookkeeping is not */
	size_t dev;
	size_t ent;
	int err;
	union {
		struct xs_sa sa;
		struct {
			struct xs_policy pol, old;
		} pol;
		struct {
			struct apply_route_key key;
			uint32_t if_id;
			bool had_old;
			/* An undo puts back the value it had, counter slot
			 * and all. */
			bool exact;
			struct route_value old;
		} route;
		struct {
			uint32_t if_id, tenant;
			bool created;
			/* An undo of a removal puts the slot back where it
			 * was, counters and all. */
			bool restore;
			uint32_t idx;
		} slot;
		struct {
			struct tunnel_name_key key;
			struct tunnel_rec rec, old;
			bool had_old;
		} rec;
		struct {
			struct apply_route_key key;
			struct apply_route_value val, old;
			bool had_old; /* a put that replaces a record */
		} own;
	} u;
};

/* A link step done before the devices are opened, with its inverse. */
struct link_step {
	size_t idx; /* cfg->links */
	enum { LS_CREATED, LS_ATTACHED, LS_REATTACHED } what;
	uint32_t old_flags; /* LS_REATTACHED: what to go back to */
};

struct run {
	struct xs_ctx *ctx;
	const struct xs_run_opts *o;
	struct xs_config_file *cfg;
	uint64_t gen;
	struct dev_run *devs;
	size_t ndevs;
	struct want *wants;
	size_t nwants;
	struct want_route *wroutes;
	size_t nwroutes, capwroutes;
	struct xs_sa *ksa;
	size_t nksa;
	bool *ksa_want, *ksa_own;
	const char **ksa_other; /* the tunnel out of scope it belongs to */
	struct xs_policy *kpol;
	size_t nkpol;
	bool *kpol_want, *kpol_own;
	const char **kpol_other;
	/* Records out of scope, by if_id (sorted): what may not be taken. */
	struct other_rec {
		uint32_t if_id;
		const char *name;
	} *others;
	size_t nothers;
	/* In-scope records by if_id (sorted), to name what is removed. */
	struct scope_rec {
		uint32_t if_id;
		size_t dev, rec;
	} *scoped;
	size_t nscoped;
	struct op *ops;
	size_t nops, capops;
	struct link_step links[3 * XS_CFG_MAX_LINKS + 1];
	size_t nlinks_done;
	size_t nfollowed; /* tenant-key iif: re-created interfaces followed */
	char **plan_lines; /* link steps a dry run would take */
	size_t nplan_lines, capplan_lines;
	struct xs_nl nl;
	bool nl_open;
	/* Test hooks (xs_converge()); -1 when not set. */
	long crash_after, fail_after;
	unsigned long count;
};

static const char *run_src(const struct run *r)
{
	return r->o->src;
}

/* 'file: tunnels[3] ("x")' for messages, or 'tunnel "x"' on the command
 * line. */
static const char *ent_label(const struct run *r, uint8_t kind, size_t dev, size_t ent,
			     char *buf, size_t len)
{
	char a[128];

	switch (kind) {
	case ENT_TUNNEL:
		if (r->o->src)
			xs_cfg_tunnel_label(r->cfg, ent, buf, len);
		else
			snprintf(buf, len, "tunnel \"%s\"", r->cfg->tunnels[ent].name);
		break;
	case ENT_ROUTE: {
		struct xs_prefix *p = &r->cfg->routes[ent].prefix;

		snprintf(buf, len, "routes[%zu] (%s)", ent, format_prefix(p, a, sizeof(a)));
		break;
	}
	case ENT_REC:
		snprintf(buf, len, "tunnel \"%s\"%s", r->devs[dev].recs[ent].key.name,
			 r->o->scope == XS_SCOPE_FILE ? " (not in the file)" : "");
		break;
	case ENT_KROUTE:
		snprintf(buf, len, "route %s dev %s (not in the file)",
			 rkey_str(&r->devs[dev].routes[ent].key, a, sizeof(a)), r->devs[dev].name);
		break;
	case ENT_KSA:
		snprintf(buf, len, "%s", xs_sa_name(&r->ksa[ent], a, sizeof(a)));
		break;
	case ENT_KPOL:
		snprintf(buf, len, "%s", xs_policy_name(&r->kpol[ent], a, sizeof(a)));
		break;
	default:
		snprintf(buf, len, "%s", r->devs[dev].name);
	}
	return buf;
}

/* Report err about an entry: "Error: file: tunnels[3] ("x"): why". */
static int __attribute__((format(printf, 6, 7)))
ent_err(const struct run *r, int err, uint8_t kind, size_t dev, size_t ent, const char *fmt,
	...)
{
	char label[256], msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ent_label(r, kind, dev, ent, label, sizeof(label));
	return p_err(r->ctx, err, "%s%s%s: %s", run_src(r) ? run_src(r) : "",
		     run_src(r) ? ": " : "", label, msg);
}

static const char *tenant_text(const struct dev_run *d, uint32_t tenant, char *buf, size_t len)
{
	if (d->tenant_mode == XS_TENANT_IIF && d->open)
		xs_iif_name(&d->st, tenant, buf, len);
	else if (d->tenant_mode == XS_TENANT_MARK)
		snprintf(buf, len, "0x%x", tenant);
	else
		snprintf(buf, len, "%u", tenant);
	return buf;
}

/* What an operation does, as a plan line or after "cannot ". */
static const char *op_text(const struct run *r, const struct op *op, char *buf, size_t len)
{
	const struct dev_run *d = &r->devs[op->dev];
	char a[256], t[32];

	switch (op->kind) {
	case OP_SA_ADD:
		snprintf(buf, len, "add %s if_id %u", xs_sa_name(&op->u.sa, a, sizeof(a)),
			 op->u.sa.if_id);
		break;
	case OP_SA_DEL:
		snprintf(buf, len, "remove %s if_id %u", xs_sa_name(&op->u.sa, a, sizeof(a)),
			 op->u.sa.if_id);
		break;
	case OP_POL_ADD:
		snprintf(buf, len, "add %s", xs_policy_name(&op->u.pol.pol, a, sizeof(a)));
		break;
	case OP_POL_UPD:
		snprintf(buf, len, "update %s", xs_policy_name(&op->u.pol.pol, a, sizeof(a)));
		break;
	case OP_POL_DEL:
		snprintf(buf, len, "remove %s", xs_policy_name(&op->u.pol.pol, a, sizeof(a)));
		break;
	case OP_ROUTE_SET: {
		struct apply_route_key k = op->u.route.key;
		struct xs_prefix p = { .family = (int)k.family, .plen = (uint8_t)k.plen };

		memcpy(p.addr, k.addr, 16);
		if (op->u.route.had_old)
			snprintf(buf, len, "change route %s tenant %s dev %s: if_id %u -> %u",
				 format_prefix(&p, a, sizeof(a)),
				 tenant_text(d, k.tenant, t, sizeof(t)), d->name,
				 op->u.route.old.if_id, op->u.route.if_id);
		else
			snprintf(buf, len, "add route %s tenant %s dev %s if_id %u",
				 format_prefix(&p, a, sizeof(a)),
				 tenant_text(d, k.tenant, t, sizeof(t)), d->name, op->u.route.if_id);
		break;
	}
	case OP_ROUTE_DEL: {
		struct apply_route_key k = op->u.route.key;
		struct xs_prefix p = { .family = (int)k.family, .plen = (uint8_t)k.plen };

		memcpy(p.addr, k.addr, 16);
		snprintf(buf, len, "remove route %s tenant %s dev %s if_id %u",
			 format_prefix(&p, a, sizeof(a)), tenant_text(d, k.tenant, t, sizeof(t)),
			 d->name, op->u.route.old.if_id);
		break;
	}
	case OP_SLOT_ENSURE:
		snprintf(buf, len, "set up counters of if_id %u on %s", op->u.slot.if_id, d->name);
		break;
	case OP_SLOT_REMOVE:
		snprintf(buf, len, "release counters of if_id %u on %s", op->u.slot.if_id,
			 d->name);
		break;
	case OP_REC_PUT:
		if (op->u.rec.rec.state == XS_TUN_READY)
			snprintf(buf, len, "complete the tunnel (dev %s, if_id %u)", d->name,
				 op->u.rec.rec.if_id);
		else if (op->u.rec.had_old)
			snprintf(buf, len, "update the tunnel (dev %s, if_id %u)", d->name,
				 op->u.rec.rec.if_id);
		else
			snprintf(buf, len, "add the tunnel (dev %s, if_id %u)", d->name,
				 op->u.rec.rec.if_id);
		break;
	case OP_REC_DEL:
		snprintf(buf, len, "remove the tunnel (dev %s, if_id %u)", d->name,
			 op->u.rec.old.if_id);
		break;
	case OP_OWN_PUT:
	case OP_OWN_DEL:
		snprintf(buf, len, "%s ownership of route %s on %s",
			 op->kind == OP_OWN_PUT ? "record" : "drop",
			 rkey_str(&op->u.own.key, a, sizeof(a)), d->name);
		break;
	default:
		snprintf(buf, len, "?");
	}
	return buf;
}

static struct op *op_new(struct run *r, uint8_t kind, uint8_t phase, size_t dev,
			 uint8_t ent_kind, size_t ent, bool visible)
{
	struct op *op = vec_slot(&r->ops, &r->capops, r->nops, sizeof(*r->ops));

	if (!op)
		return NULL;
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	op->phase = phase;
	op->dev = dev;
	op->ent_kind = ent_kind;
	op->ent = ent;
	op->visible = visible;
	r->nops++;
	return op;
}

/* ---- Devices and links ---- */

static int find_dev(const struct run *r, const char *name, size_t *i)
{
	for (*i = 0; *i < r->ndevs; (*i)++)
		if (!strcmp(r->devs[*i].name, name))
			return 0;
	return -ENOENT;
}

static int add_dev(struct run *r, const char *name)
{
	size_t i;
	struct dev_run *d;

	if (!find_dev(r, name, &i))
		return 0;
	d = realloc(r->devs, (r->ndevs + 1) * sizeof(*d));
	if (!d)
		return -ENOMEM;
	r->devs = d;
	d = &r->devs[r->ndevs++];
	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->st.lock_fd = -1;
	return 0;
}

static int dev_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dev_run *)a)->name, ((const struct dev_run *)b)->name);
}

/* The pinned meta of a device, without a word if there is none. */
static int read_meta_quiet(struct xs_ctx *ctx, const char *dev, struct meta_value *m,
			   bool *complete)
{
	char dir[XS_DIR_MAX], path[PATH_MAX + 32];
	uint32_t zero = 0;
	struct stat sb;
	int fd, err = 0;

	*complete = false;
	err = xs_pin_dir(ctx, dev, dir, sizeof(dir));
	if (err)
		return err;
	snprintf(path, sizeof(path), "%s/meta", dir);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -ENOENT;
	if (bpf_map_lookup_elem(fd, &zero, m) || m->magic != XS_META_MAGIC)
		err = -EPROTO;
	close(fd);
	/* Attached by a version without the maps of named tunnels: attach
	 * again (an upgrade in place) creates them. */
	snprintf(path, sizeof(path), "%s/tunnel_names", dir);
	*complete = !stat(path, &sb);
	snprintf(path, sizeof(path), "%s/apply_routes", dir);
	*complete = *complete && !stat(path, &sb);
	return err;
}

static int plan_line(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int plan_line(struct run *r, const char *fmt, ...)
{
	char **slot;
	va_list ap;
	int n;

	slot = vec_slot(&r->plan_lines, &r->capplan_lines, r->nplan_lines,
			sizeof(*r->plan_lines));
	if (!slot)
		return -ENOMEM;
	va_start(ap, fmt);
	n = vasprintf(slot, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	r->nplan_lines++;
	return 0;
}

static const char *mode_word(uint32_t mode)
{
	return mode == XS_TENANT_MARK ? "mark" : mode == XS_TENANT_IIF ? "iif" : "none";
}

static int run_cmd(struct run *r, int (*fn)(struct xs_ctx *, int, char **), char **argv)
{
	int argc = 0;

	while (argv[argc])
		argc++;
	return fn(r->ctx, argc, argv);
}

/* Attach dev as the link entry says (flags: XS_CFG_* to use). */
static int attach_link(struct run *r, const struct xs_cfg_link *l, uint32_t flags, bool fresh)
{
	char mask[16], routes[16], tunnels[16];
	char *argv[20];
	int n = 0;

	argv[n++] = "dev";
	argv[n++] = (char *)l->name;
	if (fresh && l->have_tenant_key) {
		argv[n++] = "tenant-key";
		argv[n++] = (char *)mode_word(l->tenant_mode);
		if (l->tenant_mode == XS_TENANT_MARK) {
			snprintf(mask, sizeof(mask), "0x%x", l->mark_mask);
			argv[n++] = mask;
		}
	}
	argv[n++] = "rpf";
	argv[n++] = flags & XS_CFG_RPF ? "strict" : "off";
	argv[n++] = "mark-ingress";
	argv[n++] = flags & XS_CFG_MARK_INGRESS ? "on" : "off";
	if (fresh && l->have_max_routes) {
		snprintf(routes, sizeof(routes), "%u", l->max_routes);
		argv[n++] = "routes";
		argv[n++] = routes;
	}
	if (fresh && l->have_max_tunnels) {
		snprintf(tunnels, sizeof(tunnels), "%u", l->max_tunnels);
		argv[n++] = "tunnels";
		argv[n++] = tunnels;
	}
	argv[n] = NULL;
	return run_cmd(r, do_attach, argv);
}

static int link_undo(struct run *r)
{
	int err = 0;

	while (r->nlinks_done > 0) {
		struct link_step *s = &r->links[--r->nlinks_done];
		const struct xs_cfg_link *l = &r->cfg->links[s->idx];
		char *argv[4] = { NULL };
		int e;

		switch (s->what) {
		case LS_CREATED:
			argv[0] = "delete";
			argv[1] = (char *)l->name;
			e = run_cmd(r, do_link, argv);
			break;
		case LS_ATTACHED:
			argv[0] = "dev";
			argv[1] = (char *)l->name;
			e = run_cmd(r, do_detach, argv);
			break;
		default:
			e = attach_link(r, l, s->old_flags, false);
		}
		if (e)
			err = e;
	}
	return err;
}

/* Make every link of the file exist and be attached as it says. */
static int ensure_links(struct run *r)
{
	size_t i;
	int err;

	for (i = 0; i < r->cfg->nlinks; i++) {
		const struct xs_cfg_link *l = &r->cfg->links[i];
		struct xs_link_info li;
		struct meta_value m;
		uint32_t flags;
		bool complete, exists = if_nametoindex(l->name) != 0;
		char *argv[3];
		size_t di;

		if (r->nlinks_done + 3 > ARRAY_SIZE(r->links))
			return ent_err(r, -E2BIG, ENT_NONE, 0, 0, "too many links in one file");
		find_dev(r, l->name, &di);
		if (!exists) {
			if (r->o->dry_run) {
				plan_line(r, "links[%zu] (\"%s\"): create the interface", i, l->name);
				plan_line(r, "links[%zu] (\"%s\"): attach", i, l->name);
				r->devs[di].fresh = true;
				continue;
			}
			argv[0] = "add";
			argv[1] = (char *)l->name;
			argv[2] = NULL;
			err = run_cmd(r, do_link, argv);
			if (err)
				return p_err(r->ctx, err, "%s: links[%zu] (\"%s\"): not created",
					     run_src(r), i, l->name);
			r->links[r->nlinks_done++] = (struct link_step){ i, LS_CREATED, 0 };
		} else {
			err = xs_link_query(r->ctx, l->name, &li);
			if (err)
				return err;
			if (!li.is_xfrm || !li.external)
				return p_err(r->ctx, -EINVAL,
					     "%s: links[%zu] (\"%s\"): the device exists and is not an external xfrm interface",
					     run_src(r), i, l->name);
		}

		flags = XS_CFG_RPF;
		err = exists ? read_meta_quiet(r->ctx, l->name, &m, &complete) : -ENOENT;
		if (err && err != -ENOENT)
			return p_err(r->ctx, err, "%s: links[%zu] (\"%s\"): cannot read its pinned state: %s",
				     run_src(r), i, l->name, strerror(-err));
		if (!err) {
			if (l->have_tenant_key &&
			    (l->tenant_mode != m.tenant_mode ||
			     (l->tenant_mode == XS_TENANT_MARK && l->mark_mask != m.mark_mask)))
				return p_err(r->ctx, -EEXIST,
					     "%s: links[%zu] (\"%s\"): attached with tenant_key %s 0x%x; a new tenant key needs \"xfrm-steer detach dev %s\" first (which drops its routes)",
					     run_src(r), i, l->name, mode_word(m.tenant_mode),
					     m.mark_mask, l->name);
			if ((l->have_max_routes && l->max_routes != m.max_routes) ||
			    (l->have_max_tunnels && l->max_tunnels != m.max_tunnels))
				return p_err(r->ctx, -EEXIST,
					     "%s: links[%zu] (\"%s\"): attached with max_routes %u max_tunnels %u; resizing needs a detach first",
					     run_src(r), i, l->name, m.max_routes, m.max_tunnels);
			flags = m.flags;
		}
		if (l->have_rpf)
			flags = l->rpf ? flags | XS_CFG_RPF : flags & ~XS_CFG_RPF;
		if (l->have_mark_ingress)
			flags = l->mark_ingress ? flags | XS_CFG_MARK_INGRESS :
						  flags & ~XS_CFG_MARK_INGRESS;
		if (!err && flags == m.flags && complete)
			continue;
		if (r->o->dry_run) {
			plan_line(r, "links[%zu] (\"%s\"): %s", i, l->name,
				  err ? "attach" : complete ? "re-attach with new settings" :
							      "re-attach (upgrade its pinned state)");
			if (err)
				r->devs[di].fresh = true;
			else if (!complete)
				return p_err(r->ctx, -EOPNOTSUPP,
					     "%s: links[%zu] (\"%s\"): attached by an older version: a dry run cannot show the plan before it is attached again (run apply, or \"xfrm-steer attach dev %s\")",
					     run_src(r), i, l->name, l->name);
			continue;
		}
		if (flags & XS_CFG_MARK_INGRESS &&
		    (err ? !l->have_tenant_key || l->tenant_mode != XS_TENANT_MARK :
			   m.tenant_mode != XS_TENANT_MARK))
			return p_err(r->ctx, -EINVAL,
				     "%s: links[%zu] (\"%s\"): mark_ingress needs tenant_key mark",
				     run_src(r), i, l->name);
		if (attach_link(r, l, flags, err != 0))
			return p_err(r->ctx, -EIO, "%s: links[%zu] (\"%s\"): not attached",
				     run_src(r), i, l->name);
		r->links[r->nlinks_done++] = (struct link_step){
			i, err ? LS_ATTACHED : LS_REATTACHED, err ? 0 : m.flags
		};
	}
	return 0;
}

/* ---- Reading the devices ---- */

static int open_devs(struct run *r)
{
	char dir[XS_DIR_MAX];
	struct stat sb;
	size_t i, j;
	int err;

	sort_n(r->devs, r->ndevs, sizeof(*r->devs), dev_cmp);
	for (i = 0; i < r->ndevs; i++) {
		struct dev_run *d = &r->devs[i];

		if (d->fresh) {
			/* A dry run of a link to be made: its tenant key is
			 * the file's. */
			for (j = 0; j < r->cfg->nlinks; j++)
				if (!strcmp(r->cfg->links[j].name, d->name)) {
					d->tenant_mode = r->cfg->links[j].tenant_mode;
					d->mark_mask = r->cfg->links[j].mark_mask;
				}
			continue;
		}
		err = xs_pin_dir(r->ctx, d->name, dir, sizeof(dir));
		if (err)
			return err;
		if (stat(dir, &sb) && r->o->scope == XS_SCOPE_FILE)
			return p_err(r->ctx, -ENOENT,
				     "%s: device \"%s\" is not attached: list it under \"links\", or run \"xfrm-steer attach dev %s\"",
				     run_src(r), d->name, d->name);
		err = xs_state_open(r->ctx, d->name, XS_LOCK_EXCLUSIVE, &d->st);
		if (err)
			return err;
		d->open = true;
		d->tenant_mode = d->st.meta->tenant_mode;
		d->mark_mask = d->st.meta->mark_mask;
	}
	return 0;
}

static int rec_ent_cmp(const void *a, const void *b)
{
	return strncmp(((const struct xs_rec_ent *)a)->key.name,
		       ((const struct xs_rec_ent *)b)->key.name, XS_TUNNEL_NAME_LEN);
}

/* apply_route_key has no padding: its bytes compare. */
static int route_ent_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct apply_route_key));
}

static int own_ent_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct apply_route_key));
}

static int slot_ent_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int read_dev(struct run *r, struct dev_run *d)
{
	size_t cap = 0, i;
	int fd, err;

	if (!d->open)
		return 0;
	err = xs_recs_read(&d->st, &d->recs, &d->nrecs);
	if (!err)
		err = xs_routes_read(&d->st, &d->routes, &d->nroutes);
	if (err)
		return p_err(r->ctx, err, "cannot read the state of \"%s\": %s", d->name,
			     strerror(-err));
	d->rec_scope = calloc(d->nrecs + 1, sizeof(*d->rec_scope));
	d->rec_want = calloc(d->nrecs + 1, sizeof(*d->rec_want));
	d->route_leaves = calloc(d->nroutes + 1, sizeof(*d->route_leaves));
	if (!d->rec_scope || !d->rec_want || !d->route_leaves)
		return p_err(r->ctx, -ENOMEM, "out of memory");
	for (i = 0; i < d->nrecs; i++)
		d->rec_want[i] = -1;
	/* Sorted once, looked up by bsearch(): files of thousands of tunnels
	 * plan in n log n. */
	sort_n(d->recs, d->nrecs, sizeof(*d->recs), rec_ent_cmp);
	sort_n(d->routes, d->nroutes, sizeof(*d->routes), route_ent_cmp);

	{
		struct apply_route_key key, next;
		void *prev = NULL;

		fd = bpf_map__fd(d->st.skel->maps.apply_routes);
		while (!bpf_map_get_next_key(fd, prev, &next)) {
			struct own_ent *e;

			key = next;
			prev = &key;
			e = vec_slot(&d->owned, &cap, d->nowned, sizeof(*d->owned));
			if (!e)
				return p_err(r->ctx, -ENOMEM, "out of memory");
			e->key = key;
			if (!bpf_map_lookup_elem(fd, &key, &e->val))
				d->nowned++;
		}
	}
	{
		uint32_t key, next;
		void *prev = NULL;

		cap = 0;
		fd = bpf_map__fd(d->st.skel->maps.tunnels);
		while (!bpf_map_get_next_key(fd, prev, &next)) {
			struct slot_ent *e;

			key = next;
			prev = &key;
			e = vec_slot(&d->slots, &cap, d->nslots, sizeof(*d->slots));
			if (!e)
				return p_err(r->ctx, -ENOMEM, "out of memory");
			e->if_id = key;
			if (!bpf_map_lookup_elem(fd, &key, &e->v))
				d->nslots++;
		}
	}
	sort_n(d->owned, d->nowned, sizeof(*d->owned), own_ent_cmp);
	sort_n(d->slots, d->nslots, sizeof(*d->slots), slot_ent_cmp);
	return 0;
}

static struct xs_rec_ent *find_rec(struct dev_run *d, const char *name, size_t *idx)
{
	struct xs_rec_ent key, *e;

	memset(&key, 0, sizeof(key));
	snprintf(key.key.name, sizeof(key.key.name), "%s", name);
	e = search_n(&key, d->recs, d->nrecs, sizeof(*d->recs), rec_ent_cmp);
	if (e && idx)
		*idx = (size_t)(e - d->recs);
	return e;
}

/* Which records this run may change. */
static int set_scope(struct run *r)
{
	size_t i, j, k;

	for (i = 0; i < r->ndevs; i++) {
		struct dev_run *d = &r->devs[i];

		for (j = 0; j < d->nrecs; j++) {
			switch (r->o->scope) {
			case XS_SCOPE_FILE:
				d->rec_scope[j] = true;
				break;
			case XS_SCOPE_DEL:
				d->rec_scope[j] = !strcmp(d->recs[j].key.name, r->o->name);
				break;
			case XS_SCOPE_ADD:
				/* A tunnel add killed half way may be added
				 * again: it finishes what the first began. */
				for (k = 0; k < r->cfg->ntunnels; k++) {
					if (strcmp(d->recs[j].key.name, r->cfg->tunnels[k].name))
						continue;
					if (d->recs[j].rec.state == XS_TUN_READY)
						return p_err(r->ctx, -EEXIST,
							     "tunnel \"%s\" exists already on %s (\"xfrm-steer tunnel del %s\" first)",
							     r->cfg->tunnels[k].name, d->name,
							     r->cfg->tunnels[k].name);
					d->rec_scope[j] = true;
				}
				break;
			}
		}
	}
	return 0;
}

/* ---- Resolving the file's tunnels ---- */

static int resolve_tenant(const struct run *r, const struct dev_run *d,
			  const struct xs_cfg_tenant *t, uint32_t *out, uint8_t kind, size_t ent)
{
	*out = 0;
	if (!t->set)
		return 0;
	switch (d->tenant_mode) {
	case XS_TENANT_NONE:
		if (t->is_name || t->num)
			return ent_err(r, -EINVAL, kind, 0, ent,
				       "tenant: device \"%s\" is attached with tenant-key none, so the only tenant is 0",
				       d->name);
		return 0;
	case XS_TENANT_MARK:
		if (t->is_name)
			return ent_err(r, -EINVAL, kind, 0, ent,
				       "tenant: \"%s\" is not a mark value (device \"%s\" has tenant-key mark)",
				       t->name, d->name);
		if (t->num & ~d->mark_mask)
			return ent_err(r, -EINVAL, kind, 0, ent,
				       "tenant: 0x%x has bits outside the tenant mark mask 0x%x of device \"%s\"",
				       t->num, d->mark_mask, d->name);
		*out = t->num;
		return 0;
	case XS_TENANT_IIF:
		if (d->open) { /* binds the interface, unless a dry run (iifbind.h) */
			char num[16], why[320];
			int e;

			snprintf(num, sizeof(num), "%u", t->num);
			e = xs_iif_resolve((struct xs_state *)&d->st, t->is_name ? t->name : num,
					   r->o->dry_run ? XS_IIF_PLAN : XS_IIF_BIND, out, why,
					   sizeof(why));
			return e ? ent_err(r, e, kind, 0, ent, "%s", why) : 0;
		}
		if (!t->is_name) {
			*out = t->num;
			return 0;
		}
		*out = if_nametoindex(t->name);
		if (!*out)
			return ent_err(r, -ENODEV, kind, 0, ent,
				       "tenant: no interface \"%s\" (tenant-key iif takes an interface name or index)",
				       t->name);
		return 0;
	}
	return ent_err(r, -EPROTO, kind, 0, ent, "device \"%s\": unknown tenant mode %u", d->name,
		       d->tenant_mode);
}

/* A key of the file into a, reported with the entry's name. */
static int resolve_key(struct run *r, size_t ti, const char *kind, const char *which,
		       const char *ref, struct xs_alg *a)
{
	char what[256], label[160];
	size_t len;
	int err;

	ent_label(r, ENT_TUNNEL, 0, ti, label, sizeof(label));
	snprintf(what, sizeof(what), "%s%s%s: %s %s", run_src(r) ? run_src(r) : "",
		 run_src(r) ? ": " : "", label, kind, which);
	err = xs_key_parse(r->ctx, ref, what, a->key, sizeof(a->key), &len);
	a->key_len = (uint32_t)len;
	return err;
}

static void fill_alg(struct xs_alg *a, const struct xs_cfg_alg *c)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->name, sizeof(a->name), "%s", c->name);
	a->icv_bits = c->bits;
}

/* Everything of a tunnel that needs no device: its record but the tenant,
 * its SAs with the keys (files read here, before anything is changed),
 * its policies. */
static int build_want(struct run *r, size_t ti, struct want *w)
{
	const struct xs_cfg_tunnel *t = &r->cfg->tunnels[ti];
	static const struct {
		const char *kind;
		size_t off;
	} algs[] = {
		{ "aead", offsetof(struct xs_sa, aead) },
		{ "enc", offsetof(struct xs_sa, enc) },
		{ "auth", offsetof(struct xs_sa, auth) },
	};
	const struct xs_cfg_alg *ca[3] = { &t->aead, &t->enc, &t->auth };
	struct tunnel_rec *rec = &w->rec;
	int fams[2], nfam, err, i, k;
	unsigned int dir;

	memset(w, 0, sizeof(*w));
	w->idx = ti;
	rec->magic = XS_TUNNEL_MAGIC;
	rec->state = XS_TUN_READY;
	rec->gen = r->gen;
	rec->if_id = t->if_id;
	rec->family = (uint32_t)t->local.family;
	memcpy(rec->local, t->local.addr, 16);
	memcpy(rec->remote, t->remote.addr, 16);
	rec->spi_in = t->spi_in;
	rec->spi_out = t->spi_out;
	rec->reqid = t->reqid;
	rec->replay_window = t->replay_window;
	rec->mode = t->mode;
	rec->flags = t->esn ? XS_TUNF_ESN : 0;
	rec->encap_type = t->encap.type;
	rec->encap_sport = t->encap.sport;
	rec->encap_dport = t->encap.dport;
	rec->icv_bits = t->aead.name[0] ? t->aead.bits : 0;
	rec->trunc_bits = t->auth.name[0] ? t->auth.bits : 0;
	snprintf(rec->aead, sizeof(rec->aead), "%s", t->aead.name);
	snprintf(rec->enc, sizeof(rec->enc), "%s", t->enc.name);
	snprintf(rec->auth, sizeof(rec->auth), "%s", t->auth.name);

	for (i = 0; i < 2; i++) {
		struct xs_sa *sa = &w->sa[i];

		xs_sa_init(sa);
		sa->src = i == 0 ? t->remote : t->local;
		sa->dst = i == 0 ? t->local : t->remote;
		sa->spi = i == 0 ? t->spi_in : t->spi_out;
		sa->if_id = t->if_id;
		sa->reqid = t->reqid;
		sa->mode = t->mode;
		sa->replay_window = t->replay_window;
		/* One tunnel SA carries both inner families. */
		sa->flags = (t->mode == XFRM_MODE_TUNNEL ? XFRM_STATE_AF_UNSPEC : 0) |
			    (t->esn ? XFRM_STATE_ESN : 0);
		if (t->encap.type) {
			/* The file's ports are the outbound direction's:
			 * ours, then the peer's. */
			sa->encap.type = t->encap.type;
			sa->encap.sport = i == 0 ? t->encap.dport : t->encap.sport;
			sa->encap.dport = i == 0 ? t->encap.sport : t->encap.dport;
		}
		for (k = 0; k < 3; k++) {
			struct xs_alg *a = (struct xs_alg *)((char *)sa + algs[k].off);
			const char *ref;

			if (!ca[k]->name[0])
				continue;
			fill_alg(a, ca[k]);
			ref = i == 1 && ca[k]->key_out ? ca[k]->key_out : ca[k]->key;
			if (!ref)
				continue;
			err = resolve_key(r, ti, algs[k].kind,
					  i == 1 && ca[k]->key_out ? "key_out" : "key", ref, a);
			if (err)
				return err;
			w->has_key[i] = true;
		}
	}
	if (w->has_key[0]) {
		char why[256];

		for (i = 0; i < 2; i++)
			if (xs_sa_check(&w->sa[i], why, sizeof(why)))
				return ent_err(r, -EINVAL, ENT_TUNNEL, 0, ti, "%s", why);
	}

	/* The policies: every inner family a tunnel carries, each direction. */
	nfam = 0;
	if (t->mode == XFRM_MODE_TUNNEL) {
		fams[nfam++] = AF_INET;
		fams[nfam++] = AF_INET6;
	} else {
		fams[nfam++] = t->local.family;
	}
	for (i = 0; i < nfam; i++) {
		for (dir = XFRM_POLICY_IN; dir <= XFRM_POLICY_FWD; dir++) {
			struct xs_policy *p;
			bool out = dir == XFRM_POLICY_OUT;

			/* Forwarding is for tunnels: the traffic of a
			 * transport SA ends here. */
			if (dir == XFRM_POLICY_FWD && t->mode == XFRM_MODE_TRANSPORT)
				continue;
			p = &w->pol[w->npol++];
			xs_policy_init(p, (uint8_t)dir, fams[i]);
			p->if_id = t->if_id;
			p->ntmpl = 1;
			p->tmpl[0].src = out ? t->local : t->remote;
			p->tmpl[0].dst = out ? t->remote : t->local;
			p->tmpl[0].mode = t->mode;
			p->tmpl[0].reqid = t->reqid;
			p->tmpl[0].proto = IPPROTO_ESP;
		}
	}
	return 0;
}

static int build_all(struct run *r)
{
	size_t i;
	int err;

	r->wants = calloc(r->cfg->ntunnels + 1, sizeof(*r->wants));
	if (!r->wants)
		return p_err(r->ctx, -ENOMEM, "out of memory");
	for (i = 0; i < r->cfg->ntunnels; i++) {
		err = build_want(r, i, &r->wants[i]);
		r->nwants++;
		if (err)
			return err;
	}
	return 0;
}

static int wroute_cmp(const void *a, const void *b);

static uint8_t wr_kind(const struct want_route *wr)
{
	return wr->tunnel < 0 ? ENT_ROUTE : ENT_TUNNEL;
}

static size_t wr_ent(const struct run *r, const struct want_route *wr)
{
	return wr->tunnel < 0 ? wr->idx : r->wants[wr->tunnel].idx;
}

static int wroute_if_id_cmp(const void *a, const void *b)
{
	const struct want_route *x = *(const struct want_route *const *)a;
	const struct want_route *y = *(const struct want_route *const *)b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	return x->if_id < y->if_id ? -1 : x->if_id > y->if_id;
}

/* What needs the devices: which one, and the tenant in its terms. */
static int resolve_all(struct run *r)
{
	const struct want_route **by_id;
	char k[96];
	size_t i, j;
	int err;

	for (i = 0; i < r->nwants; i++) {
		struct want *w = &r->wants[i];
		const struct xs_cfg_tunnel *t = &r->cfg->tunnels[w->idx];

		if (find_dev(r, t->dev, &w->dev))
			return ent_err(r, -ENODEV, ENT_TUNNEL, 0, w->idx,
				       "device \"%s\" is not managed here", t->dev);
		err = resolve_tenant(r, &r->devs[w->dev], &t->tenant, &w->tenant, ENT_TUNNEL,
				     w->idx);
		if (err)
			return err;
		w->rec.tenant = w->tenant;
	}
	/* Routes: tunnels' prefixes, then the file's loose routes. */
	for (i = 0; i < r->nwants; i++) {
		const struct xs_cfg_tunnel *t = &r->cfg->tunnels[r->wants[i].idx];

		for (j = 0; j < t->nprefixes; j++) {
			struct want_route *wr = vec_slot(&r->wroutes, &r->capwroutes,
							 r->nwroutes, sizeof(*wr));

			if (!wr)
				return p_err(r->ctx, -ENOMEM, "out of memory");
			wr->dev = r->wants[i].dev;
			rkey_from(&wr->key, &t->prefixes[j], r->wants[i].tenant);
			wr->if_id = t->if_id;
			wr->tunnel = (int)i;
			r->nwroutes++;
		}
	}
	for (i = 0; i < r->cfg->nroutes; i++) {
		const struct xs_cfg_route *cr = &r->cfg->routes[i];
		struct want_route *wr;
		uint32_t tenant;
		size_t dev;

		if (find_dev(r, cr->dev, &dev))
			return ent_err(r, -ENODEV, ENT_ROUTE, 0, i, "device \"%s\" is not managed",
				       cr->dev);
		err = resolve_tenant(r, &r->devs[dev], &cr->tenant, &tenant, ENT_ROUTE, i);
		if (err)
			return err;
		wr = vec_slot(&r->wroutes, &r->capwroutes, r->nwroutes, sizeof(*wr));
		if (!wr)
			return p_err(r->ctx, -ENOMEM, "out of memory");
		wr->dev = dev;
		rkey_from(&wr->key, &cr->prefix, tenant);
		wr->if_id = cr->if_id;
		wr->tunnel = -1;
		wr->idx = i;
		r->nwroutes++;
	}
	/* After resolution two spellings of a tenant may meet: one route per
	 * key, and one tenant per if_id. Sorted, a clash is a neighbour. */
	sort_n(r->wroutes, r->nwroutes, sizeof(*r->wroutes), wroute_cmp);
	for (i = 1; i < r->nwroutes; i++) {
		const struct want_route *a = &r->wroutes[i], *b = &r->wroutes[i - 1];

		if (!wroute_cmp(a, b))
			return ent_err(r, -EEXIST, wr_kind(a), 0, wr_ent(r, a),
				       "route %s is given twice", rkey_str(&a->key, k, sizeof(k)));
	}
	by_id = calloc(r->nwroutes + 1, sizeof(*by_id));
	if (!by_id)
		return p_err(r->ctx, -ENOMEM, "out of memory");
	for (i = 0; i < r->nwroutes; i++)
		by_id[i] = &r->wroutes[i];
	sort_n(by_id, r->nwroutes, sizeof(*by_id), wroute_if_id_cmp);
	for (i = 1; i < r->nwroutes; i++) {
		const struct want_route *a = by_id[i], *b = by_id[i - 1];

		if (a->dev == b->dev && a->if_id == b->if_id && a->key.tenant != b->key.tenant) {
			err = ent_err(r, -EINVAL, wr_kind(a), 0, wr_ent(r, a),
				      "if_id %u serves tenant 0x%x in another entry; a tunnel serves one tenant",
				      a->if_id, b->key.tenant);
			free(by_id);
			return err;
		}
	}
	free(by_id);
	return 0;
}

/* ---- Planning ---- */

static bool alg_eq(const struct xs_alg *a, const struct xs_alg *b, bool keys)
{
	if (strcmp(a->name, b->name) || a->icv_bits != b->icv_bits)
		return false;
	if (!keys)
		return true;
	return a->key_len == b->key_len && !memcmp(a->key, b->key, a->key_len);
}

/* The same SA? keys: compare the keys too. */
static bool sa_eq(const struct xs_sa *a, const struct xs_sa *b, bool keys)
{
	const uint8_t fl = XFRM_STATE_AF_UNSPEC | XFRM_STATE_ESN;

	return addr_eq(&a->src, &b->src) && addr_eq(&a->dst, &b->dst) && a->spi == b->spi &&
	       a->if_id == b->if_id && a->reqid == b->reqid && a->mode == b->mode &&
	       (a->flags & fl) == (b->flags & fl) && a->replay_window == b->replay_window &&
	       a->encap.type == b->encap.type &&
	       (!a->encap.type ||
		(a->encap.sport == b->encap.sport && a->encap.dport == b->encap.dport)) &&
	       alg_eq(&a->aead, &b->aead, keys) && alg_eq(&a->enc, &b->enc, keys) &&
	       alg_eq(&a->auth, &b->auth, keys);
}

static bool pol_eq(const struct xs_policy *a, const struct xs_policy *b)
{
	unsigned int i;

	if (a->dir != b->dir || a->if_id != b->if_id || a->priority != b->priority ||
	    a->action != b->action || a->ntmpl != b->ntmpl ||
	    a->sel_src.family != b->sel_src.family || a->sel_src.plen != b->sel_src.plen ||
	    a->sel_dst.plen != b->sel_dst.plen || memcmp(a->sel_src.addr, b->sel_src.addr, 16) ||
	    memcmp(a->sel_dst.addr, b->sel_dst.addr, 16))
		return false;
	for (i = 0; i < a->ntmpl; i++) {
		const struct xs_tmpl *x = &a->tmpl[i], *y = &b->tmpl[i];

		if (!addr_eq(&x->src, &y->src) || !addr_eq(&x->dst, &y->dst) ||
		    x->mode != y->mode || x->reqid != y->reqid || x->spi != y->spi ||
		    (x->proto ? x->proto : IPPROTO_ESP) != (y->proto ? y->proto : IPPROTO_ESP))
			return false;
	}
	return true;
}

/* The kernel's SAs and policies are sorted by their keys once, so that a
 * file of thousands of tunnels is planned in n log n. */
static int ksa_cmp(const void *a, const void *b)
{
	const struct xs_sa *x = a, *y = b;

	if (x->spi != y->spi)
		return x->spi < y->spi ? -1 : 1;
	if (x->dst.family != y->dst.family)
		return x->dst.family < y->dst.family ? -1 : 1;
	return memcmp(x->dst.addr, y->dst.addr, 16);
}

static int kpol_cmp(const void *a, const void *b)
{
	const struct xs_policy *x = a, *y = b;

	if (x->if_id != y->if_id)
		return x->if_id < y->if_id ? -1 : 1;
	if (x->dir != y->dir)
		return x->dir < y->dir ? -1 : 1;
	if (x->sel_src.family != y->sel_src.family)
		return x->sel_src.family < y->sel_src.family ? -1 : 1;
	if (x->sel_src.plen != y->sel_src.plen)
		return x->sel_src.plen < y->sel_src.plen ? -1 : 1;
	if (x->sel_dst.plen != y->sel_dst.plen)
		return x->sel_dst.plen < y->sel_dst.plen ? -1 : 1;
	if (memcmp(x->sel_src.addr, y->sel_src.addr, 16))
		return memcmp(x->sel_src.addr, y->sel_src.addr, 16);
	return memcmp(x->sel_dst.addr, y->sel_dst.addr, 16);
}

/* The policy of the kernel with p's key (direction, selector, if_id). */
static long find_kpol(const struct run *r, const struct xs_policy *p)
{
	const struct xs_policy *k = search_n(p, r->kpol, r->nkpol, sizeof(*r->kpol), kpol_cmp);

	return k ? k - r->kpol : -1;
}

static long find_ksa(const struct run *r, const struct xs_prefix *dst, uint32_t spi)
{
	struct xs_sa key;
	const struct xs_sa *k;

	memset(&key, 0, sizeof(key));
	key.dst = *dst;
	key.spi = spi;
	k = search_n(&key, r->ksa, r->nksa, sizeof(*r->ksa), ksa_cmp);
	return k ? k - r->ksa : -1;
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Which SAs and policies of the kernel belong to the records in scope
 * (those at a record's places with its if_id), and which to another
 * tunnel: never taken over, even when they look like what is wanted. */
static int mark_owned(struct run *r)
{
	struct xs_prefix in, out;
	struct owner {
		uint32_t if_id;
		bool scope;
		const char *name;
	} *ids;
	size_t i, j, n = 0, cap = 1;
	struct owner *o;
	long k;

	for (i = 0; i < r->ndevs; i++)
		cap += r->devs[i].nrecs;
	ids = calloc(cap, sizeof(*ids));
	r->others = calloc(cap, sizeof(*r->others));
	r->scoped = calloc(cap, sizeof(*r->scoped));
	r->ksa_own = calloc(r->nksa + 1, sizeof(bool));
	r->kpol_own = calloc(r->nkpol + 1, sizeof(bool));
	r->ksa_other = calloc(r->nksa + 1, sizeof(char *));
	r->kpol_other = calloc(r->nkpol + 1, sizeof(char *));
	if (!ids || !r->others || !r->scoped || !r->ksa_own || !r->kpol_own || !r->ksa_other ||
	    !r->kpol_other) {
		free(ids);
		return p_err(r->ctx, -ENOMEM, "out of memory");
	}
	for (i = 0; i < r->ndevs; i++) {
		const struct dev_run *d = &r->devs[i];

		for (j = 0; j < d->nrecs; j++) {
			const struct tunnel_rec *rec = &d->recs[j].rec;
			long ks[2];
			int x;

			ids[n++] = (struct owner){ rec->if_id, d->rec_scope[j], d->recs[j].key.name };
			if (d->rec_scope[j])
				r->scoped[r->nscoped++] = (struct scope_rec){ rec->if_id, i, j };
			else
				r->others[r->nothers++] = (struct other_rec){ rec->if_id,
									      d->recs[j].key.name };
			xs_rec_sas(rec, &in, &out);
			ks[0] = find_ksa(r, &in, rec->spi_in);
			ks[1] = find_ksa(r, &out, rec->spi_out);
			for (x = 0; x < 2; x++) {
				k = ks[x];
				if (k < 0 || r->ksa[k].if_id != rec->if_id)
					continue;
				if (d->rec_scope[j])
					r->ksa_own[k] = true;
				else
					r->ksa_other[k] = d->recs[j].key.name;
			}
		}
	}
	sort_n(ids, n, sizeof(*ids), u32_cmp);
	/* The if_id comes first in both: u32_cmp() orders them by it. */
	sort_n(r->others, r->nothers, sizeof(*r->others), u32_cmp);
	sort_n(r->scoped, r->nscoped, sizeof(*r->scoped), u32_cmp);
	for (i = 0; i < r->nkpol; i++) {
		const struct xs_policy *p = &r->kpol[i];

		if (!xs_pol_is_tunnels(p, p->if_id))
			continue;
		o = search_n(&p->if_id, ids, n, sizeof(*ids), u32_cmp);
		if (!o)
			continue;
		/* Several records with one if_id (a broken state): any
		 * in scope makes the policy this run's. */
		while (o > ids && o[-1].if_id == p->if_id)
			o--;
		for (; o < ids + n && o->if_id == p->if_id; o++) {
			if (o->scope)
				r->kpol_own[i] = true;
			else
				r->kpol_other[i] = o->name;
		}
	}
	free(ids);
	return 0;
}

static bool ksa_owned(const struct run *r, long k)
{
	return k >= 0 && r->ksa_own[k];
}

static bool kpol_owned(const struct run *r, long k)
{
	return k >= 0 && r->kpol_own[k];
}

/* The SA a keyless tunnel keeps its key from: the kernel's at the wanted
 * place if it is this tunnel's, else the one its record names. */
static const struct xs_sa *key_source(const struct run *r, const struct want *w, int dir,
				      long k)
{
	const struct xs_rec_ent *re = find_rec(&r->devs[w->dev], r->cfg->tunnels[w->idx].name,
					       NULL);
	struct xs_prefix in, out;
	long o;

	if (k >= 0 && (ksa_owned(r, k) || sa_eq(&r->ksa[k], &w->sa[dir], false)))
		return &r->ksa[k];
	if (!re)
		return NULL;
	xs_rec_sas(&re->rec, &in, &out);
	o = find_ksa(r, dir == 0 ? &in : &out, dir == 0 ? re->rec.spi_in : re->rec.spi_out);
	if (o >= 0 && r->ksa[o].if_id == re->rec.if_id)
		return &r->ksa[o];
	return NULL;
}

static void copy_key(struct xs_alg *to, const struct xs_alg *from)
{
	/* Only into an algorithm the tunnel has: a key of another one is
	 * of no use, and a changed algorithm needs a new key anyway. */
	if (!to->name[0])
		return;
	memcpy(to->key, from->key, sizeof(to->key));
	to->key_len = from->key_len;
}

static void copy_keys(struct xs_sa *to, const struct xs_sa *from)
{
	copy_key(&to->aead, &from->aead);
	copy_key(&to->enc, &from->enc);
	copy_key(&to->auth, &from->auth);
}

/* An operation on an SA or policy of an in-scope tunnel, named after it:
 * the file's entry if the file has the tunnel, else its record. */
static struct op *op_owned(struct run *r, uint8_t kind, uint8_t phase, uint32_t if_id,
			   uint8_t ent_kind, size_t ent, bool visible)
{
	const struct scope_rec *sr;
	long w;

	sr = search_n(&if_id, r->scoped, r->nscoped, sizeof(*r->scoped), u32_cmp);
	if (!sr)
		return op_new(r, kind, phase, 0, ent_kind, ent, visible);
	w = r->devs[sr->dev].rec_want[sr->rec];
	if (w >= 0)
		return op_new(r, kind, phase, sr->dev, ENT_TUNNEL, r->wants[w].idx, visible);
	return op_new(r, kind, phase, sr->dev, ENT_REC, sr->rec, visible);
}

static int plan_sas(struct run *r)
{
	char name[128], why[256];
	size_t i;
	int dir;

	for (i = 0; i < r->nwants; i++) {
		struct want *w = &r->wants[i];

		for (dir = 0; dir < 2; dir++) {
			struct xs_sa *sa = &w->sa[dir];
			long k = find_ksa(r, &sa->dst, sa->spi);
			bool owned = ksa_owned(r, k);
			struct op *op;

			if (!w->has_key[dir]) {
				const struct xs_sa *src = key_source(r, w, dir, k);

				if (!src)
					return ent_err(r, -ENOKEY, ENT_TUNNEL, 0, w->idx,
						       "no key: the file gives none, and the tunnel has no %s SA to keep one from",
						       dir ? "outbound" : "inbound");
				copy_keys(sa, src);
				if (xs_sa_check(sa, why, sizeof(why)))
					return ent_err(r, -EINVAL, ENT_TUNNEL, 0, w->idx,
						       "%s (the SA's present key does not fit: give one)",
						       why);
			}
			if (k >= 0) {
				r->ksa_want[k] = true;
				if (!owned && r->ksa_other[k])
					return ent_err(r, -EEXIST, ENT_TUNNEL, 0, w->idx,
						       "%s is tunnel \"%s\"'s; pick another spi",
						       xs_sa_name(&r->ksa[k], name, sizeof(name)),
						       r->ksa_other[k]);
				if (sa_eq(&r->ksa[k], sa, true))
					continue; /* there already (ours, or adopted) */
				if (!owned)
					return ent_err(r, -EEXIST, ENT_TUNNEL, 0, w->idx,
						       "%s exists already and is not this tunnel's (if_id %u); remove it or pick another spi",
						       xs_sa_name(&r->ksa[k], name, sizeof(name)),
						       r->ksa[k].if_id);
				/* Keys and most settings of an SA cannot change
				 * in place: replace it. */
				op = op_new(r, OP_SA_DEL, PH_SA_DEL, w->dev, ENT_TUNNEL, w->idx, true);
				if (!op)
					return -ENOMEM;
				op->u.sa = r->ksa[k];
			}
			op = op_new(r, OP_SA_ADD, PH_SA_ADD, w->dev, ENT_TUNNEL, w->idx, true);
			if (!op)
				return -ENOMEM;
			op->u.sa = *sa;
		}
	}
	for (i = 0; i < r->nksa; i++) {
		struct op *op;

		if (r->ksa_want[i] || !ksa_owned(r, (long)i))
			continue;
		op = op_owned(r, OP_SA_DEL, PH_SA_DEL, r->ksa[i].if_id, ENT_KSA, i, true);
		if (!op)
			return -ENOMEM;
		op->u.sa = r->ksa[i];
	}
	return 0;
}

static int plan_policies(struct run *r)
{
	char name[200];
	size_t i;
	unsigned int j;

	for (i = 0; i < r->nwants; i++) {
		struct want *w = &r->wants[i];

		for (j = 0; j < w->npol; j++) {
			struct xs_policy *p = &w->pol[j];
			long k = find_kpol(r, p);
			struct op *op;

			if (k >= 0) {
				r->kpol_want[k] = true;
				if (!kpol_owned(r, k) && r->kpol_other[k])
					return ent_err(r, -EEXIST, ENT_TUNNEL, 0, w->idx,
						       "if_id %u is tunnel \"%s\"'s; pick another",
						       p->if_id, r->kpol_other[k]);
				if (pol_eq(&r->kpol[k], p))
					continue;
				if (!kpol_owned(r, k))
					return ent_err(r, -EEXIST, ENT_TUNNEL, 0, w->idx,
						       "%s exists already and is not this tunnel's; remove it or pick another if_id",
						       xs_policy_name(&r->kpol[k], name, sizeof(name)));
				/* A policy changes in place, without a
				 * moment in which there is none. */
				op = op_new(r, OP_POL_UPD, PH_POL_ADD, w->dev, ENT_TUNNEL, w->idx,
					    true);
				if (!op)
					return -ENOMEM;
				op->u.pol.pol = *p;
				op->u.pol.old = r->kpol[k];
				continue;
			}
			op = op_new(r, OP_POL_ADD, PH_POL_ADD, w->dev, ENT_TUNNEL, w->idx, true);
			if (!op)
				return -ENOMEM;
			op->u.pol.pol = *p;
		}
	}
	for (i = 0; i < r->nkpol; i++) {
		struct op *op;

		if (r->kpol_want[i] || !kpol_owned(r, (long)i))
			continue;
		op = op_owned(r, OP_POL_DEL, PH_POL_DEL, r->kpol[i].if_id, ENT_KPOL, i, true);
		if (!op)
			return -ENOMEM;
		op->u.pol.pol = r->kpol[i];
	}
	return 0;
}

static bool rec_same(const struct tunnel_rec *a, const struct tunnel_rec *b)
{
	struct tunnel_rec x = *a, y = *b;

	x.state = y.state = 0;
	x.gen = y.gen = 0;
	x.pad = y.pad = 0;
	return !memcmp(&x, &y, sizeof(x));
}

static int plan_records(struct run *r)
{
	const struct other_rec *other;
	size_t i, j, ri;

	for (i = 0; i < r->nwants; i++) {
		struct want *w = &r->wants[i];
		struct dev_run *d = &r->devs[w->dev];
		struct xs_rec_ent *re = find_rec(d, r->cfg->tunnels[w->idx].name, &ri);
		bool changed = !re || !rec_same(&re->rec, &w->rec);
		struct op *op;

		if (re && !d->rec_scope[ri])
			return ent_err(r, -EEXIST, ENT_TUNNEL, 0, w->idx, "exists already on %s",
				       d->name);
		if (re)
			d->rec_want[ri] = (long)i;
		/* An if_id is one tunnel's: its policies are keyed by it. */
		other = search_n(&w->rec.if_id, r->others, r->nothers, sizeof(*r->others),
				 slot_ent_cmp);
		if (other)
			return ent_err(r, -EEXIST, ENT_TUNNEL, 0, w->idx, "if_id %u is tunnel \"%s\"'s",
				       w->rec.if_id, other->name);
		if (changed) {
			op = op_new(r, OP_REC_PUT, PH_REC, w->dev, ENT_TUNNEL, w->idx, true);
			if (!op)
				return -ENOMEM;
			snprintf(op->u.rec.key.name, sizeof(op->u.rec.key.name), "%s",
				 r->cfg->tunnels[w->idx].name);
			op->u.rec.rec = w->rec;
			op->u.rec.rec.state = XS_TUN_ADDING;
			op->u.rec.had_old = re != NULL;
			if (re)
				op->u.rec.old = re->rec;
		}
		if (changed || re->rec.state != XS_TUN_READY) {
			op = op_new(r, OP_REC_PUT, PH_FINAL, w->dev, ENT_TUNNEL, w->idx, !changed);
			if (!op)
				return -ENOMEM;
			snprintf(op->u.rec.key.name, sizeof(op->u.rec.key.name), "%s",
				 r->cfg->tunnels[w->idx].name);
			op->u.rec.rec = w->rec;
			op->u.rec.had_old = true;
			op->u.rec.old = changed ? w->rec : re->rec;
			op->u.rec.old.state = XS_TUN_ADDING;
		}
	}
	for (i = 0; i < r->ndevs; i++) {
		struct dev_run *d = &r->devs[i];

		for (j = 0; j < d->nrecs; j++) {
			struct op *op;

			if (!d->rec_scope[j] || d->rec_want[j] >= 0)
				continue;
			op = op_new(r, OP_REC_DEL, PH_REC, i, ENT_REC, j, true);
			if (!op)
				return -ENOMEM;
			op->u.rec.key = d->recs[j].key;
			op->u.rec.old = d->recs[j].rec;
			op->u.rec.had_old = true;
		}
	}
	return 0;
}

static struct own_ent *find_own(struct dev_run *d, const struct apply_route_key *k)
{
	return search_n(k, d->owned, d->nowned, sizeof(*d->owned), own_ent_cmp);
}

static struct slot_ent *find_slot(struct dev_run *d, uint32_t if_id)
{
	return search_n(&if_id, d->slots, d->nslots, sizeof(*d->slots), slot_ent_cmp);
}

static const struct xs_route_ent *find_route(const struct dev_run *d,
					     const struct apply_route_key *k, size_t *idx)
{
	const struct xs_route_ent *e;

	e = search_n(k, d->routes, d->nroutes, sizeof(*d->routes), route_ent_cmp);
	if (e && idx)
		*idx = (size_t)(e - d->routes);
	return e;
}

/* The file's routes are sorted by device, then key. */
static int wroute_cmp(const void *a, const void *b)
{
	const struct want_route *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	return memcmp(&x->key, &y->key, sizeof(x->key));
}

static const struct want_route *find_wroute(const struct run *r, size_t dev,
					    const struct apply_route_key *k)
{
	struct want_route key = { .dev = dev, .key = *k };

	return search_n(&key, r->wroutes, r->nwroutes, sizeof(*r->wroutes), wroute_cmp);
}

/* if_ids of in-scope records and of the file's tunnels on d: every route
 * to them is theirs (apply) or about to be (the routes of a tunnel). */
static int collect_tids(struct run *r)
{
	size_t i, j;

	for (i = 0; i < r->ndevs; i++) {
		struct dev_run *d = &r->devs[i];

		d->tids = calloc(d->nrecs + r->nwants + 1, sizeof(*d->tids));
		if (!d->tids)
			return -ENOMEM;
		/* A tunnel add takes over the routes there are, removes
		 * none. */
		if (r->o->scope == XS_SCOPE_ADD)
			continue;
		for (j = 0; j < d->nrecs; j++)
			if (d->rec_scope[j])
				d->tids[d->ntids++] = d->recs[j].rec.if_id;
		for (j = 0; j < r->nwants; j++)
			if (r->wants[j].dev == i)
				d->tids[d->ntids++] = r->wants[j].rec.if_id;
		sort_n(d->tids, d->ntids, sizeof(*d->tids), slot_ent_cmp);
	}
	return 0;
}

static bool tunnel_if_id(const struct run *r, size_t dev, uint32_t if_id)
{
	const struct dev_run *d = &r->devs[dev];

	return search_n(&if_id, d->tids, d->ntids, sizeof(*d->tids), slot_ent_cmp) != NULL;
}

/* A prefix routed to a named tunnel that this run leaves alone is that
 * tunnel's: taking it would blackhole the other tunnel's prefix while its
 * record still lists it, and a later delete of either would remove the
 * other's route. Loose routes (route add, IKE's updown) are taken over, as
 * ever. The same rule for apply, tunnel add and route-of-a-file. */
static int check_route_owner(const struct run *r, size_t dev, const struct want_route *wr,
			     const struct xs_route_ent *c, uint8_t kind, size_t ent)
{
	const struct dev_run *d = &r->devs[dev];
	char a[128];
	size_t j;

	if (!c || c->val.if_id == wr->if_id)
		return 0;
	for (j = 0; j < d->nrecs; j++) {
		if (d->rec_scope[j] || d->recs[j].rec.if_id != c->val.if_id)
			continue;
		return ent_err(r, -EEXIST, kind, dev, ent,
			       "prefix %s belongs to tunnel \"%s\" (if_id %u); remove it there first (\"xfrm-steer tunnel del %s\") or choose another prefix",
			       rkey_str(&c->key, a, sizeof(a)), d->recs[j].key.name, c->val.if_id,
			       d->recs[j].key.name);
	}
	return 0;
}

static int plan_routes(struct run *r, size_t dev)
{
	struct dev_run *d = &r->devs[dev];
	struct op *op;
	size_t i, j;

	/* Routes that go: owned, and not in the file. */
	for (i = 0; i < d->nroutes; i++) {
		const struct xs_route_ent *c = &d->routes[i];
		struct own_ent *own = r->o->scope == XS_SCOPE_FILE ? find_own(d, &c->key) : NULL;
		bool tid = tunnel_if_id(r, dev, c->val.if_id);

		if ((!own && !tid) || find_wroute(r, dev, &c->key))
			continue;
		if (own && own->val.if_id != c->val.if_id) {
			/* Re-pointed since apply made it (`route add`,
			 * strongSwan's updown): the route is whoever's did
			 * that, not the file's to remove. Only its record
			 * goes. A route to a tunnel's if_id is the tunnel's
			 * all the same. */
			op = op_new(r, OP_OWN_DEL, PH_FINAL, dev, ENT_KROUTE, i, false);
			if (!op)
				return -ENOMEM;
			op->u.own.key = own->key;
			op->u.own.val = own->val;
			if (!tid) {
				char a[96];

				p_info(r->ctx,
				       "Notice: route %s dev %s steers to if_id %u, not to the "
				       "if_id %u apply made it for: left alone, no longer apply's",
				       rkey_str(&c->key, a, sizeof(a)), d->name, c->val.if_id,
				       own->val.if_id);
				continue;
			}
			own = NULL;
		}
		d->route_leaves[i] = true;
		op = op_new(r, OP_ROUTE_DEL, PH_ROUTE_DEL, dev, ENT_KROUTE, i, true);
		if (!op)
			return -ENOMEM;
		op->u.route.key = c->key;
		op->u.route.old = c->val;
		op->u.route.had_old = true;
		if (own) {
			op = op_new(r, OP_OWN_DEL, PH_ROUTE_DEL, dev, ENT_KROUTE, i, false);
			if (!op)
				return -ENOMEM;
			op->u.own.key = own->key;
			op->u.own.val = own->val;
		}
	}
	/* Routes the file wants. */
	for (j = 0; j < r->nwroutes; j++) {
		const struct want_route *wr = &r->wroutes[j];
		const struct xs_route_ent *c = NULL;
		size_t ci = 0;
		struct own_ent *own;
		uint8_t ek = wr->tunnel < 0 ? ENT_ROUTE : ENT_TUNNEL;
		size_t ent = wr->tunnel < 0 ? wr->idx : r->wants[wr->tunnel].idx;

		if (wr->dev != dev)
			continue;
		c = find_route(d, &wr->key, &ci);
		if (check_route_owner(r, dev, wr, c, ek, ent))
			return -EEXIST;
		own = find_own(d, &wr->key);
		/* A loose route is marked as the file's before it is made
		 * (and unmarked once it is a tunnel's), so that a run
		 * killed in between still knows it. */
		/* The record names the if_id apply steers the route to, so that
		 * a later run tells a route re-pointed by someone else from its
		 * own: a change of if_id by the file changes it too. */
		if (wr->tunnel < 0 && (!own || own->val.if_id != wr->if_id)) {
			op = op_new(r, OP_OWN_PUT,
				    c && c->val.if_id == wr->if_id ? PH_FINAL : PH_ROUTE_SET, dev, ek,
				    ent, false);
			if (!op)
				return -ENOMEM;
			op->u.own.key = wr->key;
			op->u.own.val.gen = r->gen;
			op->u.own.val.if_id = wr->if_id;
			if (own) {
				op->u.own.old = own->val;
				op->u.own.had_old = true;
			}
		}
		if (!c || c->val.if_id != wr->if_id) {
			op = op_new(r, OP_ROUTE_SET, PH_ROUTE_SET, dev, ek, ent, true);
			if (!op)
				return -ENOMEM;
			op->u.route.key = wr->key;
			op->u.route.if_id = wr->if_id;
			op->u.route.had_old = c != NULL;
			if (c) {
				op->u.route.old = c->val;
				d->route_leaves[ci] = true;
			}
		}
		if (wr->tunnel >= 0 && own && r->o->scope == XS_SCOPE_FILE) {
			op = op_new(r, OP_OWN_DEL, PH_FINAL, dev, ek, ent, false);
			if (!op)
				return -ENOMEM;
			op->u.own.key = own->key;
			op->u.own.val = own->val;
		}
	}
	/* Marks of loose routes that are gone by now. */
	for (i = 0; r->o->scope == XS_SCOPE_FILE && i < d->nowned; i++) {
		if (find_route(d, &d->owned[i].key, NULL) || find_wroute(r, dev, &d->owned[i].key))
			continue;
		op = op_new(r, OP_OWN_DEL, PH_FINAL, dev, ENT_NONE, 0, false);
		if (!op)
			return -ENOMEM;
		op->u.own.key = d->owned[i].key;
		op->u.own.val = d->owned[i].val;
	}
	return 0;
}

/* Counter slots: one per if_id the file steers to (its tunnel's, even
 * without prefixes, so that ingress knows its tenant), released with the
 * last route of a tunnel that goes. */
static int plan_slots(struct run *r, size_t dev)
{
	struct dev_run *d = &r->devs[dev];
	/* if_id first: u32_cmp() sorts both by it. */
	struct slot_want {
		uint32_t if_id, tenant;
		uint8_t ek;
		size_t ent;
	} *want, *sw;
	struct stay {
		uint32_t if_id;
		size_t route;
	} *stay, *left;
	size_t nwant = 0, nstay = 0, i;
	char a[96];
	int err = 0;

	want = calloc(r->nwants + r->nwroutes + 1, sizeof(*want));
	stay = calloc(d->nroutes + 1, sizeof(*stay));
	if (!want || !stay) {
		free(want);
		free(stay);
		return -ENOMEM;
	}
	for (i = 0; i < r->nwants; i++)
		if (r->wants[i].dev == dev)
			want[nwant++] = (struct slot_want){ r->wants[i].rec.if_id, r->wants[i].tenant,
							    ENT_TUNNEL, r->wants[i].idx };
	for (i = 0; i < r->nwroutes; i++) {
		const struct want_route *wr = &r->wroutes[i];

		if (wr->dev == dev && wr->tunnel < 0)
			want[nwant++] = (struct slot_want){ wr->if_id, wr->key.tenant, ENT_ROUTE,
							    wr->idx };
	}
	sort_n(want, nwant, sizeof(*want), u32_cmp);
	/* The routes that stay as they are, by the if_id they lead to. */
	for (i = 0; i < d->nroutes; i++)
		if (!d->route_leaves[i])
			stay[nstay++] = (struct stay){ d->routes[i].val.if_id, i };
	sort_n(stay, nstay, sizeof(*stay), u32_cmp);

	for (i = 0; i < nwant && !err; i++) {
		struct slot_ent *s = find_slot(d, want[i].if_id);
		struct op *op;

		if (i && want[i - 1].if_id == want[i].if_id)
			continue; /* one slot per if_id */
		if (s && s->v.tenant == want[i].tenant)
			continue;
		if (s) {
			left = search_n(&s->if_id, stay, nstay, sizeof(*stay), u32_cmp);
			if (left) {
				err = ent_err(r, -EEXIST, want[i].ek, dev, want[i].ent,
					      "if_id %u serves tenant 0x%x (route %s), and a tunnel serves one tenant",
					      want[i].if_id, s->v.tenant,
					      rkey_str(&d->routes[left->route].key, a, sizeof(a)));
				break;
			}
			op = op_new(r, OP_SLOT_REMOVE, PH_SLOT_DEL, dev, want[i].ek, want[i].ent,
				    false);
			if (!op) {
				err = -ENOMEM;
				break;
			}
			op->u.slot.if_id = s->if_id;
			op->u.slot.tenant = s->v.tenant;
			op->u.slot.idx = s->v.tunnel_idx;
		}
		op = op_new(r, OP_SLOT_ENSURE, PH_SLOT_ADD, dev, want[i].ek, want[i].ent, false);
		if (!op) {
			err = -ENOMEM;
			break;
		}
		op->u.slot.if_id = want[i].if_id;
		op->u.slot.tenant = want[i].tenant;
	}
	/* The slots of tunnels that go, once no route leads to them. */
	for (i = 0; !err && i < d->nrecs; i++) {
		uint32_t if_id = d->recs[i].rec.if_id;
		struct slot_ent *s = find_slot(d, if_id);
		struct op *op;

		if (!d->rec_scope[i] || !s)
			continue;
		sw = search_n(&if_id, want, nwant, sizeof(*want), u32_cmp);
		if (sw || search_n(&if_id, stay, nstay, sizeof(*stay), u32_cmp))
			continue;
		op = op_owned(r, OP_SLOT_REMOVE, PH_SLOT_DEL, if_id, ENT_REC, i, false);
		if (!op) {
			err = -ENOMEM;
			break;
		}
		op->dev = dev;
		op->u.slot.if_id = if_id;
		op->u.slot.tenant = s->v.tenant;
		op->u.slot.idx = s->v.tunnel_idx;
	}
	free(want);
	free(stay);
	return err;
}

/* Into the order of the phases, keeping the order of planning within one
 * (qsort() would not), in place: a counting sort gives each op its place,
 * then the permutation is applied cycle by cycle. Copying the ops into a
 * new array cost a big apply more than its planning. Ops of no phase are
 * dropped. */
static int sort_ops(struct run *r)
{
	size_t next[PH_FINAL + 1] = { 0 }, *pos, i, j, n = 0, tail;
	struct op tmp;
	uint8_t ph;

	pos = malloc((r->nops + 1) * sizeof(*pos));
	if (!pos)
		return -ENOMEM;
	for (i = 0; i < r->nops; i++) {
		ph = r->ops[i].phase;
		if (ph >= PH_ROUTE_DEL && ph <= PH_FINAL) {
			next[ph]++;
			n++;
		}
	}
	for (ph = PH_ROUTE_DEL, j = 0; ph <= PH_FINAL; ph++) {
		size_t count = next[ph];

		next[ph] = j;
		j += count;
	}
	tail = n;
	for (i = 0; i < r->nops; i++) {
		ph = r->ops[i].phase;
		pos[i] = ph >= PH_ROUTE_DEL && ph <= PH_FINAL ? next[ph]++ : tail++;
	}
	for (i = 0; i < r->nops; i++) {
		while (pos[i] != i) {
			j = pos[i];
			tmp = r->ops[j];
			r->ops[j] = r->ops[i];
			r->ops[i] = tmp;
			pos[i] = pos[j];
			pos[j] = j;
		}
	}
	explicit_bzero(&tmp, sizeof(tmp));
	if (n < r->nops)
		explicit_bzero(r->ops + n, (r->nops - n) * sizeof(*r->ops));
	r->nops = n;
	free(pos);
	return 0;
}

static int plan(struct run *r)
{
	size_t i;
	int err;

	r->ksa_want = calloc(r->nksa + 1, sizeof(bool));
	r->kpol_want = calloc(r->nkpol + 1, sizeof(bool));
	if (!r->ksa_want || !r->kpol_want)
		return p_err(r->ctx, -ENOMEM, "out of memory");
	err = plan_records(r);
	if (!err)
		err = plan_sas(r);
	if (!err)
		err = plan_policies(r);
	if (!err)
		err = collect_tids(r);
	for (i = 0; !err && i < r->ndevs; i++)
		err = plan_routes(r, i);
	for (i = 0; !err && i < r->ndevs; i++)
		err = plan_slots(r, i);
	if (!err)
		err = sort_ops(r);
	if (err == -ENOMEM)
		p_err(r->ctx, err, "out of memory");
	return err;
}

/* ---- Running the plan ---- */

static bool op_is_nl(const struct op *op)
{
	return op->kind <= OP_POL_DEL;
}

static struct nlmsghdr *enc_sa_del(void *buf, const struct xs_sa *sa)
{
	struct nlmsghdr *nlh = xs_nl_msg_zeroed(buf, XFRM_MSG_DELSA, 0);
	struct xfrm_usersa_id *id = mnl_nlmsg_put_extra_header(nlh, sizeof(*id));
	xfrm_address_t src;

	memcpy(&id->daddr, sa->dst.addr, sizeof(id->daddr));
	id->spi = htonl(sa->spi);
	id->family = (uint16_t)sa->dst.family;
	id->proto = IPPROTO_ESP;
	memset(&src, 0, sizeof(src));
	memcpy(&src, sa->src.addr, sizeof(src));
	mnl_attr_put(nlh, XFRMA_SRCADDR, sizeof(src), &src);
	return nlh;
}

static struct nlmsghdr *enc_pol_del(void *buf, const struct xs_policy *p)
{
	struct nlmsghdr *nlh = xs_nl_msg_zeroed(buf, XFRM_MSG_DELPOLICY, 0);
	struct xfrm_userpolicy_id *id = mnl_nlmsg_put_extra_header(nlh, sizeof(*id));

	id->sel.family = (uint16_t)p->sel_src.family;
	memcpy(&id->sel.saddr, p->sel_src.addr, sizeof(id->sel.saddr));
	memcpy(&id->sel.daddr, p->sel_dst.addr, sizeof(id->sel.daddr));
	id->sel.prefixlen_s = p->sel_src.plen;
	id->sel.prefixlen_d = p->sel_dst.plen;
	id->dir = p->dir;
	if (p->if_id)
		mnl_attr_put_u32(nlh, XFRMA_IF_ID, p->if_id);
	return nlh;
}

static struct nlmsghdr *op_encode(const struct op *op, void *buf)
{
	struct nlmsghdr *nlh;

	switch (op->kind) {
	case OP_SA_ADD:
		return xs_sa_encode(buf, &op->u.sa);
	case OP_SA_DEL:
		return enc_sa_del(buf, &op->u.sa);
	case OP_POL_ADD:
	case OP_POL_UPD:
		nlh = xs_policy_encode(buf, &op->u.pol.pol);
		/* UPDPOLICY replaces the policy with the same key in one
		 * step; NEWPOLICY refuses to (EEXIST), which is what an add
		 * must do. */
		if (nlh && op->kind == OP_POL_UPD)
			nlh->nlmsg_type = XFRM_MSG_UPDPOLICY;
		return nlh;
	case OP_POL_DEL:
		return enc_pol_del(buf, &op->u.pol.pol);
	}
	return NULL;
}

static void route_map_key(const struct dev_run *d, const struct apply_route_key *k, int *fd,
			  union {
				  struct route_key_v4 v4;
				  struct route_key_v6 v6;
			  } *mk)
{
	memset(mk, 0, sizeof(*mk));
	if (k->family == AF_INET) {
		mk->v4.prefixlen = 32 + k->plen;
		mk->v4.tenant = k->tenant;
		memcpy(&mk->v4.addr, k->addr, 4);
		*fd = bpf_map__fd(d->st.skel->maps.routes_v4);
	} else {
		mk->v6.prefixlen = 32 + k->plen;
		mk->v6.tenant = k->tenant;
		memcpy(mk->v6.addr, k->addr, 16);
		*fd = bpf_map__fd(d->st.skel->maps.routes_v6);
	}
}

/* A map operation; 0, 1 for "nothing was there to do", or -errno. */
static int op_map(struct run *r, struct op *op)
{
	struct dev_run *d = &r->devs[op->dev];
	union {
		struct route_key_v4 v4;
		struct route_key_v6 v6;
	} mk;
	struct route_value val;
	struct tunnel_value tv;
	int fd, err;

	switch (op->kind) {
	case OP_ROUTE_SET:
		route_map_key(d, &op->u.route.key, &fd, (void *)&mk);
		val.if_id = op->u.route.if_id;
		if (op->u.route.exact) {
			val = op->u.route.old;
		} else {
			/* Its slot was made in an earlier phase. */
			if (bpf_map_lookup_elem(bpf_map__fd(d->st.skel->maps.tunnels), &val.if_id,
						&tv))
				return -ENOENT;
			val.tunnel_idx = tv.tunnel_idx;
		}
		/* One update replaces the route in place. */
		if (bpf_map_update_elem(fd, &mk, &val, BPF_ANY))
			return -errno;
		xs_routes_changed(&d->st);
		return 0;
	case OP_ROUTE_DEL:
		route_map_key(d, &op->u.route.key, &fd, (void *)&mk);
		err = bpf_map_delete_elem(fd, &mk) ? -errno : 0;
		if (!err)
			xs_routes_changed(&d->st);
		return err == -ENOENT ? 1 : err;
	case OP_SLOT_ENSURE: {
		uint32_t idx;

		if (op->u.slot.restore) {
			tv.tunnel_idx = op->u.slot.idx;
			tv.tenant = op->u.slot.tenant;
			if (bpf_map_update_elem(bpf_map__fd(d->st.skel->maps.tunnels),
						&op->u.slot.if_id, &tv, BPF_NOEXIST))
				return -errno;
			return 0;
		}
		err = xs_tunnel_ensure(r->ctx, &d->st, op->u.slot.if_id, op->u.slot.tenant, &idx,
				       &op->u.slot.created);
		/* Reported already; the caller names the entry too. */
		return err ? -EALREADY : op->u.slot.created ? 0 : 1;
	}
	case OP_SLOT_REMOVE:
		err = xs_tunnel_remove(&d->st, op->u.slot.if_id);
		return err == -ENOENT ? 1 : err;
	case OP_REC_PUT:
		if (bpf_map_update_elem(bpf_map__fd(d->st.skel->maps.tunnel_names), &op->u.rec.key,
					&op->u.rec.rec, BPF_ANY))
			return -errno;
		return 0;
	case OP_REC_DEL:
		if (bpf_map_delete_elem(bpf_map__fd(d->st.skel->maps.tunnel_names),
					&op->u.rec.key))
			return errno == ENOENT ? 1 : -errno;
		return 0;
	case OP_OWN_PUT:
		if (bpf_map_update_elem(bpf_map__fd(d->st.skel->maps.apply_routes), &op->u.own.key,
					&op->u.own.val, BPF_ANY))
			return -errno;
		return 0;
	case OP_OWN_DEL:
		if (bpf_map_delete_elem(bpf_map__fd(d->st.skel->maps.apply_routes),
					&op->u.own.key))
			return errno == ENOENT ? 1 : -errno;
		return 0;
	}
	return -EINVAL;
}

static int op_fail(struct run *r, struct op *op, int err, const char *kmsg)
{
	char what[512];

	op->status = OS_FAILED;
	op->err = err;
	if (err == -EALREADY) /* xs_tunnel_ensure() said why; say for whom */
		return ent_err(r, err, op->ent_kind, op->dev, op->ent, "cannot %s",
			       op_text(r, op, what, sizeof(what)));
	op_text(r, op, what, sizeof(what));
	/* A full map says ENOSPC (tries) or E2BIG (hashes): name the table,
	 * its size and the option that sets it, never "Argument list too
	 * long". */
	if ((op->kind == OP_ROUTE_SET || op->kind == OP_OWN_PUT) && (err == -ENOSPC || err == -E2BIG))
		return ent_err(r, err, op->ent_kind, op->dev, op->ent,
			       "cannot %s: the route table of \"%s\" is full (%u routes per family); detach and attach again with \"routes N\" to raise it",
			       what, r->devs[op->dev].name, r->devs[op->dev].st.meta->max_routes);
	if (op->kind == OP_REC_PUT && (err == -ENOSPC || err == -E2BIG))
		return ent_err(r, err, op->ent_kind, op->dev, op->ent,
			       "cannot %s: the tunnel table of \"%s\" is full (%u tunnels); detach and attach again with \"tunnels N\" to raise it",
			       what, r->devs[op->dev].name, r->devs[op->dev].st.meta->max_tunnels);
	if (err == -EEXIST && op->kind == OP_SA_ADD)
		return ent_err(r, err, op->ent_kind, op->dev, op->ent,
			       "cannot %s: an SA with this dst and spi exists already", what);
	return ent_err(r, err, op->ent_kind, op->dev, op->ent, "cannot %s: %s", what,
		       kmsg && *kmsg ? kmsg : strerror(-err));
}

/* Note a failed operation: the first failure of a run is reported (and
 * stops it); in a rollback (best effort) failures are only kept, for the
 * caller to word. */
static void note_fail(struct run *r, struct op *op, int err, const char *kmsg, bool best_effort,
		      int *first)
{
	if (!best_effort && !*first) {
		*first = op_fail(r, op, err, kmsg);
		return;
	}
	op->status = OS_FAILED;
	op->err = err;
	if (!*first)
		*first = err;
}

/* The test hooks count every operation that took effect. */
static void count_done(struct run *r, unsigned long n)
{
	r->count += n;
	if (r->crash_after >= 0 && r->count >= (unsigned long)r->crash_after) {
		/* No cleanup of any kind: as if the power went. */
		kill(getpid(), SIGKILL);
		pause();
	}
}

static void print_op(struct run *r, const struct op *op, bool dry)
{
	char label[256], what[512];

	if (!op->visible || r->ctx->json)
		return;
	ent_label(r, op->ent_kind, op->dev, op->ent, label, sizeof(label));
	printf("%s%s: %s\n", dry ? "" : "  ", label, op_text(r, op, what, sizeof(what)));
}

/* Run ops[0..n) in order, netlink requests batched. best_effort: go on
 * after a failure (rollback); else stop at the first. Returns the first
 * error. */
static int exec_ops(struct run *r, struct op *ops, size_t n, bool best_effort)
{
	char buf[XS_NL_REQ_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct xs_nl_batch b;
	size_t i = 0, start, k;
	int *errs = NULL, first = 0;
	char(*msgs)[128] = NULL;

	/* The encoders want it all zero: kept so, request after request. */
	memset(buf, 0, sizeof(buf));
	xs_nl_batch_init(&b);
	errs = calloc(XS_NL_BATCH_MSGS * 4, sizeof(*errs));
	msgs = calloc(XS_NL_BATCH_MSGS * 4, sizeof(*msgs));
	if (!errs || !msgs) {
		free(errs);
		free(msgs);
		return p_err(r->ctx, -ENOMEM, "out of memory");
	}
	if (!best_effort)
		count_done(r, 0); /* XS_APPLY_CRASH_AFTER=0: before anything */
	while (i < n && (!first || best_effort)) {
		struct op *op = &ops[i];
		int err;

		if (!best_effort && r->fail_after >= 0 && r->count == (unsigned long)r->fail_after) {
			first = op_fail(r, op, -EIO, "failure injected by XS_APPLY_FAIL_AFTER");
			break;
		}
		if (!op_is_nl(op)) {
			err = op_map(r, op);
			if (err < 0) {
				note_fail(r, op, err, NULL, best_effort, &first);
			} else {
				op->status = err ? OS_NOOP : OS_DONE;
				if (r->ctx->verbose && !best_effort)
					print_op(r, op, false);
				if (!best_effort)
					count_done(r, 1);
			}
			i++;
			continue;
		}
		/* A run of netlink requests: as many as one batch takes,
		 * cut where a test hook wants to stop. */
		start = i;
		xs_nl_batch_reset(&b);
		while (i < n && op_is_nl(&ops[i]) && i - start < XS_NL_BATCH_MSGS * 4) {
			struct nlmsghdr *nlh;

			if (!best_effort && i > start &&
			    (r->count + (i - start) == (unsigned long)r->crash_after ||
			     r->count + (i - start) == (unsigned long)r->fail_after))
				break;
			nlh = op_encode(&ops[i], buf);
			if (!nlh || xs_nl_batch_add(&b, nlh)) {
				explicit_bzero(buf, sizeof(buf));
				note_fail(r, &ops[i], -ENOMEM, NULL, best_effort, &first);
				break;
			}
			/* Keys: wipe what the request used; the buffer is
			 * then all zero again for the next encoder. */
			explicit_bzero(buf, nlh->nlmsg_len);
			i++;
		}
		if (i == start) {
			if (!best_effort)
				break;
			i++; /* the one that could not be encoded */
			continue;
		}
		err = xs_nl_batch_run(&r->nl, &b, errs, msgs);
		for (k = 0; k < i - start; k++) {
			struct op *o = &ops[start + k];
			int e = err && errs[k] == -EIO ? err : errs[k];

			/* Gone already is what a removal wants. */
			if ((o->kind == OP_SA_DEL && e == -ESRCH) ||
			    (o->kind == OP_POL_DEL && e == -ENOENT)) {
				o->status = OS_NOOP;
			} else if (e) {
				note_fail(r, o, e, msgs[k], best_effort, &first);
			} else {
				o->status = OS_DONE;
				if (r->ctx->verbose && !best_effort)
					print_op(r, o, false);
			}
		}
		if (!best_effort && !first)
			count_done(r, i - start);
	}
	xs_nl_batch_free(&b);
	free(errs);
	free(msgs);
	return first;
}

/* The inverse of a done operation. */
static bool op_inverse(const struct op *op, struct op *inv)
{
	*inv = *op;
	inv->status = OS_PLANNED;
	switch (op->kind) {
	case OP_SA_ADD:
		inv->kind = OP_SA_DEL;
		break;
	case OP_SA_DEL:
		inv->kind = OP_SA_ADD;
		break;
	case OP_POL_ADD:
		inv->kind = OP_POL_DEL;
		break;
	case OP_POL_UPD:
		inv->u.pol.pol = op->u.pol.old;
		inv->u.pol.old = op->u.pol.pol;
		break;
	case OP_POL_DEL:
		inv->kind = OP_POL_ADD;
		break;
	case OP_ROUTE_SET:
		if (op->u.route.had_old) {
			inv->u.route.if_id = op->u.route.old.if_id;
			inv->u.route.exact = true;
		} else {
			inv->kind = OP_ROUTE_DEL;
		}
		break;
	case OP_ROUTE_DEL:
		inv->kind = OP_ROUTE_SET;
		inv->u.route.if_id = op->u.route.old.if_id;
		inv->u.route.had_old = false;
		inv->u.route.exact = true;
		break;
	case OP_SLOT_ENSURE:
		if (!op->u.slot.created)
			return false;
		inv->kind = OP_SLOT_REMOVE;
		break;
	case OP_SLOT_REMOVE:
		inv->kind = OP_SLOT_ENSURE;
		inv->u.slot.restore = true;
		break;
	case OP_REC_PUT:
		if (op->u.rec.had_old) {
			inv->u.rec.rec = op->u.rec.old;
		} else {
			inv->kind = OP_REC_DEL;
		}
		break;
	case OP_REC_DEL:
		inv->kind = OP_REC_PUT;
		inv->u.rec.rec = op->u.rec.old;
		break;
	case OP_OWN_PUT:
		if (op->u.own.had_old)
			inv->u.own.val = op->u.own.old;
		else
			inv->kind = OP_OWN_DEL;
		break;
	case OP_OWN_DEL:
		inv->kind = OP_OWN_PUT;
		break;
	default:
		return false;
	}
	return true;
}

static int rollback(struct run *r)
{
	struct op *inv;
	size_t i, n = 0;
	int err;

	inv = calloc(r->nops + 1, sizeof(*inv));
	if (!inv)
		return p_err(r->ctx, -ENOMEM, "out of memory: nothing rolled back");
	for (i = r->nops; i-- > 0;)
		if (r->ops[i].status == OS_DONE && op_inverse(&r->ops[i], &inv[n]))
			n++;
	err = exec_ops(r, inv, n, true);
	for (i = 0; i < n; i++) {
		if (inv[i].status == OS_FAILED) {
			char what[512];

			p_err(r->ctx, inv[i].err,
			      "rollback: cannot %s: %s; fix it by hand, or apply again",
			      op_text(r, &inv[i], what, sizeof(what)), strerror(-inv[i].err));
		}
	}
	explicit_bzero(inv, (r->nops + 1) * sizeof(*inv));
	free(inv);
	return err;
}

static long env_count(const char *name)
{
	const char *v = getenv(name);
	uint64_t n;

	if (!v || parse_u64(v, &n) || n > LONG_MAX)
		return -1;
	return (long)n;
}

static void run_free(struct run *r)
{
	size_t i;

	for (i = 0; i < r->ndevs; i++) {
		struct dev_run *d = &r->devs[i];

		if (d->open)
			xs_state_close(&d->st);
		free(d->recs);
		free(d->rec_scope);
		free(d->rec_want);
		free(d->tids);
		free(d->routes);
		free(d->route_leaves);
		free(d->owned);
		free(d->slots);
	}
	free(r->devs);
	if (r->wants)
		explicit_bzero(r->wants, (r->cfg->ntunnels + 1) * sizeof(*r->wants));
	free(r->wants);
	free(r->wroutes);
	free(r->others);
	free(r->scoped);
	xs_sas_free(r->ksa, r->nksa);
	free(r->ksa_want);
	free(r->ksa_own);
	free(r->ksa_other);
	free(r->kpol);
	free(r->kpol_want);
	free(r->kpol_own);
	free(r->kpol_other);
	if (r->ops && r->nops)
		explicit_bzero(r->ops, r->nops * sizeof(*r->ops));
	free(r->ops);
	for (i = 0; i < r->nplan_lines; i++)
		free(r->plan_lines[i]);
	free(r->plan_lines);
	if (r->nl_open)
		xs_nl_close(&r->nl);
}

/* Which devices the run manages, and for tunnel del which has the name. */
static int collect_devs(struct run *r)
{
	size_t i;
	int err = 0;

	switch (r->o->scope) {
	case XS_SCOPE_FILE:
		for (i = 0; !err && i < r->cfg->nlinks; i++)
			err = add_dev(r, r->cfg->links[i].name);
		for (i = 0; !err && i < r->cfg->ntunnels; i++)
			err = add_dev(r, r->cfg->tunnels[i].dev);
		for (i = 0; !err && i < r->cfg->nroutes; i++)
			err = add_dev(r, r->cfg->routes[i].dev);
		break;
	case XS_SCOPE_ADD:
		for (i = 0; !err && i < r->cfg->ntunnels; i++)
			err = add_dev(r, r->cfg->tunnels[i].dev);
		break;
	case XS_SCOPE_DEL:
		err = add_dev(r, r->o->dev);
		break;
	}
	return err ? p_err(r->ctx, err, "out of memory") : 0;
}

static void print_summary(struct run *r, size_t changes)
{
	const char *what = r->o->src ? r->o->src : "the command";

	if (r->ctx->json) {
		json_object *o = json_object_new_object(), *arr = json_object_new_array();
		char label[256], text[512], line[800];
		size_t i;

		for (i = 0; i < r->nplan_lines; i++)
			json_object_array_add(arr, json_object_new_string(r->plan_lines[i]));
		for (i = 0; i < r->nops; i++) {
			if (!r->ops[i].visible ||
			    (!r->o->dry_run && r->ops[i].status == OS_NOOP))
				continue;
			snprintf(line, sizeof(line), "%s: %s",
				 ent_label(r, r->ops[i].ent_kind, r->ops[i].dev, r->ops[i].ent,
					   label, sizeof(label)),
				 op_text(r, &r->ops[i], text, sizeof(text)));
			json_object_array_add(arr, json_object_new_string(line));
		}
		if (r->o->src)
			json_object_object_add(o, "file", json_object_new_string(r->o->src));
		json_object_object_add(o, "dry_run", json_object_new_boolean(r->o->dry_run));
		json_object_object_add(o, "changes", json_object_new_int64((int64_t)changes));
		json_object_object_add(o, "plan", arr);
		print_json(r->ctx, o);
		json_object_put(o);
		return;
	}
	if (r->o->scope != XS_SCOPE_FILE && !r->o->dry_run)
		return; /* tunnel add and del are quiet, like the other objects */
	if (!changes)
		printf("%s: nothing to do, the kernel matches %s\n", what,
		       r->o->src ? "it" : "the command");
	else if (r->o->dry_run)
		printf("%s: %zu change%s to make (dry run: nothing changed)\n", what, changes,
		       changes == 1 ? "" : "s");
	else
		printf("%s: %zu change%s made\n", what, changes, changes == 1 ? "" : "s");
}

/* tenant-key iif: a tenant the file names whose interface was made again
 * moves to it before the state is read (iifbind.h). */
static int follow_iif(struct run *r)
{
	const struct xs_config_file *c = r->cfg;
	size_t i, di;
	int err = 0;

	for (i = 0; err >= 0 && i < c->ntunnels + c->nroutes; i++) {
		bool tun = i < c->ntunnels;
		const char *dev = tun ? c->tunnels[i].dev : c->routes[i - c->ntunnels].dev;
		const struct xs_cfg_tenant *t = tun ? &c->tunnels[i].tenant :
						      &c->routes[i - c->ntunnels].tenant;

		if (t->is_name && !find_dev(r, dev, &di) && r->devs[di].open)
			err = xs_iif_follow(r->ctx, &r->devs[di].st, t->name);
		r->nfollowed += err > 0;
	}
	return err < 0 ? err : 0;
}

int xs_converge(struct xs_ctx *ctx, struct xs_config_file *want, const struct xs_run_opts *o)
{
	struct run r = { .ctx = ctx, .o = o, .cfg = want };
	struct timespec ts;
	size_t i, changes = 0;
	int err;

	clock_gettime(CLOCK_REALTIME, &ts);
	r.gen = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	r.crash_after = env_count("XS_APPLY_CRASH_AFTER");
	r.fail_after = env_count("XS_APPLY_FAIL_AFTER");

	err = collect_devs(&r);
	if (!err)
		err = build_all(&r);
	if (!err && o->scope == XS_SCOPE_FILE)
		err = ensure_links(&r);
	if (!err)
		err = open_devs(&r);
	if (!err && !o->dry_run)
		err = follow_iif(&r);
	for (i = 0; !err && i < r.ndevs; i++)
		err = read_dev(&r, &r.devs[i]);
	if (!err) {
		err = xs_nl_open(ctx, &r.nl, NETLINK_XFRM);
		r.nl_open = !err;
	}
	if (!err)
		err = xs_sas_read(ctx, &r.nl, &r.ksa, &r.nksa);
	if (!err)
		err = xs_pols_read(ctx, &r.nl, &r.kpol, &r.nkpol);
	if (!err) {
		sort_n(r.ksa, r.nksa, sizeof(*r.ksa), ksa_cmp);
		sort_n(r.kpol, r.nkpol, sizeof(*r.kpol), kpol_cmp);
		err = set_scope(&r);
	}
	if (!err)
		err = mark_owned(&r);
	if (!err && o->scope == XS_SCOPE_DEL) {
		bool found = false;
		size_t j;

		for (i = 0; i < r.ndevs; i++)
			for (j = 0; j < r.devs[i].nrecs; j++)
				found = found || r.devs[i].rec_scope[j];
		if (!found)
			err = p_err(ctx, -ENOENT, "no tunnel \"%s\" on %s", o->name, o->dev);
	}
	if (!err)
		err = resolve_all(&r);
	if (!err)
		err = plan(&r);
	if (err)
		goto fail;

	changes = r.nplan_lines;
	for (i = 0; i < r.nops; i++)
		changes += r.ops[i].visible;
	if (o->dry_run) {
		if (!ctx->json) {
			for (i = 0; i < r.nplan_lines; i++)
				printf("%s\n", r.plan_lines[i]);
			for (i = 0; i < r.nops; i++)
				print_op(&r, &r.ops[i], true);
		}
		print_summary(&r, changes);
		goto out;
	}
	err = exec_ops(&r, r.ops, r.nops, false);
	if (err)
		goto fail;
	changes = r.nlinks_done + r.nfollowed;
	for (i = 0; i < r.nops; i++)
		changes += r.ops[i].visible && r.ops[i].status == OS_DONE;
	print_summary(&r, changes);
	goto out;

fail:
	if (r.nops || r.nlinks_done) {
		size_t done = 0;

		for (i = 0; i < r.nops; i++)
			done += r.ops[i].status == OS_DONE;
		if (rollback(&r) == 0 && (done || r.nlinks_done) && !ctx->json)
			p_info(ctx, "rolled back: %zu change%s undone, nothing else changed",
			       done + r.nlinks_done, done + r.nlinks_done == 1 ? "" : "s");
	}
	/* The devices' locks go before a detach may take them. */
	for (i = 0; i < r.ndevs; i++) {
		if (r.devs[i].open)
			xs_state_close(&r.devs[i].st);
		r.devs[i].open = false;
	}
	link_undo(&r);
out:
	run_free(&r);
	return err;
}

/* ---- show: the file form of what there is ---- */

struct show_dev {
	struct xs_config_file *cfg;
	struct xs_sa *ksa;
	size_t nksa;
	bool keys;
	int err;
};

static char *key_hex(const struct xs_alg *a)
{
	char hex[2 * XS_KEY_MAX + 3];
	char *s;

	if (a->key_len > XS_KEY_MAX)
		return NULL;
	xs_key_format(a->key, a->key_len, hex, sizeof(hex));
	s = strdup(hex);
	explicit_bzero(hex, sizeof(hex));
	return s;
}

/* The keys of a tunnel's SAs into its algorithms: key is the inbound SA's,
 * key_out the outbound's when it differs. */
static void keys_to_cfg(struct xs_cfg_tunnel *t, const struct xs_sa *in, const struct xs_sa *out)
{
	struct xs_cfg_alg *ca[3] = { &t->aead, &t->enc, &t->auth };
	const struct xs_alg *ia[3], *oa[3];
	int k;

	if (!in || !out)
		return;
	ia[0] = &in->aead, ia[1] = &in->enc, ia[2] = &in->auth;
	oa[0] = &out->aead, oa[1] = &out->enc, oa[2] = &out->auth;
	for (k = 0; k < 3; k++) {
		if (!ca[k]->name[0] || !ia[k]->name[0])
			continue;
		ca[k]->key = key_hex(ia[k]);
		if (ia[k]->key_len != oa[k]->key_len ||
		    memcmp(ia[k]->key, oa[k]->key, ia[k]->key_len))
			ca[k]->key_out = key_hex(oa[k]);
	}
	/* enc and auth keys go together: one differing makes both explicit */
	if (t->enc.name[0] && (!t->enc.key_out != !t->auth.key_out)) {
		if (!t->enc.key_out)
			t->enc.key_out = key_hex(&out->enc);
		if (!t->auth.key_out)
			t->auth.key_out = key_hex(&out->auth);
	}
}

static const struct xs_sa *find_sa(const struct xs_sa *v, size_t n, const struct xs_prefix *dst,
				   uint32_t spi, uint32_t if_id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i].spi == spi && addr_eq(&v[i].dst, dst) && v[i].if_id == if_id)
			return &v[i];
	return NULL;
}

static int show_dev_cb(struct xs_ctx *ctx, const char *ifname, void *data)
{
	struct show_dev *sd = data;
	struct xs_config_file *cfg = sd->cfg;
	struct xs_rec_ent *recs = NULL;
	struct xs_route_ent *routes = NULL;
	size_t nrecs = 0, nroutes = 0, i, j;
	struct xs_cfg_link *l;
	struct xs_state st;
	bool *used = NULL;
	void *p;
	int err;

	err = xs_state_open(ctx, ifname, XS_LOCK_SHARED, &st);
	if (err)
		return err;
	err = xs_recs_read(&st, &recs, &nrecs);
	if (!err)
		err = xs_routes_read(&st, &routes, &nroutes);
	if (err) {
		p_err(ctx, err, "cannot read the state of \"%s\": %s", ifname, strerror(-err));
		goto out;
	}
	err = -ENOMEM;
	used = calloc(nroutes + 1, sizeof(*used));
	p = realloc(cfg->links, (cfg->nlinks + 1) * sizeof(*cfg->links));
	if (!used || !p)
		goto oom;
	cfg->links = p;
	l = &cfg->links[cfg->nlinks++];
	memset(l, 0, sizeof(*l));
	snprintf(l->name, sizeof(l->name), "%s", ifname);
	l->have_tenant_key = l->have_rpf = l->have_mark_ingress = true;
	l->have_max_routes = l->have_max_tunnels = true;
	l->tenant_mode = st.meta->tenant_mode;
	l->mark_mask = st.meta->mark_mask;
	l->rpf = st.meta->flags & XS_CFG_RPF;
	l->mark_ingress = st.meta->flags & XS_CFG_MARK_INGRESS;
	l->max_routes = st.meta->max_routes;
	l->max_tunnels = st.meta->max_tunnels;

	p = realloc(cfg->tunnels, (cfg->ntunnels + nrecs + 1) * sizeof(*cfg->tunnels));
	if (!p)
		goto oom;
	cfg->tunnels = p;
	for (i = 0; i < nrecs; i++) {
		const struct tunnel_rec *rec = &recs[i].rec;
		struct xs_cfg_tunnel *t = &cfg->tunnels[cfg->ntunnels++];
		struct xs_prefix in, out;
		size_t n = 0;

		memset(t, 0, sizeof(*t));
		snprintf(t->name, sizeof(t->name), "%s", recs[i].key.name);
		snprintf(t->dev, sizeof(t->dev), "%s", ifname);
		t->if_id = rec->if_id;
		xs_iif_tenant_to_cfg(&st, rec->tenant, &t->tenant);
		xs_rec_sas(rec, &in, &out);
		t->local = in;
		t->remote = out;
		t->spi_in = rec->spi_in;
		t->spi_out = rec->spi_out;
		/* The kernel has it, so it was asked for (or made before the
		 * check): the saved file must apply again. */
		t->allow_same_spi = rec->spi_in == rec->spi_out;
		t->reqid = rec->reqid;
		t->mode = rec->mode;
		t->esn = rec->flags & XS_TUNF_ESN;
		t->replay_window = rec->replay_window;
		snprintf(t->aead.name, sizeof(t->aead.name), "%s", rec->aead);
		t->aead.bits = rec->icv_bits;
		snprintf(t->enc.name, sizeof(t->enc.name), "%s", rec->enc);
		snprintf(t->auth.name, sizeof(t->auth.name), "%s", rec->auth);
		t->auth.bits = rec->trunc_bits;
		t->encap.type = rec->encap_type;
		t->encap.sport = rec->encap_sport;
		t->encap.dport = rec->encap_dport;
		if (sd->keys)
			keys_to_cfg(t, find_sa(sd->ksa, sd->nksa, &in, rec->spi_in, rec->if_id),
				    find_sa(sd->ksa, sd->nksa, &out, rec->spi_out, rec->if_id));
		t->prefixes = calloc(nroutes + 1, sizeof(*t->prefixes));
		if (!t->prefixes)
			goto oom;
		for (j = 0; j < nroutes; j++) {
			struct xs_prefix *pp;

			if (routes[j].val.if_id != rec->if_id)
				continue;
			used[j] = true;
			pp = &t->prefixes[n++];
			pp->family = (int)routes[j].key.family;
			pp->plen = (uint8_t)routes[j].key.plen;
			memcpy(pp->addr, routes[j].key.addr, 16);
		}
		t->nprefixes = n;
	}
	p = realloc(cfg->routes, (cfg->nroutes + nroutes + 1) * sizeof(*cfg->routes));
	if (!p)
		goto oom;
	cfg->routes = p;
	for (j = 0; j < nroutes; j++) {
		struct xs_cfg_route *rt;

		if (used[j])
			continue;
		rt = &cfg->routes[cfg->nroutes++];
		memset(rt, 0, sizeof(*rt));
		snprintf(rt->dev, sizeof(rt->dev), "%s", ifname);
		rt->prefix.family = (int)routes[j].key.family;
		rt->prefix.plen = (uint8_t)routes[j].key.plen;
		memcpy(rt->prefix.addr, routes[j].key.addr, 16);
		rt->if_id = routes[j].val.if_id;
		xs_iif_tenant_to_cfg(&st, routes[j].key.tenant, &rt->tenant);
	}
	err = 0;
	goto out;
oom:
	p_err(ctx, err, "out of memory");
out:
	free(used);
	free(recs);
	free(routes);
	xs_state_close(&st);
	return err;
}

static int name_cmp(const void *a, const void *b)
{
	const struct xs_cfg_tunnel *x = a, *y = b;
	int c = strcmp(x->dev, y->dev);

	return c ? c : strcmp(x->name, y->name);
}

static int route_cmp(const void *a, const void *b)
{
	const struct xs_cfg_route *x = a, *y = b;
	int c = strcmp(x->dev, y->dev);

	if (!c)
		c = x->prefix.family - y->prefix.family;
	if (!c)
		c = memcmp(x->prefix.addr, y->prefix.addr, 16);
	if (!c)
		c = x->prefix.plen - y->prefix.plen;
	if (!c)
		c = x->tenant.num < y->tenant.num ? -1 : x->tenant.num > y->tenant.num;
	return c;
}

static int prefix_cmp(const void *a, const void *b)
{
	const struct xs_prefix *x = a, *y = b;
	int c = x->family - y->family;

	if (!c)
		c = memcmp(x->addr, y->addr, 16);
	return c ? c : x->plen - y->plen;
}

int xs_config_from_kernel(struct xs_ctx *ctx, struct xs_config_file *out, bool keys)
{
	struct show_dev sd = { .cfg = out, .keys = keys };
	struct xs_nl nl;
	size_t i;
	int err;

	memset(out, 0, sizeof(*out));
	if (keys) {
		err = xs_nl_open(ctx, &nl, NETLINK_XFRM);
		if (err)
			return err;
		err = xs_sas_read(ctx, &nl, &sd.ksa, &sd.nksa);
		xs_nl_close(&nl);
		if (err)
			return err;
	}
	err = xs_for_each_attached(ctx, show_dev_cb, &sd);
	xs_sas_free(sd.ksa, sd.nksa);
	if (err)
		return err;
	/* Stable output, whatever the maps' order: files diff well. */
	sort_n(out->tunnels, out->ntunnels, sizeof(*out->tunnels), name_cmp);
	sort_n(out->routes, out->nroutes, sizeof(*out->routes), route_cmp);
	for (i = 0; i < out->ntunnels; i++)
		sort_n(out->tunnels[i].prefixes, out->tunnels[i].nprefixes,
		      sizeof(*out->tunnels[i].prefixes), prefix_cmp);
	return 0;
}

/* ---- The objects ---- */

static int apply_help(struct xs_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	fprintf(stderr,
		"Usage: xfrm-steer apply [ --dry-run ] FILE\n"
		"       xfrm-steer show\n"
		"where  FILE := a JSON file with \"links\", \"tunnels\" and \"routes\", in the form\n"
		"               that \"xfrm-steer -j show\" prints; - reads standard input\n"
		"apply makes the kernel what FILE says: it creates and attaches the links,\n"
		"adds what is missing, changes what differs and removes the tunnels, and\n"
		"the routes of \"routes\", that it made before and FILE no longer names.\n"
		"It leaves alone SAs and policies of no named tunnel, routes it did not\n"
		"make, and devices FILE does not name. Either all of it is done, or none.\n"
		"--dry-run prints the plan and changes nothing. Keys (\"key\": \"0xHEX\" or\n"
		"\"@FILE\") may be left out for tunnels whose SAs exist: they keep theirs.\n"
		"show prints keys only with --show-keys.\n");
	return 0;
}

static int read_all(struct xs_ctx *ctx, const char *path, char **buf, size_t *len)
{
	size_t cap = 65536, n = 0;
	char *p = malloc(cap);
	ssize_t got;
	int fd;

	if (!p)
		return p_err(ctx, -ENOMEM, "out of memory");
	fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : dup(STDIN_FILENO);
	if (fd < 0) {
		int err = -errno;

		free(p);
		return p_err(ctx, err, "cannot open %s: %s", XS_QW(path), strerror(-err));
	}
	for (;;) {
		if (n == cap) {
			/* Not realloc(): the file may hold keys. */
			char *q = malloc(cap * 2);

			if (!q) {
				close(fd);
				explicit_bzero(p, n);
				free(p);
				return p_err(ctx, -ENOMEM, "out of memory");
			}
			memcpy(q, p, n);
			explicit_bzero(p, n);
			free(p);
			p = q;
			cap *= 2;
		}
		got = read(fd, p + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		n += (size_t)got;
	}
	if (got < 0) {
		int err = -errno;

		close(fd);
		explicit_bzero(p, n);
		free(p);
		return p_err(ctx, err, "cannot read %s: %s", path, strerror(-err));
	}
	close(fd);
	*buf = p;
	*len = n;
	return 0;
}

static int do_apply_file(struct xs_ctx *ctx, const char *path, bool dry_run)
{
	struct xs_run_opts o = { .scope = XS_SCOPE_FILE, .src = path, .dry_run = dry_run };
	struct xs_config_file cfg;
	char why[512];
	char *buf = NULL;
	size_t len = 0;
	int err;

	err = read_all(ctx, path, &buf, &len);
	if (err)
		return err;
	err = xs_config_parse(buf, len, &cfg, why, sizeof(why));
	/* The file may hold keys. */
	explicit_bzero(buf, len);
	free(buf);
	if (err) {
		xs_config_free(&cfg);
		return p_err(ctx, err, "%s: %s", path, why);
	}
	err = xs_converge(ctx, &cfg, &o);
	xs_config_free(&cfg);
	return err;
}

int do_apply(struct xs_ctx *ctx, int argc, char **argv)
{
	const char *path = NULL;
	bool dry_run = false;

	if (argc > 0 && matches(argv[0], "help"))
		return apply_help(ctx, argc, argv);
	while (argc > 0) {
		if (!strcmp(argv[0], "--dry-run") || !strcmp(argv[0], "dry-run")) {
			dry_run = true;
		} else if (!path && (argv[0][0] != '-' || !strcmp(argv[0], "-"))) {
			path = argv[0];
		} else {
			return p_err(ctx, -EINVAL, "apply: unknown argument %s", XS_QW(argv[0]));
		}
		NEXT_ARG();
	}
	if (!path)
		return p_err(ctx, -EINVAL, "apply: missing FILE");
	return do_apply_file(ctx, path, dry_run);
}

int do_show_config(struct xs_ctx *ctx, int argc, char **argv)
{
	struct xs_config_file cfg;
	json_object *o;
	int err;

	if (argc > 0 && matches(argv[0], "help"))
		return apply_help(ctx, argc, argv);
	if (argc > 0)
		return p_err(ctx, -EINVAL, "show: unknown argument %s", XS_QW(argv[0]));
	err = xs_config_from_kernel(ctx, &cfg, ctx->show_keys);
	if (err) {
		xs_config_free(&cfg);
		return err;
	}
	o = xs_config_to_json(&cfg);
	xs_config_free(&cfg);
	/* A tenant bound to no interface is written by its name and warned
	 * of: the file is what there is, not what works (iifbind.h). */
	err = xs_iif_check_dev(ctx, NULL) > 0 ? -ESTALE : 0;
	/* The file form either way: without -j it is pretty, for people. */
	xs_json_print_wiped(stdout, o,
			    (ctx->json && !ctx->pretty ? JSON_C_TO_STRING_PLAIN :
							 JSON_C_TO_STRING_PRETTY |
								 JSON_C_TO_STRING_SPACED) |
				    JSON_C_TO_STRING_NOSLASHESCAPE);
	/* With --show-keys the keys are in o's strings. */
	xs_json_wipe(o);
	json_object_put(o);
	return err;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Plan: (what exists, what is wanted) -> operations. Every rule of a change
 * lives here: scope and conflicts, ownership and adoption, limits, and the
 * order of the phases. No kernel calls: tests/unit/test_plan.c runs it on
 * a model built by hand.
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
#include "keys.h"
#include "netlink.h"
#include "state.h"
#include "tunnel.h"
#include "xfrm.h"
#include "xfrm_steer.skel.h"

#include "model.h"
#include "plan.h"


/* Which records this run may change. */
int set_scope(struct run *r)
{
	size_t i, j, k;

	for (i = 0; i < r->ndevs; i++) {
		struct dev_run *d = &r->devs[i];

		for (j = 0; j < d->nrecs; j++) {
			switch (r->o->scope) {
			case XS_SCOPE_FILE:
				/* Ownership: a file's tunnels are apply's to
				 * change and remove; tunnel add's are not,
				 * unless the file names them (below). */
				d->rec_scope[j] = !(d->recs[j].rec.flags & XS_TUNF_CLI);
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
		/* Adoption: a tunnel the file names is the file's now. */
		for (k = 0; r->o->scope == XS_SCOPE_FILE && k < r->cfg->ntunnels; k++)
			if (!strcmp(r->cfg->tunnels[k].dev, d->name) &&
			    find_rec(d, r->cfg->tunnels[k].name, &j))
				d->rec_scope[j] = true;
	}
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
int ksa_cmp(const void *a, const void *b)
{
	const struct xs_sa *x = a, *y = b;

	if (x->spi != y->spi)
		return x->spi < y->spi ? -1 : 1;
	if (x->dst.family != y->dst.family)
		return x->dst.family < y->dst.family ? -1 : 1;
	return memcmp(x->dst.addr, y->dst.addr, 16);
}

int kpol_cmp(const void *a, const void *b)
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
int mark_owned(struct run *r)
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
				op->u.sa = &r->ksa[k];
			}
			op = op_new(r, OP_SA_ADD, PH_SA_ADD, w->dev, ENT_TUNNEL, w->idx, true);
			if (!op)
				return -ENOMEM;
			op->u.sa = sa;
		}
	}
	for (i = 0; i < r->nksa; i++) {
		struct op *op;

		if (r->ksa_want[i] || !ksa_owned(r, (long)i))
			continue;
		op = op_owned(r, OP_SA_DEL, PH_SA_DEL, r->ksa[i].if_id, ENT_KSA, i, true);
		if (!op)
			return -ENOMEM;
		op->u.sa = &r->ksa[i];
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
				op->u.pol.pol = p;
				op->u.pol.old = &r->kpol[k];
				continue;
			}
			op = op_new(r, OP_POL_ADD, PH_POL_ADD, w->dev, ENT_TUNNEL, w->idx, true);
			if (!op)
				return -ENOMEM;
			op->u.pol.pol = p;
		}
	}
	for (i = 0; i < r->nkpol; i++) {
		struct op *op;

		if (r->kpol_want[i] || !kpol_owned(r, (long)i))
			continue;
		op = op_owned(r, OP_POL_DEL, PH_POL_DEL, r->kpol[i].if_id, ENT_KPOL, i, true);
		if (!op)
			return -ENOMEM;
		op->u.pol.pol = &r->kpol[i];
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
	const struct elsewhere *el;
	const struct other_rec *other;
	size_t i, j, ri;

	for (i = 0; i < r->nwants; i++) {
		struct want *w = &r->wants[i];
		struct dev_run *d = &r->devs[w->dev];
		struct xs_rec_ent *re = find_rec(d, r->cfg->tunnels[w->idx].name, &ri);
		bool changed = !re || !rec_same(&re->rec, &w->rec);
		struct tunnel_rec adding;
		struct op *op;

		if (re && !d->rec_scope[ri])
			return ent_err(r, -EEXIST, ENT_TUNNEL, 0, w->idx, "exists already on %s",
				       d->name);
		/* A name is the namespace's, as the SAs it stands for. */
		el = search_n(r->cfg->tunnels[w->idx].name, r->elsewhere, r->nelsewhere,
			      sizeof(*r->elsewhere), elsewhere_cmp);
		if (el)
			return ent_err(r, -EEXIST, ENT_TUNNEL, 0, w->idx,
				       "exists already on %s (a tunnel's name is the namespace's)",
				       el->dev);
		if (re)
			d->rec_want[ri] = (long)i;
		/* An if_id is one tunnel's: its policies are keyed by it. */
		other = search_n(&w->rec.if_id, r->others, r->nothers, sizeof(*r->others),
				 slot_ent_cmp);
		if (other)
			return ent_err(r, -EEXIST, ENT_TUNNEL, 0, w->idx, "if_id %u is tunnel \"%s\"'s",
				       w->rec.if_id, other->name);
		{
			int ri = xs_plan_ike_managed(d->ike_ranges, XS_IKE_RANGES_MAX, w->rec.if_id);

			if (ri >= 0)
				return ent_err(r, -EEXIST, ENT_TUNNEL, 0, w->idx,
					       "if_id %u is in the range %u-%u the daemon manages for the IKE daemon; choose an if_id outside it",
					       w->rec.if_id, d->ike_ranges[ri].lo, d->ike_ranges[ri].hi);
		}
		if (changed) {
			op = op_new(r, OP_REC_PUT, PH_REC, w->dev, ENT_TUNNEL, w->idx, true);
			if (!op)
				return -ENOMEM;
			snprintf(op->u.rec.key.name, sizeof(op->u.rec.key.name), "%s",
				 r->cfg->tunnels[w->idx].name);
			adding = w->rec;
			adding.state = XS_TUN_ADDING;
			op->u.rec.rec = op_keep(r, &adding, sizeof(adding));
			if (!op->u.rec.rec)
				return -ENOMEM;
			op->u.rec.had_old = re != NULL;
			if (re)
				op->u.rec.old = &re->rec;
		}
		if (changed || re->rec.state != XS_TUN_READY) {
			op = op_new(r, OP_REC_PUT, PH_FINAL, w->dev, ENT_TUNNEL, w->idx, !changed);
			if (!op)
				return -ENOMEM;
			snprintf(op->u.rec.key.name, sizeof(op->u.rec.key.name), "%s",
				 r->cfg->tunnels[w->idx].name);
			op->u.rec.rec = &w->rec;
			op->u.rec.had_old = true;
			adding = changed ? w->rec : re->rec;
			adding.state = XS_TUN_ADDING;
			op->u.rec.old = op_keep(r, &adding, sizeof(adding));
			if (!op->u.rec.old)
				return -ENOMEM;
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
			op->u.rec.old = &d->recs[j].rec;
			op->u.rec.had_old = true;
		}
	}
	return 0;
}

static struct own_ent *find_own(struct dev_run *d, const struct apply_route_key *k)
{
	return search_n(k, d->owned, d->nowned, sizeof(*d->owned), own_ent_cmp);
}

/* The IKE daemon's route at k: it is while it leads where the daemon put
 * it (as apply's). */
static bool ike_route(const struct dev_run *d, const struct xs_route_ent *c)
{
	const struct own_ent *o;

	if (!c)
		return false;
	o = search_n(&c->key, d->ike_owned, d->nike_owned, sizeof(*d->ike_owned), own_ent_cmp);
	return o && o->val.if_id == c->val.if_id;
}

/* The IKE daemon's group at k (two CHILD_SAs of one peer overlapping):
 * its record names no if_id and the group's digest. */
static bool ike_group(const struct dev_run *d, const struct xs_group_ent *g)
{
	const struct own_ent *o;

	if (!g)
		return false;
	o = search_n(&g->key, d->ike_owned, d->nike_owned, sizeof(*d->ike_owned), own_ent_cmp);
	return o && !o->val.if_id && g->g.n && o->val.pad == xs_group_digest(&g->g);
}

int xs_plan_ike_managed(const struct ike_range_value *v, size_t n, uint32_t if_id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i].used && if_id >= v[i].lo && if_id <= v[i].hi)
			return (int)i;
	return -1;
}

static struct slot_ent *find_slot(struct dev_run *d, uint32_t if_id)
{
	return search_n(&if_id, d->slots, d->nslots, sizeof(*d->slots), slot_ent_cmp);
}

static const struct xs_group_ent *find_group(const struct dev_run *d,
					     const struct apply_route_key *k, size_t *idx)
{
	const struct xs_group_ent *e;

	e = search_n(k, d->groups, d->ngroups, sizeof(*d->groups), route_ent_cmp);
	if (e && idx)
		*idx = (size_t)(e - d->groups);
	return e;
}

/* What apply's record of a route says it made: if_id, or for a group
 * if_id 0 and the group's digest (xs_group_digest()). */
static uint32_t own_pad(const struct route_group *g)
{
	return g ? xs_group_digest(g) : 0;
}

static bool own_leads_to_group(const struct own_ent *own, const struct route_group *g)
{
	return !own->val.if_id && own->val.pad == xs_group_digest(g);
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
int wroute_cmp(const void *a, const void *b)
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
			       rkey_str(d, &c->key, a, sizeof(a)), d->recs[j].key.name, c->val.if_id,
			       d->recs[j].key.name);
	}
	return 0;
}

/* Something the verb says whatever the outcome (apply: "Notice: ..."). */
#define notice(r, ...) vec_printf(&(r)->notices, &(r)->nnotices, &(r)->capnotices, __VA_ARGS__)

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

				if (own->val.if_id ?
					    notice(r, "route %s dev %s steers to if_id %u, not to the if_id %u apply made it for: left alone, no longer apply's",
						   rkey_str(d, &c->key, a, sizeof(a)), d->name,
						   c->val.if_id, own->val.if_id) :
					    notice(r, "route %s dev %s steers to if_id %u, not to the group apply made it for: left alone, no longer apply's",
						   rkey_str(d, &c->key, a, sizeof(a)), d->name,
						   c->val.if_id))
					return -ENOMEM;
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
	/* Routes to groups that go: apply's, as it made them, and not in
	 * the file. A group is never a tunnel's. */
	for (i = 0; r->o->scope == XS_SCOPE_FILE && i < d->ngroups; i++) {
		const struct xs_group_ent *g = &d->groups[i];
		struct own_ent *own = find_own(d, &g->key);

		if (!own || find_wroute(r, dev, &g->key))
			continue;
		op = op_new(r, OP_OWN_DEL, own_leads_to_group(own, &g->g) ? PH_ROUTE_DEL : PH_FINAL,
			    dev, ENT_KGROUP, i, false);
		if (!op)
			return -ENOMEM;
		op->u.own.key = own->key;
		op->u.own.val = own->val;
		if (!own_leads_to_group(own, &g->g)) {
			char a[96];

			if (notice(r, "route %s dev %s steers to a group apply did not make (route add ... nexthop): left alone, no longer apply's",
				   rkey_str(d, &g->key, a, sizeof(a)), d->name))
				return -ENOMEM;
			continue;
		}
		d->group_leaves[i] = true;
		op = op_new(r, OP_ROUTE_DEL, PH_ROUTE_DEL, dev, ENT_KGROUP, i, true);
		if (!op)
			return -ENOMEM;
		op->u.route.key = g->key;
		op->u.route.old = (struct route_value){ .if_id = g->gid, .tunnel_idx = 0 };
		op->u.route.had_old = true;
		op = op_new(r, OP_GROUP_FREE, PH_FINAL, dev, ENT_KGROUP, i, false);
		if (!op)
			return -ENOMEM;
		op->u.group.key = g->key;
		op->u.group.gid = g->gid;
		op->u.group.g = &g->g;
	}
	/* Group indexes a killed run left, which no route names: freed, as
	 * the run would have (a group is never a tunnel's, so a file's run
	 * may). */
	for (i = 0; r->o->scope == XS_SCOPE_FILE && i < d->norphans; i++) {
		op = op_new(r, OP_GROUP_FREE, PH_FINAL, dev, ENT_NONE, 0, false);
		if (!op)
			return -ENOMEM;
		op->u.group.gid = d->orphans[i].gid;
		op->u.group.g = &d->orphans[i].g;
	}
	/* Routes the file wants. */
	for (j = 0; j < r->nwroutes; j++) {
		const struct want_route *wr = &r->wroutes[j];
		const struct xs_route_ent *c = NULL;
		const struct xs_group_ent *gc;
		size_t ci = 0, gi = 0;
		struct own_ent *own;
		bool same;
		uint8_t ek = wr->tunnel < 0 ? ENT_ROUTE : ENT_TUNNEL;
		size_t ent = wr->tunnel < 0 ? wr->idx : r->wants[wr->tunnel].idx;

		if (wr->dev != dev)
			continue;
		c = find_route(d, &wr->key, &ci);
		if (check_route_owner(r, dev, wr, c, ek, ent))
			return -EEXIST;
		{
			/* A route to an if_id of the IKE daemon's, or over one of
			 * its prefixes, is the daemon's to make (lib/ike.c). */
			uint32_t n = wr->group ? wr->group->n : 1, k;
			char a[128];

			for (k = 0; k < n && k < XS_GROUP_MAX; k++) {
				uint32_t id = wr->group ? wr->group->nh[k].if_id : wr->if_id;
				int ri = xs_plan_ike_managed(d->ike_ranges, XS_IKE_RANGES_MAX, id);

				if (ri >= 0)
					return ent_err(r, -EEXIST, ek, dev, ent,
						       "if_id %u is in the range %u-%u the daemon manages for the IKE daemon; choose an if_id outside it",
						       id, d->ike_ranges[ri].lo, d->ike_ranges[ri].hi);
			}
			if (ike_route(d, c) && (wr->group || c->val.if_id != wr->if_id))
				return ent_err(r, -EEXIST, ek, dev, ent,
					       "prefix %s is routed to if_id %u for the IKE daemon's CHILD_SA; it follows that CHILD_SA, choose another prefix",
					       rkey_str(d, &c->key, a, sizeof(a)), c->val.if_id);
		}
		gc = find_group(d, &wr->key, &gi);
		if (ike_group(d, gc)) {
			char a[96];

			return ent_err(r, -EEXIST, ek, dev, ent,
				       "prefix %s is routed for the IKE daemon's CHILD_SAs (a group while a reauthentication overlaps); it follows them, choose another prefix",
				       rkey_str(d, &wr->key, a, sizeof(a)));
		}
		/* A file takes a route to a group over like any loose route;
		 * tunnel add does not make groups, nor replace one. */
		if (gc && r->o->scope != XS_SCOPE_FILE) {
			char a[96];

			return ent_err(r, -EEXIST, ek, dev, ent,
				       "%s is a route group (route add ... nexthop), which this command does not manage: delete it (\"xfrm-steer route del\") or leave it out",
				       rkey_str(d, &wr->key, a, sizeof(a)));
		}
		/* Whether the route is as wanted already. */
		same = wr->group ? gc && xs_group_same(&gc->g, wr->group) :
				   c && c->val.if_id == wr->if_id;
		own = find_own(d, &wr->key);
		/* A loose route is marked as the file's before it is made
		 * (and unmarked once it is a tunnel's), so that a run
		 * killed in between still knows it. */
		/* The record names the if_id apply steers the route to, so that
		 * a later run tells a route re-pointed by someone else from its
		 * own: a change of if_id by the file changes it too. */
		if (wr->tunnel < 0 && r->cfg->routes[wr->idx].cli) {
			/* The file says it is route add's: made if missing,
			 * never the file's. */
			if (own) {
				op = op_new(r, OP_OWN_DEL, PH_FINAL, dev, ek, ent, false);
				if (!op)
					return -ENOMEM;
				op->u.own.key = own->key;
				op->u.own.val = own->val;
			}
		} else if (wr->tunnel < 0 && (!own || own->val.if_id != wr->if_id ||
					      own->val.pad != own_pad(wr->group))) {
			op = op_new(r, OP_OWN_PUT, same ? PH_FINAL : PH_ROUTE_SET, dev, ek, ent,
				    false);
			if (!op)
				return -ENOMEM;
			op->u.own.key = wr->key;
			op->u.own.val.gen = r->gen;
			op->u.own.val.if_id = wr->if_id;
			op->u.own.val.pad = own_pad(wr->group);
			if (own) {
				op->u.own.old = own->val;
				op->u.own.had_old = true;
			}
		}
		if (!same && gc) {
			/* The old group's index is freed once nothing can
			 * fail any more; its undo writes it back. */
			d->group_leaves[gi] = true;
			op = op_new(r, OP_GROUP_FREE, PH_FINAL, dev, ek, ent, false);
			if (!op)
				return -ENOMEM;
			op->u.group.key = gc->key;
			op->u.group.gid = gc->gid;
			op->u.group.g = &gc->g;
		}
		if (!same && wr->group) {
			op = op_new(r, OP_GROUP_SET, PH_ROUTE_SET, dev, ek, ent, true);
			if (!op)
				return -ENOMEM;
			op->u.group.key = wr->key;
			op->u.group.g = wr->group;
			op->u.group.had_old = c || gc;
			if (c) {
				op->u.group.old = c->val;
				d->route_leaves[ci] = true;
			} else if (gc) {
				op->u.group.old = (struct route_value){ .if_id = gc->gid };
			}
		} else if (!same) {
			op = op_new(r, OP_ROUTE_SET, PH_ROUTE_SET, dev, ek, ent, true);
			if (!op)
				return -ENOMEM;
			op->u.route.key = wr->key;
			op->u.route.if_id = wr->if_id;
			op->u.route.had_old = c || gc;
			if (c) {
				op->u.route.old = c->val;
				d->route_leaves[ci] = true;
			} else if (gc) {
				op->u.route.old = (struct route_value){ .if_id = gc->gid };
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
		if (find_route(d, &d->owned[i].key, NULL) ||
		    find_group(d, &d->owned[i].key, NULL) ||
		    find_wroute(r, dev, &d->owned[i].key))
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

	want = calloc(r->nwants + r->nwroutes * XS_GROUP_MAX + 1, sizeof(*want));
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

		uint32_t m;

		if (wr->dev != dev || wr->tunnel >= 0)
			continue;
		if (!wr->group) {
			want[nwant++] = (struct slot_want){ wr->if_id, wr->key.tenant, ENT_ROUTE,
							    wr->idx };
			continue;
		}
		/* A group's members each have their slot, as a route to
		 * them would: counters and health. */
		for (m = 0; m < wr->group->n; m++)
			want[nwant++] = (struct slot_want){ wr->group->nh[m].if_id, wr->key.tenant,
							    ENT_ROUTE, wr->idx };
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
					      rkey_str(d, &d->routes[left->route].key, a, sizeof(a)));
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
#define kept_line(r, ...) vec_printf(&(r)->kept, &(r)->nkept, &(r)->capkept, __VA_ARGS__)

/* Ownership, the other half: what apply leaves alone on a device it
 * manages, so that it never says "the kernel matches" while more is there.
 * Tunnel add's tunnels the file does not name, with their routes, and
 * route add's routes (the updown script's among them). */
static int plan_kept(struct run *r, size_t dev)
{
	struct dev_run *d = &r->devs[dev];
	char a[96];
	size_t i;
	int err = 0;

	for (i = 0; !err && i < d->nrecs; i++) {
		if (d->rec_scope[i])
			continue;
		r->kept_tunnels++;
		err = kept_line(r, "tunnel \"%s\" (dev %s, if_id %u): made by tunnel add, not in the file",
				d->recs[i].key.name, d->name, d->recs[i].rec.if_id);
	}
	for (i = 0; !err && i < d->nroutes; i++) {
		const struct xs_route_ent *c = &d->routes[i];

		if (d->route_leaves[i] || find_own(d, &c->key) || find_wroute(r, dev, &c->key) ||
		    ike_route(d, c) ||
		    tunnel_if_id(r, dev, c->val.if_id) ||
		    search_n(&c->val.if_id, r->others, r->nothers, sizeof(*r->others),
			     slot_ent_cmp))
			continue;
		r->kept_routes++;
		err = kept_line(r, "route %s dev %s if_id %u: made by route add, not in the file",
				rkey_str(d, &c->key, a, sizeof(a)), d->name, c->val.if_id);
	}
	for (i = 0; !err && i < d->ngroups; i++) {
		const struct xs_group_ent *g = &d->groups[i];

		if (d->group_leaves[i] || find_own(d, &g->key) || find_wroute(r, dev, &g->key) ||
		    ike_group(d, g))
			continue;
		r->kept_routes++;
		err = kept_line(r, "route %s dev %s to a group of %u nexthops: made by route add, not in the file",
				rkey_str(d, &g->key, a, sizeof(a)), d->name, g->g.n);
	}
	return err;
}

/* Limits: what the plan leaves on a device fits its tables, or nothing is
 * done. Each family's route trie and the tunnels' counter slots hold what
 * attach sized them for; a plan over it is refused before the first change,
 * naming the size and how to raise it. */
/* A tunnel slot a route group's member uses stays: its counters and
 * health are the group's too. */
static bool stays_in_group(const struct dev_run *d, uint32_t if_id)
{
	size_t i;
	uint32_t m;

	for (i = 0; i < d->ngroups; i++)
		for (m = 0; !d->group_leaves[i] && m < d->groups[i].g.n; m++)
			if (d->groups[i].g.nh[m].if_id == if_id)
				return true;
	return false;
}

static int plan_group_members(struct run *r, size_t dev)
{
	const struct dev_run *d = &r->devs[dev];
	size_t i;

	for (i = 0; d->ngroups && i < r->nops; i++) {
		const struct op *op = &r->ops[i];

		if (op->dev != dev || op->kind != OP_SLOT_REMOVE ||
		    !stays_in_group(d, op->u.slot.if_id))
			continue;
		return ent_err(r, -EBUSY, op->ent_kind, dev, op->ent,
			       "if_id %u is a member of a route group: take it out of the group first (\"xfrm-steer route add PREFIX nexthop ...\" without it)",
			       op->u.slot.if_id);
	}
	return 0;
}

static int plan_limits(struct run *r, size_t dev)
{
	struct dev_run *d = &r->devs[dev];
	long routes[2] = { 0, 0 }, slots = (long)d->nslots;
	uint32_t *gone;
	size_t i, ngone = 0;
	int f;

	gone = calloc(r->nops + 1, sizeof(*gone));
	if (!gone)
		return -ENOMEM;
	for (i = 0; i < d->nroutes; i++)
		routes[d->routes[i].key.family == AF_INET6]++;
	for (i = 0; i < d->ngroups; i++)
		routes[d->groups[i].key.family == AF_INET6]++;
	for (i = 0; i < r->nops; i++) {
		const struct op *op = &r->ops[i];

		if (op->dev != dev)
			continue;
		if (op->kind == OP_ROUTE_SET && !op->u.route.had_old)
			routes[op->u.route.key.family == AF_INET6]++;
		else if (op->kind == OP_GROUP_SET && !op->u.group.had_old)
			routes[op->u.group.key.family == AF_INET6]++;
		else if (op->kind == OP_ROUTE_DEL)
			routes[op->u.route.key.family == AF_INET6]--;
		else if (op->kind == OP_SLOT_REMOVE)
			gone[ngone++] = op->u.slot.if_id;
	}
	slots -= (long)ngone;
	sort_n(gone, ngone, sizeof(*gone), u32_cmp);
	for (i = 0; i < r->nops; i++) {
		const struct op *op = &r->ops[i];

		if (op->dev == dev && op->kind == OP_SLOT_ENSURE &&
		    (!find_slot(d, op->u.slot.if_id) ||
		     search_n(&op->u.slot.if_id, gone, ngone, sizeof(*gone), u32_cmp)))
			slots++;
	}
	free(gone);
	for (f = 0; f < 2; f++)
		if (d->max_routes && routes[f] > (long)d->max_routes)
			return ent_err(r, -ENOSPC, ENT_NONE, dev, 0,
				       "the route table of \"%s\" is full (%u routes per family; this would make %ld IPv%d routes); detach and attach again with \"routes N\" (\"max_routes\" in a file) to raise it",
				       d->name, d->max_routes, routes[f], f ? 6 : 4);
	if (d->max_tunnels && slots > (long)d->max_tunnels)
		return ent_err(r, -ENOSPC, ENT_NONE, dev, 0,
			       "the tunnel table of \"%s\" is full (%u tunnels; this would make %ld); detach and attach again with \"tunnels N\" (\"max_tunnels\" in a file) to raise it",
			       d->name, d->max_tunnels, slots);
	return 0;
}

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

int xs_plan(struct run *r)
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
	for (i = 0; !err && i < r->ndevs; i++)
		err = plan_limits(r, i);
	for (i = 0; !err && i < r->ndevs; i++)
		err = plan_group_members(r, i);
	for (i = 0; !err && r->o->scope == XS_SCOPE_FILE && i < r->ndevs; i++)
		err = plan_kept(r, i);
	if (!err)
		err = sort_ops(r);
	if (err == -ENOMEM)
		p_err(r->ctx, err, "out of memory");
	return err;
}

/* ---- Rules shared with the verbs ---- */

static const char *tenant_mode_word(uint32_t mode)
{
	return mode == XS_TENANT_MARK ? "mark" : mode == XS_TENANT_IIF ? "iif" : "none";
}

int xs_plan_attach(const struct attach_args *a, const struct meta_value *m,
		   struct attach_args *eff, char *why, size_t len)
{
	*eff = *a;
	if (m) {
		/* iif: the mask is the stamp bit; 0 on either side is "the
		 * default", or pins from before the stamp. */
		if (a->have_tenant &&
		    (a->tenant_mode != m->tenant_mode ||
		     (a->tenant_mode == XS_TENANT_MARK && a->mark_mask != m->mark_mask) ||
		     (a->tenant_mode == XS_TENANT_IIF && a->mark_mask && m->mark_mask &&
		      a->mark_mask != m->mark_mask))) {
			snprintf(why, len,
				 "is attached with tenant-key %s%s%.0x; to change the tenant key, detach it first (\"xfrm-steer detach dev %s\"), which drops its routes",
				 tenant_mode_word(m->tenant_mode),
				 m->tenant_mode == XS_TENANT_MARK ? " 0x" :
				 m->tenant_mode == XS_TENANT_IIF && m->mark_mask ? " stamp 0x" : "",
				 m->tenant_mode != XS_TENANT_NONE ? m->mark_mask : 0, a->dev);
			return -EEXIST;
		}
		if ((a->have_routes && a->max_routes != m->max_routes) ||
		    (a->have_tunnels && a->max_tunnels != m->max_tunnels)) {
			snprintf(why, len,
				 "is attached with routes %u tunnels %u; to resize it, detach it first (\"xfrm-steer detach dev %s\"), which drops its routes",
				 m->max_routes, m->max_tunnels, a->dev);
			return -EEXIST;
		}
		eff->tenant_mode = m->tenant_mode;
		eff->mark_mask = m->mark_mask;
		eff->max_routes = m->max_routes;
		eff->max_tunnels = m->max_tunnels;
		/* Program options not given again keep their attached value. */
		eff->flags = (a->flags & a->flags_set) | (m->flags & ~a->flags_set);
	}
	if ((eff->flags & XS_CFG_MARK_INGRESS) && eff->tenant_mode != XS_TENANT_MARK) {
		snprintf(why, len, "cannot have mark-ingress on: it needs tenant-key mark");
		return -EINVAL;
	}
	return 0;
}

int xs_plan_model(struct run *r)
{
	size_t i, j;
	int err;

	sort_n(r->elsewhere, r->nelsewhere, sizeof(*r->elsewhere), elsewhere_cmp);
	sort_n(r->ksa, r->nksa, sizeof(*r->ksa), ksa_cmp);
	sort_n(r->kpol, r->nkpol, sizeof(*r->kpol), kpol_cmp);
	err = set_scope(r);
	if (!err)
		err = mark_owned(r);
	if (!err && r->o->scope == XS_SCOPE_DEL) {
		bool found = false;

		for (i = 0; i < r->ndevs; i++)
			for (j = 0; j < r->devs[i].nrecs; j++)
				found = found || r->devs[i].rec_scope[j];
		if (!found)
			err = p_err(r->ctx, -ENOENT, "no tunnel \"%s\" on %s", r->o->name,
				    r->o->dev);
	}
	if (!err)
		err = resolve_all(r);
	if (!err)
		err = xs_plan(r);
	return err;
}

bool xs_plan_sa_cpus_covered(const uint32_t *pcpu, size_t n, const uint32_t *cpus,
			     size_t ncpus, uint32_t *gap)
{
	size_t i, c;

	*gap = XS_PCPU_ANY;
	if (!n)
		return false;
	for (i = 0; i < n; i++)
		if (pcpu[i] == XS_PCPU_ANY)
			return true;
	for (c = 0; c < ncpus; c++) {
		for (i = 0; i < n && pcpu[i] != cpus[c]; i++)
			;
		if (i == n) {
			*gap = cpus[c];
			return false;
		}
	}
	return true;
}

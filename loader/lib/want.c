// SPDX-License-Identifier: GPL-2.0
/*
 * Want: the tunnels and routes of a file or of one command, resolved
 * against their devices (tenants, keys) into wanted objects.
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

#include "model.h"


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
	/* Who owns it: tunnel add's command, or the file. */
	if (r->o->scope == XS_SCOPE_ADD || t->cli)
		rec->flags |= XS_TUNF_CLI;
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

int build_all(struct run *r)
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


static uint8_t wr_kind(const struct want_route *wr)
{
	return wr->tunnel < 0 ? ENT_ROUTE : ENT_TUNNEL;
}

static size_t wr_ent(const struct run *r, const struct want_route *wr)
{
	return wr->tunnel < 0 ? wr->idx : r->wants[wr->tunnel].idx;
}

/* An if_id a wanted route leads to (a member of a group, or its if_id). */
struct id_use {
	size_t dev;
	uint32_t if_id;
	const struct want_route *wr;
};

static int id_use_cmp(const void *a, const void *b)
{
	const struct id_use *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	return x->if_id < y->if_id ? -1 : x->if_id > y->if_id;
}

_Static_assert(XS_CFG_GROUP_MAX == XS_GROUP_MAX, "a file's group is the maps' group");

/* What needs the devices: which one, and the tenant in its terms. */
int resolve_all(struct run *r)
{
	struct id_use *by_id;
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
			wr->group = NULL;
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
		wr->group = NULL;
		r->nwroutes++;
		if (cr->nnh) {
			struct route_group g = { .n = cr->nnh, .tenant = tenant };
			uint32_t m;

			for (m = 0; m < cr->nnh; m++) {
				g.nh[m].if_id = cr->nh[m].if_id;
				g.nh[m].weight = (uint16_t)cr->nh[m].weight;
				g.nh[m].dscp = cr->nh[m].dscp;
				g.nh[m].flags = cr->nh[m].backup ? XS_NH_BACKUP : 0;
			}
			wr->group = op_keep(r, &g, sizeof(g));
			if (!wr->group)
				return p_err(r->ctx, -ENOMEM, "out of memory");
		}
	}
	/* After resolution two spellings of a tenant may meet: one route per
	 * key, and one tenant per if_id. Sorted, a clash is a neighbour. */
	sort_n(r->wroutes, r->nwroutes, sizeof(*r->wroutes), wroute_cmp);
	for (i = 1; i < r->nwroutes; i++) {
		const struct want_route *a = &r->wroutes[i], *b = &r->wroutes[i - 1];

		if (!wroute_cmp(a, b))
			return ent_err(r, -EEXIST, wr_kind(a), 0, wr_ent(r, a),
				       "route %s is given twice", rkey_str(&r->devs[a->dev], &a->key, k, sizeof(k)));
	}
	/* Each if_id a route leads to, a group's members included. */
	for (i = 0, j = 0; i < r->nwroutes; i++)
		j += r->wroutes[i].group ? r->wroutes[i].group->n : 1;
	by_id = calloc(j + 1, sizeof(*by_id));
	if (!by_id)
		return p_err(r->ctx, -ENOMEM, "out of memory");
	for (i = 0, j = 0; i < r->nwroutes; i++) {
		const struct want_route *wr = &r->wroutes[i];
		uint32_t m;

		if (!wr->group) {
			by_id[j++] = (struct id_use){ wr->dev, wr->if_id, wr };
			continue;
		}
		for (m = 0; m < wr->group->n; m++)
			by_id[j++] = (struct id_use){ wr->dev, wr->group->nh[m].if_id, wr };
	}
	sort_n(by_id, j, sizeof(*by_id), id_use_cmp);
	for (i = 1; i < j; i++) {
		const struct id_use *a = &by_id[i], *b = &by_id[i - 1];

		if (a->dev == b->dev && a->if_id == b->if_id &&
		    a->wr->key.tenant != b->wr->key.tenant) {
			err = ent_err(r, -EINVAL, wr_kind(a->wr), 0, wr_ent(r, a->wr),
				      "if_id %u serves tenant 0x%x in another entry; a tunnel serves one tenant",
				      a->if_id, b->wr->key.tenant);
			free(by_id);
			return err;
		}
	}
	free(by_id);
	return 0;
}

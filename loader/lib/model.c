// SPDX-License-Identifier: GPL-2.0
/*
 * The engine's state: growable vectors, route keys, and how an operation
 * and what it is for are named in messages.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
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


/* Grow *v (of elements of size) to hold n + 1; NULL when out of memory. */
void *vec_slot(void *vp, size_t *cap, size_t n, size_t size)
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
void sort_n(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n)
		qsort(base, n, size, cmp);
}

void *search_n(const void *key, const void *base, size_t n, size_t size,
		      int (*cmp)(const void *, const void *))
{
	return n ? bsearch(key, base, n, size, cmp) : NULL;
}


/* ---- The engine's state ---- */

/* Route keys: the file's and the maps' forms meet in apply_route_key. */
void rkey_from(struct apply_route_key *k, const struct xs_prefix *p, uint32_t tenant)
{
	memset(k, 0, sizeof(*k));
	k->family = (uint32_t)p->family;
	k->tenant = tenant;
	k->plen = p->plen;
	memcpy(k->addr, p->addr, 16);
}

static const char *tenant_text(const struct dev_run *d, uint32_t tenant, char *buf, size_t len);

const char *rkey_str(const struct dev_run *d, const struct apply_route_key *k, char *buf,
		     size_t len)
{
	struct xs_prefix p = { .family = (int)k->family, .plen = (uint8_t)k->plen };
	char a[64], t[XS_IFNAME_LEN + 16];

	memcpy(p.addr, k->addr, 16);
	snprintf(buf, len, "%s tenant %s", format_prefix(&p, a, sizeof(a)),
		 tenant_text(d, k->tenant, t, sizeof(t)));
	return buf;
}

const char *run_src(const struct run *r)
{
	return r->o->src;
}

/* 'file: tunnels[3] ("x")' for messages, or 'tunnel "x"' on the command
 * line. */
const char *ent_label(const struct run *r, uint8_t kind, size_t dev, size_t ent,
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
			 rkey_str(&r->devs[dev], &r->devs[dev].routes[ent].key, a, sizeof(a)), r->devs[dev].name);
		break;
	case ENT_KGROUP:
		snprintf(buf, len, "route %s dev %s (not in the file)",
			 rkey_str(&r->devs[dev], &r->devs[dev].groups[ent].key, a, sizeof(a)),
			 r->devs[dev].name);
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
int __attribute__((format(printf, 6, 7)))
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
	if (d->open)
		return xs_tenant_str(&d->st, tenant, buf, len);
	/* A dry run of a device to be made: what the file's mode says. */
	if (d->tenant_mode == XS_TENANT_MARK)
		snprintf(buf, len, "0x%x", tenant);
	else
		snprintf(buf, len, "%u", tenant);
	return buf;
}

/* What an operation does, as a plan line or after "cannot ". */
const char *op_text(const struct run *r, const struct op *op, char *buf, size_t len)
{
	const struct dev_run *d = &r->devs[op->dev];
	char a[256], t[32];

	switch (op->kind) {
	case OP_SA_ADD:
		snprintf(buf, len, "add %s if_id %u", xs_sa_name(op->u.sa, a, sizeof(a)),
			 op->u.sa->if_id);
		break;
	case OP_SA_DEL:
		snprintf(buf, len, "remove %s if_id %u", xs_sa_name(op->u.sa, a, sizeof(a)),
			 op->u.sa->if_id);
		break;
	case OP_POL_ADD:
		snprintf(buf, len, "add %s", xs_policy_name(op->u.pol.pol, a, sizeof(a)));
		break;
	case OP_POL_UPD:
		snprintf(buf, len, "update %s", xs_policy_name(op->u.pol.pol, a, sizeof(a)));
		break;
	case OP_POL_DEL:
		snprintf(buf, len, "remove %s", xs_policy_name(op->u.pol.pol, a, sizeof(a)));
		break;
	case OP_ROUTE_SET: {
		struct apply_route_key k = op->u.route.key;
		struct xs_prefix p = { .family = (int)k.family, .plen = (uint8_t)k.plen };

		memcpy(p.addr, k.addr, 16);
		if (op->u.route.had_old && !op->u.route.old.tunnel_idx)
			snprintf(buf, len, "change route %s tenant %s dev %s: group -> if_id %u",
				 format_prefix(&p, a, sizeof(a)),
				 tenant_text(d, k.tenant, t, sizeof(t)), d->name,
				 op->u.route.if_id);
		else if (op->u.route.had_old)
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
		if (!op->u.route.old.tunnel_idx)
			snprintf(buf, len, "remove route %s tenant %s dev %s to a group",
				 format_prefix(&p, a, sizeof(a)),
				 tenant_text(d, k.tenant, t, sizeof(t)), d->name);
		else
			snprintf(buf, len, "remove route %s tenant %s dev %s if_id %u",
				 format_prefix(&p, a, sizeof(a)),
				 tenant_text(d, k.tenant, t, sizeof(t)), d->name,
				 op->u.route.old.if_id);
		break;
	}
	case OP_GROUP_SET:
	case OP_GROUP_UNSET: {
		struct apply_route_key k = op->u.group.key;
		struct xs_prefix p = { .family = (int)k.family, .plen = (uint8_t)k.plen };
		const struct route_group *g = op->u.group.g;
		char nh[XS_GROUP_MAX * 64];
		size_t at = 0;
		uint32_t m;

		memcpy(p.addr, k.addr, 16);
		nh[0] = 0;
		for (m = 0; g && m < g->n && m < XS_GROUP_MAX && at < sizeof(nh); m++) {
			int c;

			at += (size_t)snprintf(nh + at, sizeof(nh) - at, " nexthop if_id %u weight %u",
					       g->nh[m].if_id, g->nh[m].weight);
			for (c = 0; c < 64 && at < sizeof(nh); c++)
				if (g->nh[m].dscp & (1ull << c))
					at += (size_t)snprintf(nh + at, sizeof(nh) - at, "%s%d",
							       g->nh[m].dscp & ((1ull << c) - 1) ?
								       "," :
								       " dscp ",
							       c);
			if (at < sizeof(nh) && g->nh[m].flags & XS_NH_BACKUP)
				at += (size_t)snprintf(nh + at, sizeof(nh) - at, " backup");
		}
		snprintf(buf, len, "%s route %s tenant %s dev %s%s",
			 op->kind == OP_GROUP_UNSET ? "undo" :
			 !op->u.group.had_old	    ? "add" :
			 !op->u.group.old.tunnel_idx ? "change" :
						       "change (was if_id) to",
			 format_prefix(&p, a, sizeof(a)), tenant_text(d, k.tenant, t, sizeof(t)),
			 d->name, nh);
		break;
	}
	case OP_GROUP_FREE:
	case OP_GROUP_PUT:
		snprintf(buf, len, "%s group %u on %s",
			 op->kind == OP_GROUP_FREE ? "release" : "restore", op->u.group.gid, d->name);
		break;
	case OP_SLOT_ENSURE:
		snprintf(buf, len, "set up counters of if_id %u on %s", op->u.slot.if_id, d->name);
		break;
	case OP_SLOT_REMOVE:
		snprintf(buf, len, "release counters of if_id %u on %s", op->u.slot.if_id,
			 d->name);
		break;
	case OP_REC_PUT:
		if (op->u.rec.rec->state == XS_TUN_READY)
			snprintf(buf, len, "complete the tunnel (dev %s, if_id %u)", d->name,
				 op->u.rec.rec->if_id);
		else if (op->u.rec.had_old && op->u.rec.old->flags & XS_TUNF_CLI &&
			 !(op->u.rec.rec->flags & XS_TUNF_CLI))
			snprintf(buf, len, "take over the tunnel tunnel add made (dev %s, if_id %u)",
				 d->name, op->u.rec.rec->if_id);
		else if (op->u.rec.had_old)
			snprintf(buf, len, "update the tunnel (dev %s, if_id %u)", d->name,
				 op->u.rec.rec->if_id);
		else
			snprintf(buf, len, "add the tunnel (dev %s, if_id %u)", d->name,
				 op->u.rec.rec->if_id);
		break;
	case OP_REC_DEL:
		snprintf(buf, len, "remove the tunnel (dev %s, if_id %u)", d->name,
			 op->u.rec.old->if_id);
		break;
	case OP_OWN_PUT:
	case OP_OWN_DEL:
		snprintf(buf, len, "%s ownership of route %s on %s",
			 op->kind == OP_OWN_PUT ? "record" : "drop",
			 rkey_str(d, &op->u.own.key, a, sizeof(a)), d->name);
		break;
	default:
		snprintf(buf, len, "?");
	}
	return buf;
}

struct op *op_new(struct run *r, uint8_t kind, uint8_t phase, size_t dev,
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

void *op_keep(struct run *r, const void *src, size_t size)
{
	size_t need = (size + 15) & ~(size_t)15;
	struct op_store *s = r->store;
	void *p;

	if (!s || s->cap - s->used < need) {
		size_t cap = need > 65536 ? need : 65536;

		s = malloc(sizeof(*s) + cap);
		if (!s)
			return NULL;
		s->next = r->store;
		s->used = 0;
		s->cap = cap;
		r->store = s;
	}
	p = s->data + s->used;
	s->used += need;
	memcpy(p, src, size);
	return p;
}

void op_store_free(struct run *r)
{
	struct op_store *s, *next;

	for (s = r->store; s; s = next) {
		next = s->next;
		explicit_bzero(s->data, s->used);
		free(s);
	}
	r->store = NULL;
}

/* ---- Devices and links ---- */

int find_dev(const struct run *r, const char *name, size_t *i)
{
	for (*i = 0; *i < r->ndevs; (*i)++)
		if (!strcmp(r->devs[*i].name, name))
			return 0;
	return -ENOENT;
}

int add_dev(struct run *r, const char *name)
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

int dev_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dev_run *)a)->name, ((const struct dev_run *)b)->name);
}

int vec_printf(char ***v, size_t *n, size_t *cap, const char *fmt, ...)
{
	char **slot = vec_slot(v, cap, *n, sizeof(**v));
	va_list ap;
	int len;

	if (!slot)
		return -ENOMEM;
	va_start(ap, fmt);
	len = vasprintf(slot, fmt, ap);
	va_end(ap);
	if (len < 0)
		return -ENOMEM;
	(*n)++;
	return 0;
}

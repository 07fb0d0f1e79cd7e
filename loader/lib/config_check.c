// SPDX-License-Identifier: GPL-2.0
/* The file format's checks across entries: links, clashes of SPIs,
 * prefixes and if_ids between tunnels and routes (config.h). */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/udp.h>
#include <json-c/printbuf.h>

#include "config.h"
#include "config_int.h"
#include "keys.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
static bool addr_eq(const struct xs_prefix *a, const struct xs_prefix *b)
{
	return a->family == b->family && !memcmp(a->addr, b->addr, 16);
}

static bool prefix_eq(const struct xs_prefix *a, const struct xs_prefix *b)
{
	return addr_eq(a, b) && a->plen == b->plen;
}

static bool tenant_equal(const struct xs_cfg_tenant *a, const struct xs_cfg_tenant *b)
{
	if (a->is_name != b->is_name)
		return false;
	return a->is_name ? !strcmp(a->name, b->name) : a->num == b->num;
}

/* Before the tunnels, whose "dev" may default to the one link. */
int cfg_check_links(struct perr *pe, const struct xs_config_file *cfg)
{
	size_t i, j;

	/* Checked here, when the file is read, so that a run never starts
	 * what it cannot finish. */
	if (cfg->nlinks > XS_CFG_MAX_LINKS) {
		snprintf(pe->entry, sizeof(pe->entry), "links[%d] (\"%s\")", XS_CFG_MAX_LINKS,
			 cfg->links[XS_CFG_MAX_LINKS].name);
		return cfg_fail(pe, NULL, "%zu links in one file, at most %d: split the file", cfg->nlinks,
			    XS_CFG_MAX_LINKS);
	}
	for (i = 0; i < cfg->nlinks; i++)
		for (j = 0; j < i; j++)
			if (!strcmp(cfg->links[i].name, cfg->links[j].name)) {
				snprintf(pe->entry, sizeof(pe->entry), "links[%zu] (\"%s\")", i,
					 cfg->links[i].name);
				return cfg_fail(pe, "name", "links[%zu] has the same name", j);
			}
	return 0;
}

/* What one entry may not share with another: names, if_ids, SAs (the
 * kernel's key: destination and SPI), routes (device, tenant, prefix).
 * tunnel_clash() and route_clash() say what entry i clashes with, comparing
 * it with every entry before it; first_clash() finds which entry to ask
 * about in O(n), so that files of many thousands of tunnels load in
 * no time. */
static int tunnel_clash(struct perr *pe, const struct xs_config_file *cfg, size_t i)
{
	const struct xs_cfg_tunnel *t = &cfg->tunnels[i];
	char buf[64], other[96];
	size_t j, k, m;

	xs_cfg_tunnel_label(cfg, i, pe->entry, sizeof(pe->entry));
	for (j = 0; j < i; j++) {
		const struct xs_cfg_tunnel *u = &cfg->tunnels[j];

		xs_cfg_tunnel_label(cfg, j, other, sizeof(other));
		if (!strcmp(t->name, u->name))
			return cfg_fail(pe, "name", "%s has the same name", other);
		/* SAs and policies are the namespace's, not a device's. */
		if (t->if_id == u->if_id)
			return cfg_fail(pe, "if_id", "%u is %s's already", t->if_id, other);
		if ((t->spi_in == u->spi_in && addr_eq(&t->local, &u->local)) ||
		    (t->spi_in == u->spi_out && addr_eq(&t->local, &u->remote)))
			return cfg_fail(pe, "spi_in", "0x%08x to %s is an SA of %s already", t->spi_in,
				    format_addr(t->local.family, t->local.addr, buf, sizeof(buf)),
				    other);
		if ((t->spi_out == u->spi_out && addr_eq(&t->remote, &u->remote)) ||
		    (t->spi_out == u->spi_in && addr_eq(&t->remote, &u->local)))
			return cfg_fail(pe, "spi_out", "0x%08x to %s is an SA of %s already",
				    t->spi_out,
				    format_addr(t->remote.family, t->remote.addr, buf, sizeof(buf)),
				    other);
		if (strcmp(t->dev, u->dev) || !tenant_equal(&t->tenant, &u->tenant))
			continue;
		for (k = 0; k < t->nprefixes; k++)
			for (m = 0; m < u->nprefixes; m++)
				if (prefix_eq(&t->prefixes[k], &u->prefixes[m]))
					return cfg_fail(pe, NULL,
						    "prefixes[%zu]: %s is a prefix of %s already", k,
						    format_prefix(&t->prefixes[k], buf, sizeof(buf)),
						    other);
	}
	return 0;
}

static int route_clash(struct perr *pe, const struct xs_config_file *cfg, size_t i)
{
	const struct xs_cfg_route *r = &cfg->routes[i];
	char buf[64], other[96];
	size_t j, k;

	snprintf(pe->entry, sizeof(pe->entry), "routes[%zu] (%s)", i,
		 format_prefix(&r->prefix, buf, sizeof(buf)));
	for (j = 0; j < i; j++)
		if (!strcmp(r->dev, cfg->routes[j].dev) &&
		    tenant_equal(&r->tenant, &cfg->routes[j].tenant) &&
		    prefix_eq(&r->prefix, &cfg->routes[j].prefix))
			return cfg_fail(pe, NULL, "routes[%zu] is the same route", j);
	for (j = 0; j < cfg->ntunnels; j++) {
		const struct xs_cfg_tunnel *t = &cfg->tunnels[j];

		if (strcmp(r->dev, t->dev))
			continue;
		xs_cfg_tunnel_label(cfg, j, other, sizeof(other));
		/* show -j lists a route to a tunnel's if_id with the tunnel;
		 * accepting it here too would give one route two owners. */
		if (r->if_id == t->if_id)
			return cfg_fail(pe, "if_id",
				    "%u is the if_id of %s: list the prefix in its \"prefixes\"",
				    r->if_id, other);
		if (!tenant_equal(&r->tenant, &t->tenant))
			continue;
		for (k = 0; k < t->nprefixes; k++)
			if (prefix_eq(&r->prefix, &t->prefixes[k]))
				return cfg_fail(pe, "prefix", "is a prefix of %s already", other);
	}
	return 0;
}

/* A key two entries must not share. Owners: tunnel i is i, route i is
 * ntunnels + i, so a smaller owner comes first in the file's checks. */
enum dup_kind { DUP_NAME = 1, DUP_IF_ID, DUP_SA, DUP_ROUTE, DUP_DEV_IF_ID };

struct dup_key {
	uint8_t b[64]; /* kind, then the fields, zero-padded */
	size_t owner;
};

static size_t dup_hash(const struct dup_key *k)
{
	uint64_t h = 0, w;
	size_t i;

	for (i = 0; i < sizeof(k->b); i += sizeof(w)) {
		memcpy(&w, k->b + i, sizeof(w));
		h = (h ^ w) * 0x9e3779b97f4a7c15ull;
		h ^= h >> 29;
	}
	return (size_t)h;
}

struct dup_keys {
	struct dup_key *k;
	size_t n;
};

static struct dup_key *dup_add(struct dup_keys *d, uint8_t kind, size_t owner)
{
	struct dup_key *k = &d->k[d->n++];

	memset(k->b, 0, sizeof(k->b));
	k->b[0] = kind;
	k->owner = owner;
	return k;
}

static void put_str(uint8_t *at, const char *str, size_t max)
{
	memcpy(at, str, strnlen(str, max));
}

static void put_tenant(uint8_t *at, const struct xs_cfg_tenant *t)
{
	at[0] = t->is_name;
	if (t->is_name)
		put_str(at + 1, t->name, XS_IFNAME_LEN);
	else
		memcpy(at + 1, &t->num, sizeof(t->num));
}

static void put_addr(uint8_t *at, const struct xs_prefix *p, bool with_len)
{
	at[0] = (uint8_t)p->family;
	at[1] = with_len ? p->plen : 0;
	memcpy(at + 2, p->addr, 16);
}

/* An SA as the kernel keys it: SPI and destination. */
static void add_sa_key(struct dup_keys *d, size_t owner, uint32_t spi, const struct xs_prefix *dst)
{
	struct dup_key *key = dup_add(d, DUP_SA, owner);

	memcpy(key->b + 1, &spi, 4);
	put_addr(key->b + 5, dst, false);
}

/* A route, a tunnel's prefix or a loose one: device, tenant, prefix. */
static void add_route_key(struct dup_keys *d, size_t owner, const char *dev,
			  const struct xs_cfg_tenant *tenant, const struct xs_prefix *prefix)
{
	struct dup_key *key = dup_add(d, DUP_ROUTE, owner);

	put_str(key->b + 1, dev, XS_IFNAME_LEN);
	put_tenant(key->b + 1 + XS_IFNAME_LEN, tenant);
	put_addr(key->b + 2 + 2 * XS_IFNAME_LEN, prefix, true);
}

static void add_dev_if_id_key(struct dup_keys *d, size_t owner, const char *dev, uint32_t if_id)
{
	struct dup_key *key = dup_add(d, DUP_DEV_IF_ID, owner);

	put_str(key->b + 1, dev, XS_IFNAME_LEN);
	memcpy(key->b + 1 + XS_IFNAME_LEN, &if_id, 4);
}

/* The first entry that clashes with one before it, in *owner (SIZE_MAX:
 * none). */
static int first_clash(const struct xs_config_file *cfg, size_t *owner)
{
	size_t i, k, n = 0, first, nt = cfg->ntunnels, cap, *slot;
	struct dup_keys d = { 0 };

	for (i = 0; i < nt; i++)
		n += 5 + cfg->tunnels[i].nprefixes;
	n += 2 * cfg->nroutes;
	*owner = SIZE_MAX;
	if (!n)
		return 0;
	d.k = calloc(n, sizeof(*d.k));
	if (!d.k)
		return -ENOMEM;
	for (i = 0; i < nt; i++) {
		const struct xs_cfg_tunnel *t = &cfg->tunnels[i];

		put_str(dup_add(&d, DUP_NAME, i)->b + 1, t->name, XS_TUNNEL_NAME_LEN);
		memcpy(dup_add(&d, DUP_IF_ID, i)->b + 1, &t->if_id, 4);
		add_sa_key(&d, i, t->spi_in, &t->local);
		add_sa_key(&d, i, t->spi_out, &t->remote);
		add_dev_if_id_key(&d, i, t->dev, t->if_id);
		for (k = 0; k < t->nprefixes; k++)
			add_route_key(&d, i, t->dev, &t->tenant, &t->prefixes[k]);
	}
	for (i = 0; i < cfg->nroutes; i++) {
		const struct xs_cfg_route *r = &cfg->routes[i];

		add_route_key(&d, nt + i, r->dev, &r->tenant, &r->prefix);
		add_dev_if_id_key(&d, nt + i, r->dev, r->if_id);
	}
	/* The keys come in owners' order, so the first of a key is its
	 * earliest owner; each later owner other than it clashes with it,
	 * and the first such is the earliest of all. Routes may share an
	 * if_id among themselves, not with a tunnel. A hash of the keys
	 * finds them in O(n). */
	for (cap = 16; cap < 2 * d.n; cap *= 2)
		;
	slot = malloc(cap * sizeof(*slot));
	if (!slot) {
		free(d.k);
		return -ENOMEM;
	}
	memset(slot, 0xff, cap * sizeof(*slot));
	for (i = 0; i < d.n && *owner == SIZE_MAX; i++) {
		for (k = dup_hash(&d.k[i]) & (cap - 1); slot[k] != SIZE_MAX; k = (k + 1) & (cap - 1))
			if (!memcmp(d.k[slot[k]].b, d.k[i].b, sizeof(d.k[i].b)))
				break;
		if (slot[k] == SIZE_MAX) {
			slot[k] = i;
			continue;
		}
		first = d.k[slot[k]].owner;
		if (d.k[i].owner == first || (d.k[i].b[0] == DUP_DEV_IF_ID && first >= nt))
			continue;
		*owner = d.k[i].owner;
	}
	free(slot);
	free(d.k);
	return 0;
}

int cfg_check_duplicates(struct perr *pe, const struct xs_config_file *cfg)
{
	size_t owner;
	int err;

	err = first_clash(cfg, &owner);
	if (!err && owner < cfg->ntunnels)
		err = tunnel_clash(pe, cfg, owner);
	else if (!err && owner != SIZE_MAX)
		err = route_clash(pe, cfg, owner - cfg->ntunnels);
	if (!err)
		pe->entry[0] = '\0';
	return err;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Observe: what exists. Readers of the pinned maps and of the kernel's SAs
 * and policies, the devices a run manages opened and read, and the file
 * form of what there is (show).
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
			      size_t *n, size_t *cap, size_t *ngroups)
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
		/* A route group (tunnel_idx 0, if_id its group's index): not a
		 * route to an if_id, and nothing the engine knows yet. */
		if (!e->val.tunnel_idx) {
			(*ngroups)++;
			continue;
		}
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

int xs_routes_read(struct xs_state *st, struct xs_route_ent **v, size_t *n, size_t *ngroups)
{
	size_t cap = 0, g = 0;
	int err;

	*v = NULL;
	*n = 0;
	err = read_routes_family(st, AF_INET, v, n, &cap, &g);
	if (!err)
		err = read_routes_family(st, AF_INET6, v, n, &cap, &g);
	if (ngroups)
		*ngroups = g;
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

int xs_online_cpus(uint32_t **cpus, size_t *n)
{
	char line[4096], *p, *end;
	unsigned long a, b, c;
	FILE *f = fopen("/sys/devices/system/cpu/online", "re");
	uint32_t *v = NULL;
	size_t cap = 0, k = 0;
	int err = 0;

	if (!f)
		return -errno;
	if (!fgets(line, sizeof(line), f))
		err = -EIO;
	fclose(f);
	/* "0-3,6": ranges and single CPUs. */
	for (p = line; !err && *p && *p != '\n';) {
		a = strtoul(p, &end, 10);
		b = a;
		if (end == p) {
			err = -EBADMSG;
			break;
		}
		if (*end == '-') {
			p = end + 1;
			b = strtoul(p, &end, 10);
			if (end == p || b < a) {
				err = -EBADMSG;
				break;
			}
		}
		for (c = a; c <= b; c++) {
			uint32_t *e = vec_slot(&v, &cap, k, sizeof(*v));

			if (!e) {
				err = -ENOMEM;
				break;
			}
			*e = (uint32_t)c;
			k++;
		}
		p = *end == ',' ? end + 1 : end;
	}
	if (err) {
		free(v);
		return err;
	}
	*cpus = v;
	*n = k;
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

bool addr_eq(const struct xs_prefix *a, const struct xs_prefix *b)
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

/* The pinned meta of a device, without a word if there is none. */
int read_meta_quiet(struct xs_ctx *ctx, const char *dev, struct meta_value *m,
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
	snprintf(path, sizeof(path), "%s/ike_routes", dir);
	*complete = *complete && !stat(path, &sb);
	return err;
}


/* ---- Reading the devices ---- */

int open_devs(struct run *r)
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
					d->max_routes = r->cfg->links[j].have_max_routes ?
								r->cfg->links[j].max_routes :
								XS_DEFAULT_ROUTES;
					d->max_tunnels = r->cfg->links[j].have_max_tunnels ?
								 r->cfg->links[j].max_tunnels :
								 XS_DEFAULT_TUNNELS;
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
		d->max_routes = d->st.meta->max_routes;
		d->max_tunnels = d->st.meta->max_tunnels;
	}
	return 0;
}

int rec_ent_cmp(const void *a, const void *b)
{
	return strncmp(((const struct xs_rec_ent *)a)->key.name,
		       ((const struct xs_rec_ent *)b)->key.name, XS_TUNNEL_NAME_LEN);
}

/* apply_route_key has no padding: its bytes compare. */
int route_ent_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct apply_route_key));
}

int own_ent_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct apply_route_key));
}

int slot_ent_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The model of a device's records and routes, indexed for the planner:
 * sorted, with its per-entry marks. What read_dev() read, or a unit test
 * made by hand. */
int dev_index(struct run *r, struct dev_run *d)
{
	size_t i;

	d->rec_scope = calloc(d->nrecs + 1, sizeof(*d->rec_scope));
	d->rec_want = calloc(d->nrecs + 1, sizeof(*d->rec_want));
	d->route_leaves = calloc(d->nroutes + 1, sizeof(*d->route_leaves));
	d->group_leaves = calloc(d->ngroups + 1, sizeof(*d->group_leaves));
	if (!d->rec_scope || !d->rec_want || !d->route_leaves || !d->group_leaves)
		return p_err(r->ctx, -ENOMEM, "out of memory");
	for (i = 0; i < d->nrecs; i++)
		d->rec_want[i] = -1;
	/* Sorted once, looked up by bsearch(): files of thousands of tunnels
	 * plan in n log n. */
	sort_n(d->recs, d->nrecs, sizeof(*d->recs), rec_ent_cmp);
	sort_n(d->routes, d->nroutes, sizeof(*d->routes), route_ent_cmp);
	sort_n(d->groups, d->ngroups, sizeof(*d->groups), route_ent_cmp);
	sort_n(d->owned, d->nowned, sizeof(*d->owned), own_ent_cmp);
	sort_n(d->slots, d->nslots, sizeof(*d->slots), slot_ent_cmp);
	return 0;
}

int read_dev(struct run *r, struct dev_run *d)
{
	size_t cap = 0;
	int fd, err;

	if (!d->open)
		return 0;
	err = xs_recs_read(&d->st, &d->recs, &d->nrecs);
	if (!err)
		err = xs_routes_read(&d->st, &d->routes, &d->nroutes, NULL);
	if (!err)
		err = xs_groups_read(&d->st, &d->groups, &d->ngroups);
	if (!err && r->o->scope == XS_SCOPE_FILE)
		err = xs_groups_orphans(&d->st, d->groups, d->ngroups, &d->orphans, &d->norphans);
	if (err)
		return p_err(r->ctx, err, "cannot read the state of \"%s\": %s", d->name,
			     strerror(-err));
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
		struct apply_route_key key, next;
		void *prev = NULL;
		uint32_t k;

		cap = 0;
		fd = bpf_map__fd(d->st.skel->maps.ike_routes);
		while (!bpf_map_get_next_key(fd, prev, &next)) {
			struct own_ent *e;

			key = next;
			prev = &key;
			e = vec_slot(&d->ike_owned, &cap, d->nike_owned, sizeof(*d->ike_owned));
			if (!e)
				return p_err(r->ctx, -ENOMEM, "out of memory");
			e->key = key;
			if (!bpf_map_lookup_elem(fd, &key, &e->val))
				d->nike_owned++;
		}
		sort_n(d->ike_owned, d->nike_owned, sizeof(*d->ike_owned), own_ent_cmp);
		fd = bpf_map__fd(d->st.skel->maps.ike_ranges);
		for (k = 0; k < XS_IKE_RANGES_MAX; k++)
			if (bpf_map_lookup_elem(fd, &k, &d->ike_ranges[k]))
				memset(&d->ike_ranges[k], 0, sizeof(d->ike_ranges[k]));
	}
	{
		uint32_t key, next;
		void *prev = NULL;

		cap = 0;
		fd = bpf_map__fd(d->st.skel->maps.tunnel_by_ifid);
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
	return dev_index(r, d);
}

int elsewhere_cmp(const void *a, const void *b)
{
	return strncmp(a, b, XS_TUNNEL_NAME_LEN);
}

static int elsewhere_cb(struct xs_ctx *ctx, const char *ifname, void *data)
{
	struct run *r = data;
	struct xs_rec_ent *recs = NULL;
	struct xs_state st;
	size_t n = 0, i, di;
	int err;

	if (!find_dev(r, ifname, &di))
		return 0;
	err = xs_state_open(ctx, ifname, XS_LOCK_SHARED, &st);
	if (err)
		return err;
	err = xs_recs_read(&st, &recs, &n);
	xs_state_close(&st);
	if (err)
		return p_err(ctx, err, "cannot read the tunnels of \"%s\": %s", ifname,
			     strerror(-err));
	for (i = 0; i < n; i++) {
		struct elsewhere *e = vec_slot(&r->elsewhere, &r->capelsewhere, r->nelsewhere,
					       sizeof(*r->elsewhere));

		if (!e) {
			free(recs);
			return p_err(ctx, -ENOMEM, "out of memory");
		}
		memcpy(e->name, recs[i].key.name, sizeof(e->name));
		snprintf(e->dev, sizeof(e->dev), "%s", ifname);
		r->nelsewhere++;
	}
	free(recs);
	return 0;
}

int read_elsewhere(struct run *r)
{
	return xs_for_each_attached(r->ctx, elsewhere_cb, r);
}

struct xs_rec_ent *find_rec(struct dev_run *d, const char *name, size_t *idx)
{
	struct xs_rec_ent key, *e;

	memset(&key, 0, sizeof(key));
	snprintf(key.key.name, sizeof(key.key.name), "%s", name);
	e = search_n(&key, d->recs, d->nrecs, sizeof(*d->recs), rec_ent_cmp);
	if (e && idx)
		*idx = (size_t)(e - d->recs);
	return e;
}


/* ---- Owners ---- */

static int rec_if_id_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct xs_rec_ent *)a)->rec.if_id,
		 y = ((const struct xs_rec_ent *)b)->rec.if_id;

	return x < y ? -1 : x > y;
}

int xs_owners_read(struct xs_state *st, struct xs_owners *ow)
{
	int err;

	memset(ow, 0, sizeof(*ow));
	err = xs_recs_read(st, &ow->recs, &ow->nrecs);
	if (err)
		return err;
	sort_n(ow->recs, ow->nrecs, sizeof(*ow->recs), rec_if_id_cmp);
	ow->own_fd = bpf_map__fd(st->skel->maps.apply_routes);
	ow->ike_fd = bpf_map__fd(st->skel->maps.ike_routes);
	return 0;
}

void xs_owners_free(struct xs_owners *ow)
{
	free(ow->recs);
	memset(ow, 0, sizeof(*ow));
}

const char *xs_tunnel_owner(const struct tunnel_rec *rec)
{
	return rec->flags & XS_TUNF_CLI ? "cli" : "file";
}

const char *xs_route_owner(const struct xs_owners *ow, const struct apply_route_key *k,
			   uint32_t if_id, const char **tunnel)
{
	struct xs_rec_ent key = { .rec.if_id = if_id }, *e;
	struct apply_route_value v;

	*tunnel = NULL;
	e = search_n(&key, ow->recs, ow->nrecs, sizeof(*ow->recs), rec_if_id_cmp);
	if (e) {
		*tunnel = e->key.name;
		return "tunnel";
	}
	if (!bpf_map_lookup_elem(ow->own_fd, k, &v) && v.if_id == if_id)
		return "file";
	if (!bpf_map_lookup_elem(ow->ike_fd, k, &v) && v.if_id == if_id)
		return "ike";
	return "cli";
}

const char *xs_group_owner(const struct xs_owners *ow, const struct apply_route_key *k,
			   const struct route_group *g)
{
	struct apply_route_value v;

	if (!bpf_map_lookup_elem(ow->own_fd, k, &v) && !v.if_id && v.pad == xs_group_digest(g))
		return "file";
	if (!bpf_map_lookup_elem(ow->ike_fd, k, &v) && !v.if_id && v.pad == xs_group_digest(g))
		return "ike";
	return "cli";
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
	struct xs_group_ent *groups = NULL;
	size_t nrecs = 0, nroutes = 0, ngroups = 0, i, j;
	struct xs_cfg_link *l;
	struct xs_state st;
	struct xs_owners ow = { 0 };
	const char *tname;
	bool *used = NULL;
	void *p;
	int err;

	err = xs_state_open(ctx, ifname, XS_LOCK_SHARED, &st);
	if (err)
		return err;
	err = xs_owners_read(&st, &ow);
	if (!err)
		err = xs_recs_read(&st, &recs, &nrecs);
	if (!err)
		err = xs_routes_read(&st, &routes, &nroutes, NULL);
	if (!err)
		err = xs_groups_read(&st, &groups, &ngroups);
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
		t->cli = rec->flags & XS_TUNF_CLI;
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
	p = realloc(cfg->routes, (cfg->nroutes + nroutes + ngroups + 1) * sizeof(*cfg->routes));
	if (!p)
		goto oom;
	cfg->routes = p;
	for (j = 0; j < nroutes; j++) {
		struct xs_cfg_route *rt;

		if (used[j])
			continue;
		/* The daemon's IKE routes are the kernel's CHILD_SAs', made
		 * again from them: not configuration. */
		if (!strcmp(xs_route_owner(&ow, &routes[j].key, routes[j].val.if_id, &tname),
			    "ike"))
			continue;
		rt = &cfg->routes[cfg->nroutes++];
		memset(rt, 0, sizeof(*rt));
		snprintf(rt->dev, sizeof(rt->dev), "%s", ifname);
		rt->prefix.family = (int)routes[j].key.family;
		rt->prefix.plen = (uint8_t)routes[j].key.plen;
		memcpy(rt->prefix.addr, routes[j].key.addr, 16);
		rt->if_id = routes[j].val.if_id;
		xs_iif_tenant_to_cfg(&st, routes[j].key.tenant, &rt->tenant);
		rt->cli = strcmp(xs_route_owner(&ow, &routes[j].key, rt->if_id, &tname), "file");
	}
	for (j = 0; j < ngroups; j++) {
		const struct route_group *g = &groups[j].g;
		struct xs_cfg_route *rt;
		uint32_t m;

		/* A route to an index without a group: nothing the file can
		 * say, and nothing show may leave out in silence. */
		if (!g->n) {
			struct xs_prefix gp = { .family = (int)groups[j].key.family,
						.plen = (uint8_t)groups[j].key.plen };
			char pb[64];

			memcpy(gp.addr, groups[j].key.addr, 16);
			err = p_err(ctx, -EIO,
				    "route %s on \"%s\" names group %u, which is empty: delete the route (\"xfrm-steer route del\") or add it again",
				    format_prefix(&gp, pb, sizeof(pb)), ifname, groups[j].gid);
			goto out;
		}
		rt = &cfg->routes[cfg->nroutes++];
		memset(rt, 0, sizeof(*rt));
		snprintf(rt->dev, sizeof(rt->dev), "%s", ifname);
		rt->prefix.family = (int)groups[j].key.family;
		rt->prefix.plen = (uint8_t)groups[j].key.plen;
		memcpy(rt->prefix.addr, groups[j].key.addr, 16);
		xs_iif_tenant_to_cfg(&st, groups[j].key.tenant, &rt->tenant);
		rt->nnh = g->n;
		for (m = 0; m < g->n; m++) {
			rt->nh[m].if_id = g->nh[m].if_id;
			rt->nh[m].weight = g->nh[m].weight;
			rt->nh[m].dscp = g->nh[m].dscp;
			rt->nh[m].backup = g->nh[m].flags & XS_NH_BACKUP;
		}
		rt->cli = strcmp(xs_group_owner(&ow, &groups[j].key, g), "file");
	}
	err = 0;
	goto out;
oom:
	p_err(ctx, err, "out of memory");
out:
	xs_owners_free(&ow);
	free(used);
	free(recs);
	free(routes);
	free(groups);
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

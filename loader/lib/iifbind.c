// SPDX-License-Identifier: GPL-2.0
/* tenant-key iif: tenants bound to their LAN interfaces (iifbind.h). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "iifbind.h"
#include "iif_stamp.skel.h"
#include "xfrm_steer.skel.h"

/* Tenants per device: LAN interfaces, VLANs. */
#define IIF_MAX_BINDS 65536

static void link_path(const char *dir, uint32_t ifindex, char *buf, size_t len)
{
	snprintf(buf, len, "%s/" XS_PIN_IIF_LINK_FMT, dir, ifindex);
}

/* The pinned binding records of the device in dir, made when create. */
static int binds_fd(const char *dir, bool create)
{
	char path[PATH_MAX];
	int fd, err;

	snprintf(path, sizeof(path), "%s/%s", dir, XS_PIN_IIF_BINDS);
	fd = bpf_obj_get(path);
	if (fd >= 0)
		return fd;
	if (!create || errno != ENOENT)
		return -errno;
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_NO_PREALLOC);
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, XS_PIN_IIF_BINDS, sizeof(__u32),
			    sizeof(struct iif_bind), IIF_MAX_BINDS, &o);
	if (fd < 0)
		return -errno;
	if (bpf_obj_pin(fd, path)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* A binding is live while its link is attached to the interface that has
 * its ifindex in this namespace: the kernel detaches the link when the
 * interface goes, whatever gets the number then, and an interface moved to
 * another namespace takes the link along. So the link must be among those
 * of the device at that ifindex here. */
static bool bind_live(const struct iif_bind *b)
{
	__u32 progs[64], ids[64], i;
	int err;

	/* The kernel fills link_ids only along with prog_ids. */
	LIBBPF_OPTS(bpf_prog_query_opts, q, .prog_ids = progs, .link_ids = ids, .count = 64);
	err = bpf_prog_query_opts((int)b->ifindex, BPF_TCX_INGRESS, &q);
	if (err || !b->link_id)
		return false;
	for (i = 0; i < q.count && i < 64; i++)
		if (ids[i] == b->link_id)
			return true;
	return false;
}

static void unpin_link(const char *dir, uint32_t ifindex)
{
	char path[PATH_MAX];
	int fd;

	link_path(dir, ifindex, path, sizeof(path));
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		bpf_link_detach(fd);
		close(fd);
	}
	unlink(path);
}

/* The stamp program at tcx ingress of ifindex, first in its chain (a
 * program before it that ended the chain would keep it from running), its
 * link pinned in dir. */
static int stamp_attach(const char *dir, uint32_t ifindex, uint32_t stamp, uint32_t *link_id,
			char *why, size_t len)
{
	struct bpf_link_info info;
	__u32 ilen = sizeof(info);
	struct iif_stamp *skel;
	struct bpf_link *link;
	char path[PATH_MAX];
	uint64_t ino;
	int err;

	skel = iif_stamp__open();
	if (!skel) {
		err = -errno;
		snprintf(why, len, "cannot open the stamp program: %s", strerror(-err));
		return err;
	}
	skel->rodata->stamp = stamp;
	err = xs_netns_id(&ino);
	if (err) {
		snprintf(why, len, "cannot identify the network namespace: %s", strerror(-err));
		goto out;
	}
	skel->rodata->netns_ino = (__u32)ino;
	err = iif_stamp__load(skel);
	if (err) {
		snprintf(why, len, "cannot load the stamp program: %s", strerror(-err));
		goto out;
	}
	LIBBPF_OPTS(bpf_tcx_opts, o, .flags = BPF_F_BEFORE);
	link = bpf_program__attach_tcx(skel->progs.xs_iif_stamp, (int)ifindex, &o);
	if (!link) {
		err = -errno;
		snprintf(why, len, "cannot attach the stamp program to ifindex %u: %s", ifindex,
			 strerror(-err));
		goto out;
	}
	link_path(dir, ifindex, path, sizeof(path));
	unlink(path); /* a defunct link of an interface that is gone */
	err = bpf_link__pin(link, path);
	if (err) {
		snprintf(why, len, "cannot pin %s: %s", path, strerror(-err));
		bpf_link__destroy(link);
		goto out;
	}
	memset(&info, 0, sizeof(info));
	*link_id = bpf_link_get_info_by_fd(bpf_link__fd(link), &info, &ilen) ? 0 : info.id;
	/* The pin holds the link: dropping our handle keeps it attached. */
	bpf_link__disconnect(link);
	bpf_link__destroy(link);
out:
	iif_stamp__destroy(skel);
	return err;
}

/* Bind the interface ifindex, named name: attach its stamp program unless
 * a live binding has it already, and record it. */
static int bind_one(const char *dir, int bfd, uint32_t ifindex, const char *name,
		    uint32_t stamp, char *why, size_t len)
{
	struct iif_bind b;
	int err;

	if (!bpf_map_lookup_elem(bfd, &ifindex, &b) && bind_live(&b)) {
		if (!strncmp(b.name, name, sizeof(b.name)))
			return 0;
		/* Renamed and named again by its new name. */
		memset(b.name, 0, sizeof(b.name));
		snprintf(b.name, sizeof(b.name), "%s", name);
		return bpf_map_update_elem(bfd, &ifindex, &b, BPF_EXIST) ? -errno : 0;
	}
	memset(&b, 0, sizeof(b));
	snprintf(b.name, sizeof(b.name), "%s", name);
	b.ifindex = ifindex;
	b.bound_at = (__u64)time(NULL);
	err = stamp_attach(dir, ifindex, stamp, &b.link_id, why, len);
	if (err)
		return err;
	if (bpf_map_update_elem(bfd, &ifindex, &b, BPF_ANY)) {
		err = -errno;
		snprintf(why, len, "cannot record the binding of %s: %s", name, strerror(-err));
		unpin_link(dir, ifindex);
	}
	return err;
}

/* The binding recorded under name; a live one if there are several. */
static bool find_by_name(int bfd, const char *name, struct iif_bind *out)
{
	__u32 key, *prev = NULL;
	struct iif_bind b;
	bool found = false;

	while (!bpf_map_get_next_key(bfd, prev, &key)) {
		prev = &key;
		if (bpf_map_lookup_elem(bfd, &key, &b) || strncmp(b.name, name, sizeof(b.name)))
			continue;
		if (!found || bind_live(&b))
			*out = b;
		found = true;
	}
	return found;
}

/* Whether a tunnel entry (there is one for every if_id a route or a named
 * tunnel leads to) belongs to tenant. */
static bool tenant_in_use(int tfd, uint32_t tenant)
{
	__u32 key, *prev = NULL;
	struct tunnel_value tv;

	while (!bpf_map_get_next_key(tfd, prev, &key)) {
		prev = &key;
		if (!bpf_map_lookup_elem(tfd, &key, &tv) && tv.tenant == tenant)
			return true;
	}
	return false;
}

/* The distinct non-zero tenants of the tunnel entries. */
static int tenants_in_use(int tfd, uint32_t **out, size_t *n)
{
	__u32 key, *prev = NULL, *v = NULL;
	struct tunnel_value tv;
	size_t cap = 0, i;

	*n = 0;
	while (!bpf_map_get_next_key(tfd, prev, &key)) {
		prev = &key;
		if (bpf_map_lookup_elem(tfd, &key, &tv) || !tv.tenant)
			continue;
		for (i = 0; i < *n && v[i] != tv.tenant; i++)
			;
		if (i < *n)
			continue;
		if (*n == cap) {
			uint32_t *p = realloc(v, (cap = cap ? 2 * cap : 16) * sizeof(*v));

			if (!p) {
				free(v);
				return -ENOMEM;
			}
			v = p;
		}
		v[(*n)++] = tv.tenant;
	}
	*out = v;
	return 0;
}

/* Move every route key of tenant from to tenant to in an LPM trie of
 * key_size bytes whose tenant field is at offset 4. Keys are read first:
 * a trie is not walked while it changes. */
static int rekey_trie(int fd, size_t key_size, uint32_t from, uint32_t to)
{
	uint8_t key[sizeof(struct route_key_v6)], prev[sizeof(struct route_key_v6)];
	uint8_t *keys = NULL;
	struct route_value val;
	size_t n = 0, cap = 0, i;
	bool first = true;
	int err = 0;

	while (!bpf_map_get_next_key(fd, first ? NULL : prev, key)) {
		uint32_t t;

		first = false;
		memcpy(prev, key, key_size);
		memcpy(&t, key + 4, sizeof(t));
		if (t != from)
			continue;
		if (n == cap) {
			uint8_t *p = realloc(keys, (cap = cap ? 2 * cap : 64) * key_size);

			if (!p) {
				free(keys);
				return -ENOMEM;
			}
			keys = p;
		}
		memcpy(keys + n++ * key_size, key, key_size);
	}
	for (i = 0; i < n; i++) {
		uint8_t *k = keys + i * key_size;

		if (bpf_map_lookup_elem(fd, k, &val))
			continue;
		memcpy(key, k, key_size);
		memcpy(key + 4, &to, sizeof(to));
		/* A route the new ifindex has already is kept. */
		if (bpf_map_update_elem(fd, key, &val, BPF_NOEXIST) && errno != EEXIST) {
			err = -errno;
			break;
		}
		bpf_map_delete_elem(fd, k);
	}
	free(keys);
	return err;
}

/* The records apply keeps, keyed by tenant: moved the same way. */
static int rekey_apply_routes(int fd, uint32_t from, uint32_t to)
{
	struct apply_route_key key, prev, *keys = NULL;
	struct apply_route_value val;
	size_t n = 0, cap = 0, i;
	bool first = true;

	while (!bpf_map_get_next_key(fd, first ? NULL : &prev, &key)) {
		first = false;
		prev = key;
		if (key.tenant != from)
			continue;
		if (n == cap) {
			struct apply_route_key *p;

			cap = cap ? 2 * cap : 64;
			p = realloc(keys, cap * sizeof(*p));
			if (!p) {
				free(keys);
				return -ENOMEM;
			}
			keys = p;
		}
		keys[n++] = key;
	}
	for (i = 0; i < n; i++) {
		if (bpf_map_lookup_elem(fd, &keys[i], &val))
			continue;
		key = keys[i];
		key.tenant = to;
		bpf_map_update_elem(fd, &key, &val, BPF_NOEXIST);
		bpf_map_delete_elem(fd, &keys[i]);
	}
	free(keys);
	return 0;
}

/* Everything of tenant from becomes tenant to's: routes, tunnel entries,
 * named tunnels' records, apply's records. */
static int rekey(struct xs_state *st, uint32_t from, uint32_t to)
{
	struct xfrm_steer *s = st->skel;
	struct tunnel_name_key nk, *pnk = NULL;
	int tfd = bpf_map__fd(s->maps.tunnel_by_ifid), nfd = bpf_map__fd(s->maps.tunnel_names);
	__u32 key, *prev = NULL;
	struct tunnel_value tv;
	struct tunnel_rec rec;
	int err;

	if (from == to)
		return 0;
	while (!bpf_map_get_next_key(tfd, prev, &key)) {
		prev = &key;
		if (!bpf_map_lookup_elem(tfd, &key, &tv) && tv.tenant == from) {
			tv = xs_tunnel_value(key, tv.tunnel_idx, to);
			bpf_map_update_elem(tfd, &key, &tv, BPF_EXIST);
		}
	}
	while (!bpf_map_get_next_key(nfd, pnk, &nk)) {
		pnk = &nk;
		if (!bpf_map_lookup_elem(nfd, &nk, &rec) && rec.tenant == from) {
			rec.tenant = to;
			bpf_map_update_elem(nfd, &nk, &rec, BPF_EXIST);
		}
	}
	err = rekey_trie(bpf_map__fd(s->maps.routes_v4), sizeof(struct route_key_v4), from, to);
	if (!err)
		err = rekey_trie(bpf_map__fd(s->maps.routes_v6), sizeof(struct route_key_v6), from,
				 to);
	if (!err)
		err = rekey_apply_routes(bpf_map__fd(s->maps.apply_routes), from, to);
	xs_routes_changed(st);
	return err;
}

/* Whether ifindex cur may become tenant name's: not while it is the last
 * ifindex of another tenant whose interface is gone and whose routes are
 * still there, which a new interface must not take over. */
static int index_free(struct xs_state *st, int bfd, uint32_t cur, const char *name, char *why,
		      size_t len)
{
	struct iif_bind o;

	if (bpf_map_lookup_elem(bfd, &cur, &o) || !strncmp(o.name, name, sizeof(o.name)) ||
	    bind_live(&o) || !tenant_in_use(bpf_map__fd(st->skel->maps.tunnel_by_ifid), cur))
		return 0;
	snprintf(why, len,
		 "tenant \"%s\": its ifindex %u was tenant %.*s's, which is gone and still has routes; remove them first (\"xfrm-steer route del ... tenant %.*s\")",
		 name, cur, (int)sizeof(o.name), o.name, (int)sizeof(o.name), o.name);
	return -EEXIST;
}

/* Follow the dead binding b to the interface now named by its name, at
 * ifindex cur: bind it first, then move the tenant's state there. */
static int follow(struct xs_state *st, int bfd, const struct iif_bind *b, uint32_t cur,
		  char *why, size_t len)
{
	uint32_t from = b->ifindex;
	char name[XS_IIF_NAME_LEN];
	int err;

	snprintf(name, sizeof(name), "%.*s", (int)sizeof(b->name), b->name);
	err = index_free(st, bfd, cur, name, why, len);
	if (err)
		return err;
	if (cur != from) {
		unpin_link(st->dir, from);
		bpf_map_delete_elem(bfd, &from);
	}
	err = bind_one(st->dir, bfd, cur, name, st->meta->mark_mask, why, len);
	if (err)
		return err;
	st->iif_dirty = true;
	err = rekey(st, from, cur);
	if (err)
		snprintf(why, len, "cannot move tenant %s to ifindex %u: %s", name, cur,
			 strerror(-err));
	return err;
}

int xs_iif_resolve(struct xs_state *st, const char *s, enum xs_iif_how how, uint32_t *tenant,
		   char *why, size_t len)
{
	char name[IF_NAMESIZE];
	struct iif_bind b;
	uint32_t num, cur;
	bool have, live;
	int bfd, err = 0;

	*tenant = 0;
	/* Pins of a version without bindings have no stamp bit: a binding
	 * made now would stamp nothing the upgraded egress wants. */
	if (how == XS_IIF_BIND && !st->meta->mark_mask) {
		snprintf(why, len,
			 "device \"%s\" was attached by a version without tenant bindings; run \"xfrm-steer attach dev %s\" to upgrade it first",
			 st->ifname, st->ifname);
		return -EPROTO;
	}
	bfd = binds_fd(st->dir, how == XS_IIF_BIND);
	if (bfd < 0 && bfd != -ENOENT) {
		snprintf(why, len, "cannot read the tenant bindings: %s", strerror(-bfd));
		return bfd;
	}
	if (!parse_u32(s, &num)) {
		if (!num || how == XS_IIF_LOOKUP) {
			*tenant = num;
			goto out;
		}
		have = bfd >= 0 && !bpf_map_lookup_elem(bfd, &num, &b);
		if (have && !bind_live(&b)) {
			err = -ESTALE;
			snprintf(why, len,
				 "tenant %u: that ifindex was interface %.*s's, which is gone: a new interface does not inherit a tenant (name the tenant by its interface)",
				 num, (int)sizeof(b.name), b.name);
			goto out;
		}
		if (!if_indextoname(num, name)) {
			err = -ENODEV;
			snprintf(why, len, "tenant %u: no interface has that ifindex", num);
			goto out;
		}
		*tenant = num;
		if (how == XS_IIF_BIND) {
			err = bind_one(st->dir, bfd, num, name, st->meta->mark_mask, why, len);
			st->iif_dirty = true;
		}
		goto out;
	}

	cur = if_nametoindex(s);
	have = bfd >= 0 && find_by_name(bfd, s, &b);
	live = have && bind_live(&b);
	if (how == XS_IIF_LOOKUP && have) {
		*tenant = b.ifindex; /* where its routes are, live or not */
		goto out;
	}
	if (!cur) {
		err = -ENODEV;
		if (have)
			snprintf(why, len,
				 "tenant \"%s\": the interface is gone (it was ifindex %u); its routes get nothing",
				 s, b.ifindex);
		else
			snprintf(why, len,
				 "tenant \"%s\": no such interface (tenant-key iif takes an interface name)",
				 s);
		goto out;
	}
	*tenant = cur;
	if (live && b.ifindex == cur)
		goto out;
	/* The number may be the last one of a tenant whose interface is
	 * gone: a new interface does not take its routes over. */
	if (bfd >= 0) {
		err = index_free(st, bfd, cur, s, why, len);
		if (err)
			goto out;
	}
	if (how != XS_IIF_BIND)
		goto out;
	if (have && !live)
		err = follow(st, bfd, &b, cur, why, len);
	else
		err = bind_one(st->dir, bfd, cur, s, st->meta->mark_mask, why, len);
	st->iif_dirty = true;
out:
	if (bfd >= 0)
		close(bfd);
	return err;
}

int xs_iif_follow(struct xs_ctx *ctx, struct xs_state *st, const char *name)
{
	struct iif_bind b;
	char why[256];
	uint32_t cur;
	int bfd, err = 0;

	if (st->meta->tenant_mode != XS_TENANT_IIF || !st->meta->mark_mask)
		return 0;
	bfd = binds_fd(st->dir, false);
	if (bfd < 0)
		return 0;
	cur = if_nametoindex(name);
	if (cur && find_by_name(bfd, name, &b) && !bind_live(&b)) {
		err = follow(st, bfd, &b, cur, why, sizeof(why));
		if (err)
			p_err(ctx, err, "%s", why);
		else
			p_info(ctx, "tenant %s: followed the re-created interface (ifindex %u -> %u)",
			       name, b.ifindex, cur);
		err = err ? err : 1;
	}
	close(bfd);
	return err;
}

/* What is wrong with tenant t of the device dev (binding records bfd), in
 * one sentence, or false when it is bound to a live interface. */
static bool tenant_problem(int bfd, uint32_t t, const char *dev, char *buf, size_t len)
{
	struct iif_bind b;
	char name[XS_IIF_NAME_LEN + 1];
	uint32_t cur;

	if (bfd < 0 || bpf_map_lookup_elem(bfd, &t, &b)) {
		snprintf(buf, len,
			 "tenant %u: bound to no interface, its traffic is dropped (iif_unbound): run \"xfrm-steer attach dev %s\" to bind it to the interface that has ifindex %u, or remove its routes",
			 t, dev, t);
		return true;
	}
	if (bind_live(&b))
		return false;
	snprintf(name, sizeof(name), "%.*s", (int)sizeof(b.name), b.name);
	cur = if_nametoindex(name);
	if (cur)
		snprintf(buf, len,
			 "tenant %s: interface re-created (ifindex %u -> %u), not bound: run \"xfrm-steer apply FILE\" or \"xfrm-steer route add ... tenant %s\" to follow it",
			 name, t, cur, name);
	else
		snprintf(buf, len,
			 "tenant %s: interface gone (was ifindex %u), its routes get nothing: remove them (\"xfrm-steer route del ... tenant %s\"), or make %s again and follow it",
			 name, t, name, name);
	return true;
}

int xs_iif_adopt(struct xs_ctx *ctx, const char *dir, int tunnels_fd, uint32_t stamp)
{
	char name[IF_NAMESIZE], why[320];
	struct iif_bind b;
	uint32_t *tenants = NULL;
	size_t n, i;
	int bfd, err;

	err = tenants_in_use(tunnels_fd, &tenants, &n);
	if (err)
		return p_err(ctx, err, "cannot read the tunnel table: %s", strerror(-err));
	if (!n) {
		free(tenants);
		return 0;
	}
	bfd = binds_fd(dir, true);
	if (bfd < 0) {
		free(tenants);
		return p_err(ctx, bfd, "cannot make the tenant bindings in %s: %s", dir,
			     strerror(-bfd));
	}
	for (i = 0; i < n && !err; i++) {
		uint32_t t = tenants[i];

		if (!bpf_map_lookup_elem(bfd, &t, &b)) {
			/* Bound already: a dead binding stays reported. */
			if (tenant_problem(bfd, t, "", why, sizeof(why)))
				p_warn(ctx, "%s", why);
			continue;
		}
		/* Pins of a version without bindings: the interface that has
		 * the number now is the one the routes were made for, as far
		 * as anything can tell. */
		if (!if_indextoname(t, name)) {
			p_warn(ctx,
			       "tenant %u: no interface has that ifindex now: not bound, its routes get nothing",
			       t);
			continue;
		}
		err = bind_one(dir, bfd, t, name, stamp, why, sizeof(why));
		if (err)
			p_err(ctx, err, "tenant %s: %s", name, why);
		else if (ctx->verbose)
			p_info(ctx, "tenant %u: bound to interface %s", t, name);
	}
	close(bfd);
	free(tenants);
	return err;
}

void xs_iif_gc(struct xs_state *st)
{
	int bfd = binds_fd(st->dir, false), tfd = bpf_map__fd(st->skel->maps.tunnel_by_ifid);
	__u32 key, *prev = NULL, *keys = NULL;
	size_t n = 0, cap = 0, i;

	st->iif_dirty = false;
	if (bfd < 0)
		return;
	while (!bpf_map_get_next_key(bfd, prev, &key)) {
		prev = &key;
		if (n == cap) {
			__u32 *p = realloc(keys, (cap = cap ? 2 * cap : 16) * sizeof(*p));

			if (!p)
				break;
			keys = p;
		}
		keys[n++] = key;
	}
	/* The last route of a tenant gone, its program goes: a binding
	 * holds nothing that the next route add cannot make again. */
	for (i = 0; i < n; i++) {
		if (tenant_in_use(tfd, keys[i]))
			continue;
		unpin_link(st->dir, keys[i]);
		bpf_map_delete_elem(bfd, &keys[i]);
	}
	free(keys);
	close(bfd);
}

void xs_iif_unbind_all(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(dir);
	unsigned int ifindex;
	char c;

	while (d && (de = readdir(d))) {
		if (sscanf(de->d_name, XS_PIN_IIF_LINK_FMT "%c", &ifindex, &c) == 1)
			unpin_link(dir, ifindex);
	}
	if (d)
		closedir(d);
	snprintf(path, sizeof(path), "%s/%s", dir, XS_PIN_IIF_BINDS);
	unlink(path);
}

static const char *iif_name_at(const char *dir, uint32_t tenant, char *buf, size_t len)
{
	struct iif_bind b;
	int bfd;

	snprintf(buf, len, "%u", tenant);
	if (!tenant)
		return buf;
	bfd = binds_fd(dir, false);
	if (bfd < 0)
		return buf;
	if (!bpf_map_lookup_elem(bfd, &tenant, &b)) {
		char now[IF_NAMESIZE];

		/* A live binding's link says the interface at the ifindex is
		 * the one bound: its name now is the tenant's (renamed). */
		if (bind_live(&b) && if_indextoname(tenant, now))
			snprintf(buf, len, "%s", now);
		else
			snprintf(buf, len, "%.*s", (int)sizeof(b.name), b.name);
	}
	close(bfd);
	return buf;
}

const char *xs_iif_name(const struct xs_state *st, uint32_t tenant, char *buf, size_t len)
{
	return iif_name_at(st->dir, tenant, buf, len);
}

void xs_iif_tenant_to_cfg(const struct xs_state *st, uint32_t tenant, struct xs_cfg_tenant *t)
{
	uint32_t mode = st->meta->tenant_mode;
	char name[XS_IIF_NAME_LEN + 16];

	memset(t, 0, sizeof(*t));
	if (mode == XS_TENANT_NONE && !tenant)
		return;
	t->set = true;
	t->num = tenant;
	/* An ifindex means nothing after a reboot, and another interface may
	 * have it now: write the name the binding recorded. */
	if (mode == XS_TENANT_IIF && tenant) {
		xs_iif_name(st, tenant, name, sizeof(name));
		if (parse_u32(name, &t->num)) {
			t->num = tenant;
			t->is_name = true;
			snprintf(t->name, sizeof(t->name), "%.*s", XS_IIF_NAME_LEN - 1, name);
		}
	}
}

int xs_iif_check(struct xs_ctx *ctx, const struct xs_state *st)
{
	uint32_t *tenants = NULL;
	char why[320];
	size_t n, i;
	int bfd, bad = 0;

	if (st->meta->tenant_mode != XS_TENANT_IIF)
		return 0;
	if (tenants_in_use(bpf_map__fd(st->skel->maps.tunnel_by_ifid), &tenants, &n))
		return 0;
	bfd = n ? binds_fd(st->dir, false) : -ENOENT;
	for (i = 0; i < n; i++) {
		if (!tenant_problem(bfd, tenants[i], st->ifname, why, sizeof(why)))
			continue;
		p_warn(ctx, "%s", why);
		bad++;
	}
	if (bfd >= 0)
		close(bfd);
	free(tenants);
	return bad;
}

static int check_cb(struct xs_ctx *ctx, const char *ifname, void *data)
{
	struct xs_state st;
	int *sum = data, err;

	err = xs_state_open(ctx, ifname, XS_LOCK_SHARED, &st);
	if (err)
		return err;
	*sum += xs_iif_check(ctx, &st);
	xs_state_close(&st);
	return 0;
}

int xs_iif_check_dev(struct xs_ctx *ctx, const char *dev)
{
	int sum = 0, err;

	err = dev ? check_cb(ctx, dev, &sum) : xs_for_each_attached(ctx, check_cb, &sum);
	return err < 0 ? err : sum;
}

const char *xs_tenant_str_at(const char *dir, uint32_t mode, uint32_t tenant, char *buf,
			     size_t len)
{
	if (mode == XS_TENANT_MARK)
		snprintf(buf, len, "0x%x", tenant);
	else if (mode == XS_TENANT_IIF && tenant)
		iif_name_at(dir, tenant, buf, len);
	else
		snprintf(buf, len, "%u", tenant);
	return buf;
}

const char *xs_tenant_str(const struct xs_state *st, uint32_t tenant, char *buf, size_t len)
{
	return xs_tenant_str_at(st->dir, st->meta->tenant_mode, tenant, buf, len);
}

// SPDX-License-Identifier: GPL-2.0
/* The underlay's library side (underlay.h): attach, detach, sync of the SA
 * list, and the readers of its counters. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if_link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "netlink.h"
#include "state.h"
#include "underlay.h"
#include "xdp_underlay.skel.h"
#include "xfrm.h"

static const char *const reason_names[XS_UL_REASON_MAX] = {
	[XS_UL_UNKNOWN_SPI] = "unknown_spi", [XS_UL_DROPPED] = "dropped",
	[XS_UL_TRANSIT] = "transit",	     [XS_UL_IKE] = "ike",
	[XS_UL_KEEPALIVE] = "keepalive",     [XS_UL_TRUNCATED] = "truncated",
	[XS_UL_FRAGMENT] = "fragment",	     [XS_UL_V6_EXT] = "v6_ext",
	[XS_UL_EVENT_LOST] = "events_lost",
};

const char *xs_ul_reason_name(unsigned int reason)
{
	return reason < XS_UL_REASON_MAX ? reason_names[reason] : "?";
}

static bool pin_exists(const char *dir, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return !access(path, F_OK);
}

/* Is the underlay program attached to ifname (its meta map pinned)? */
static bool ul_attached(const char *dir)
{
	return pin_exists(dir, "ul_meta");
}

/* The skeleton with its maps taken from the pins in dir; not loaded. */
static int ul_open_pinned(struct xs_ctx *ctx, const char *dev, const char *dir,
			  struct xdp_underlay **out)
{
	struct xdp_underlay *skel;
	char path[PATH_MAX];
	struct bpf_map *map;
	int err, fd;

	skel = xdp_underlay__open();
	if (!skel)
		return p_err(ctx, -errno, "cannot open the BPF object: %s", strerror(errno));
	bpf_object__for_each_map(map, skel->obj)
	{
		if (bpf_map__is_internal(map))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, bpf_map__name(map));
		fd = bpf_obj_get(path);
		if (fd < 0) {
			err = p_err(ctx, -errno,
				    "device \"%s\": pinned map %s missing (attached by another "
				    "version?); run \"xfrm-steer underlay attach dev %s\" to "
				    "upgrade it",
				    dev, path, dev);
			goto fail;
		}
		err = bpf_map__reuse_fd(map, fd);
		close(fd);
		if (err) {
			p_err(ctx, err, "cannot use pinned map %s: %s", path, strerror(-err));
			goto fail;
		}
	}
	*out = skel;
	return 0;
fail:
	xdp_underlay__destroy(skel);
	return err;
}

/* ---- The SA list, for kernels without bpf_xdp_get_xfrm_state ---- */

struct sa_entry {
	struct ul_spi_key key;
	struct ul_known_value val;
};

/* The ESP SAs of the namespace, sorted by key. */
struct sa_list {
	size_t n, cap;
	struct sa_entry *v;
};

static int sa_list_add(const struct xs_sa *sa, void *data)
{
	struct sa_list *l = data;
	struct sa_entry *e;

	if (sa->dst.family != AF_INET && sa->dst.family != AF_INET6)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct sa_entry *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	e = &l->v[l->n++];
	memset(e, 0, sizeof(*e));
	memcpy(e->key.daddr, sa->dst.addr, sa->dst.family == AF_INET ? 4 : 16);
	e->key.spi = htonl(sa->spi);
	e->key.family = (uint16_t)sa->dst.family;
	e->val.if_id = sa->if_id;
	e->val.reqid = sa->reqid;
	return 0;
}

static int cmp_key(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct ul_spi_key));
}

static void sa_list_free(struct sa_list *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int sa_list_read(struct xs_ctx *ctx, struct sa_list *l)
{
	struct xs_nl nl;
	int err;

	memset(l, 0, sizeof(*l));
	err = xs_nl_open(ctx, &nl, NETLINK_XFRM);
	if (err)
		return err;
	err = xs_sa_dump(ctx, &nl, sa_list_add, l);
	xs_nl_close(&nl);
	if (err == -ENOMEM)
		p_err(ctx, err, "out of memory");
	if (err) {
		sa_list_free(l);
		return err;
	}
	/* The key starts each entry: sorting entries by it is sorting keys. */
	if (l->n)
		qsort(l->v, l->n, sizeof(*l->v), cmp_key);
	return 0;
}

static bool sa_list_has(const struct sa_list *l, const struct ul_spi_key *k)
{
	return l->n && bsearch(k, l->v, l->n, sizeof(*l->v), cmp_key);
}

/* Make known_spis equal the list: add what is new first, then delete what
 * is gone, so that an SA present throughout is never missing. */
static int sync_known(struct xs_ctx *ctx, struct xdp_underlay *skel, const char *dev,
		      const struct sa_list *l)
{
	int fd = bpf_map__fd(skel->maps.ul_known_spis);
	struct ul_spi_key cur, next, *prev = NULL, *gone = NULL;
	size_t i, ngone = 0, cap = 0;
	struct ul_meta_value m;
	uint32_t zero = 0;
	int err = 0;

	for (i = 0; i < l->n; i++)
		if (bpf_map_update_elem(fd, &l->v[i].key, &l->v[i].val, BPF_ANY))
			return p_err(ctx, -errno, "device \"%s\": cannot add to the SA list: %s%s",
				     dev, strerror(errno),
				     errno == E2BIG ? " (more SAs than the map holds)" : "");
	/* Collect first, delete after: deleting during the walk would
	 * restart it. */
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		cur = next;
		prev = &cur;
		if (sa_list_has(l, &cur))
			continue;
		if (ngone == cap) {
			struct ul_spi_key *v;

			cap = cap ? cap * 2 : 64;
			v = realloc(gone, cap * sizeof(*v));
			if (!v) {
				free(gone);
				return p_err(ctx, -ENOMEM, "out of memory");
			}
			gone = v;
		}
		gone[ngone++] = cur;
	}
	for (i = 0; i < ngone && !err; i++)
		if (bpf_map_delete_elem(fd, &gone[i]) && errno != ENOENT)
			err = p_err(ctx, -errno, "device \"%s\": cannot update the SA list: %s",
				    dev, strerror(errno));
	free(gone);
	if (err)
		return err;
	fd = bpf_map__fd(skel->maps.ul_meta);
	if (bpf_map_lookup_elem(fd, &zero, &m))
		return p_err(ctx, -errno, "cannot read the underlay meta map: %s", strerror(errno));
	m.known_spis = (uint32_t)l->n;
	m.synced_at = (uint64_t)time(NULL);
	if (bpf_map_update_elem(fd, &zero, &m, BPF_ANY))
		return p_err(ctx, -errno, "cannot update the underlay meta map: %s",
			     strerror(errno));
	return 0;
}

/* Does the loaded program call a kfunc? libbpf leaves a weak kfunc the
 * kernel lacks (or whose prototype does not match) unresolved, and the
 * verifier then removes the guarded call: the translated program says
 * which lookup really runs. */
static int prog_calls_kfunc(int prog_fd)
{
	struct bpf_prog_info info;
	struct bpf_insn *insns;
	__u32 len = sizeof(info), n, i;
	int found = 0;

	memset(&info, 0, sizeof(info));
	if (bpf_prog_get_info_by_fd(prog_fd, &info, &len))
		return -errno;
	n = info.xlated_prog_len / sizeof(*insns);
	if (!n)
		return -EPERM;
	insns = calloc(n, sizeof(*insns));
	if (!insns)
		return -ENOMEM;
	memset(&info, 0, sizeof(info));
	info.xlated_prog_len = n * sizeof(*insns);
	info.xlated_prog_insns = (__u64)(unsigned long)insns;
	len = sizeof(info);
	if (bpf_prog_get_info_by_fd(prog_fd, &info, &len)) {
		free(insns);
		return -errno;
	}
	for (i = 0; i < n; i++)
		if (insns[i].code == (BPF_JMP | BPF_CALL) &&
		    insns[i].src_reg == BPF_PSEUDO_KFUNC_CALL)
			found = 1;
	free(insns);
	return found;
}

/* Without the translated program: does the kernel's BTF have the kfunc? */
static bool kernel_has_kfunc(void)
{
	struct btf *btf = btf__load_vmlinux_btf();
	bool ok;

	if (!btf)
		return false;
	ok = btf__find_by_name_kind(btf, "bpf_xdp_get_xfrm_state", BTF_KIND_FUNC) > 0;
	btf__free(btf);
	return ok;
}

static void unpin_all(const char *dir, struct xdp_underlay *skel)
{
	char path[PATH_MAX];
	struct bpf_map *map;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, XS_PIN_XDP_LINK);
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		bpf_link_detach(fd);
		close(fd);
	}
	unlink(path);
	bpf_object__for_each_map(map, skel->obj)
	{
		if (bpf_map__is_internal(map))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, bpf_map__name(map));
		unlink(path);
	}
	xs_remove_retired_pins(dir);
}

/* Replace the program behind the pinned link, or attach anew. A pinned
 * link whose device is gone (or another of the same name) is replaced. */
static int attach_link(struct xs_ctx *ctx, const char *dir, struct bpf_program *prog, int ifindex,
		       const char *dev)
{
	char path[PATH_MAX];
	struct bpf_link *link;
	int err;

	snprintf(path, sizeof(path), "%s/%s", dir, XS_PIN_XDP_LINK);
	err = xs_link_update_pinned(ctx, path, BPF_LINK_TYPE_XDP, ifindex, prog);
	if (err)
		return err < 0 ? err : 0;
	link = bpf_program__attach_xdp(prog, ifindex);
	if (!link) {
		err = -errno;
		if (err == -EBUSY || err == -EEXIST)
			return p_err(ctx, err,
				     "device \"%s\" already has an XDP program of someone else's",
				     dev);
		return p_err(ctx, err, "cannot attach XDP to \"%s\": %s", dev, strerror(-err));
	}
	return xs_link_pin_new(ctx, link, path);
}

int xs_ul_attach(struct xs_ctx *ctx, const struct xs_ul_attach_args *ap, struct xs_ul_attached *out)
{
	const struct xs_ul_attach_args a = *ap;
	struct xdp_underlay *skel = NULL;
	struct ul_meta_value m;
	struct xs_link_info li;
	struct sa_list sas = { 0 };
	struct xs_pin_plan plan = { 0 };
	char dir[XS_DIR_MAX];
	uint32_t zero = 0;
	bool fresh;
	int err, lock_fd, calls;

	memset(out, 0, sizeof(*out));
	err = xs_link_query(ctx, a.dev, &li);
	if (err)
		return err;
	if (li.is_xfrm)
		return p_err(ctx, -EINVAL,
			     "device \"%s\" is an xfrm interface: attach the underlay, the device ESP arrives on",
			     a.dev);
	err = xs_pin_dir(ctx, a.dev, dir, sizeof(dir));
	if (!err)
		err = xs_sweep_stale(ctx);
	if (!err)
		err = xs_mkdir_pins(ctx, dir);
	if (err)
		return err;
	lock_fd = xs_dir_lock(ctx, dir, XS_LOCK_EXCLUSIVE);
	if (lock_fd < 0)
		return lock_fd == -ENOENT ? p_err(ctx, lock_fd, "%s vanished while attaching", dir)
					  : lock_fd;
	fresh = !ul_attached(dir);
	/* The SA list first: with sa-lookup map the program must not start
	 * without it. */
	err = sa_list_read(ctx, &sas);
	if (err)
		goto out;

	skel = xdp_underlay__open();
	if (!skel) {
		err = p_err(ctx, -errno, "cannot open the BPF object: %s", strerror(errno));
		goto out;
	}
	skel->rodata->cfg.flags = a.flags;
	skel->rodata->cfg.event_interval_ms = a.interval_ms;
	{
		struct bpf_map *const fixed[] = { skel->maps.ul_reasons, NULL };

		err = xs_set_pin_paths(ctx, skel->obj, dir, a.dev, fixed, &plan);
		if (err)
			goto fail;
	}
	err = xdp_underlay__load(skel);
	if (err) {
		p_err(ctx, err, "cannot load the underlay program: %s%s", strerror(-err),
		      ctx->verbose ? "" : " (run with -v for the verifier log)");
		goto fail;
	}

	calls = prog_calls_kfunc(bpf_program__fd(skel->progs.xs_underlay));
	if (calls < 0)
		calls = !(a.flags & XS_UL_CFG_SA_MAP) && kernel_has_kfunc();
	/* A copied SA list misses every SA added after it: dropping on it
	 * would cut off each new SA (a rekey) until the next sync. Only the
	 * operator who syncs on every change may ask for that. */
	if (!calls && (a.flags & XS_UL_CFG_DROP_UNKNOWN) && !(a.flags & XS_UL_CFG_SA_MAP)) {
		err = p_err(ctx, -EOPNOTSUPP,
			    "drop-unknown needs bpf_xdp_get_xfrm_state (kernel 6.8+); with "
			    "\"sa-lookup map\" it drops the SAs added since the last "
			    "\"underlay sync\"");
		goto fail;
	}

	memset(&m, 0, sizeof(m));
	if (!fresh && bpf_map_lookup_elem(bpf_map__fd(skel->maps.ul_meta), &zero, &m)) {
		err = p_err(ctx, -errno, "cannot read the underlay meta map: %s", strerror(errno));
		goto fail;
	}
	m.magic = XS_UL_META_MAGIC;
	m.version = 1;
	m.ifindex = (uint32_t)li.ifindex;
	m.flags = a.flags;
	m.event_interval_ms = a.interval_ms;
	m.lookup = calls ? XS_UL_LOOKUP_KFUNC : XS_UL_LOOKUP_MAP;
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.ul_meta), &zero, &m, BPF_ANY)) {
		err = p_err(ctx, -errno, "cannot write the underlay meta map: %s", strerror(errno));
		goto fail;
	}
	err = sync_known(ctx, skel, a.dev, &sas);
	if (err)
		goto fail;
	err = attach_link(ctx, dir, skel->progs.xs_underlay, li.ifindex, a.dev);
	if (err)
		goto fail;
	xs_pins_commit(&plan, dir);
	out->fresh = fresh;
	out->kfunc = calls;
	out->nsas = sas.n;
	snprintf(out->dir, sizeof(out->dir), "%s", dir);
	goto out;
fail:
	/* A failed upgrade leaves the running program and its maps alone. */
	xs_pins_abort(&plan);
	if (fresh) {
		char ns[XS_DIR_MAX];

		unpin_all(dir, skel);
		rmdir(dir);
		if (!xs_netns_dir(ctx, ns, sizeof(ns)))
			rmdir(ns);
	}
out:
	sa_list_free(&sas);
	xdp_underlay__destroy(skel);
	close(lock_fd);
	return err;
}

int xs_ul_detach(struct xs_ctx *ctx, const char *dev)
{
	struct xdp_underlay *skel;
	char dir[XS_DIR_MAX], ns[XS_DIR_MAX];
	int err, lock_fd;

	err = xs_pin_dir(ctx, dev, dir, sizeof(dir));
	if (err)
		return err;
	lock_fd = xs_dir_lock(ctx, dir, XS_LOCK_EXCLUSIVE);
	if (lock_fd == -ENOENT)
		return p_err(ctx, -ENOENT, "device \"%s\" has no underlay program", dev);
	if (lock_fd < 0)
		return lock_fd;
	if (!ul_attached(dir) && !pin_exists(dir, XS_PIN_XDP_LINK)) {
		close(lock_fd);
		return p_err(ctx, -ENOENT, "device \"%s\" has no underlay program", dev);
	}
	skel = xdp_underlay__open();
	if (!skel) {
		close(lock_fd);
		return p_err(ctx, -errno, "cannot open the BPF object: %s", strerror(errno));
	}
	unpin_all(dir, skel);
	xdp_underlay__destroy(skel);
	close(lock_fd);
	/* The directory and the namespace's go when nothing else is left
	 * in them (the tc programs of a device keep theirs). */
	rmdir(dir);
	if (!xs_netns_dir(ctx, ns, sizeof(ns)))
		rmdir(ns);
	return 0;
}

/* Call fn for dev, or for every device of the namespace with the underlay
 * program, holding the directory's lock as asked. */
typedef int (*ul_dev_fn)(struct xs_ctx *ctx, const char *dev, const char *dir,
			 struct xdp_underlay *skel, void *data);

static int ul_one(struct xs_ctx *ctx, const char *dev, enum xs_lock how, bool quiet_absent,
		  ul_dev_fn fn, void *data)
{
	struct xdp_underlay *skel = NULL;
	char dir[XS_DIR_MAX];
	int err, lock_fd;

	err = xs_pin_dir(ctx, dev, dir, sizeof(dir));
	if (err)
		return err;
	lock_fd = xs_dir_lock(ctx, dir, how);
	if (lock_fd < 0 && lock_fd != -ENOENT)
		return lock_fd;
	if (lock_fd < 0 || !ul_attached(dir)) {
		if (lock_fd >= 0)
			close(lock_fd);
		if (quiet_absent)
			return 0;
		return p_err(ctx, -ENOENT,
			     "device \"%s\" has no underlay program (run \"xfrm-steer "
			     "underlay attach dev %s\")",
			     dev, dev);
	}
	err = ul_open_pinned(ctx, dev, dir, &skel);
	if (!err)
		err = fn(ctx, dev, dir, skel, data);
	xdp_underlay__destroy(skel);
	close(lock_fd);
	return err;
}

static int ul_for_each(struct xs_ctx *ctx, const char *dev, enum xs_lock how, ul_dev_fn fn,
		       void *data)
{
	char ns[XS_DIR_MAX];
	struct dirent *de;
	int err;
	DIR *d;

	if (dev)
		return ul_one(ctx, dev, how, false, fn, data);
	err = xs_netns_dir(ctx, ns, sizeof(ns));
	if (err)
		return err;
	d = opendir(ns);
	if (!d)
		return 0;
	err = 0;
	while (!err && (de = readdir(d))) {
		if (de->d_name[0] == '.' || de->d_type != DT_DIR)
			continue;
		err = ul_one(ctx, de->d_name, how, true, fn, data);
	}
	closedir(d);
	return err;
}

static int sync_dev(struct xs_ctx *ctx, const char *dev, const char *dir, struct xdp_underlay *skel,
		    void *data)
{
	(void)dir;
	return sync_known(ctx, skel, dev, data);
}

int xs_ul_sync(struct xs_ctx *ctx, const char *dev)
{
	struct sa_list sas;
	int err;

	err = sa_list_read(ctx, &sas);
	if (err)
		return err;
	err = ul_for_each(ctx, dev, XS_LOCK_EXCLUSIVE, sync_dev, &sas);
	sa_list_free(&sas);
	return err;
}

struct spi_rows {
	size_t n, cap;
	struct xs_ul_spi_row *v;
};

static int read_spi_map(struct xs_ctx *ctx, const char *dev, int fd, bool known,
			struct spi_rows *rows)
{
	int ncpu = xs_num_cpus(), c;
	struct ul_spi_key key, next, *prev = NULL;
	struct ul_spi_stats *pc;

	pc = calloc((size_t)ncpu, sizeof(*pc));
	if (!pc)
		return p_err(ctx, -ENOMEM, "out of memory");
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		struct xs_ul_spi_row *r;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, pc))
			continue; /* evicted meanwhile */
		if (rows->n == rows->cap) {
			size_t cap = rows->cap ? rows->cap * 2 : 64;
			struct xs_ul_spi_row *v = realloc(rows->v, cap * sizeof(*v));

			if (!v) {
				free(pc);
				return p_err(ctx, -ENOMEM, "out of memory");
			}
			rows->v = v;
			rows->cap = cap;
		}
		r = &rows->v[rows->n++];
		memset(r, 0, sizeof(*r));
		snprintf(r->dev, sizeof(r->dev), "%s", dev);
		r->key = key;
		r->known = known;
		for (c = 0; c < ncpu; c++) {
			r->st.packets += pc[c].packets;
			r->st.bytes += pc[c].bytes;
		}
	}
	free(pc);
	return 0;
}

static int show_dev(struct xs_ctx *ctx, const char *dev, const char *dir, struct xdp_underlay *skel,
		    void *data)
{
	int err;

	(void)dir;
	err = read_spi_map(ctx, dev, bpf_map__fd(skel->maps.ul_sa_stats), true, data);
	if (!err)
		err = read_spi_map(ctx, dev, bpf_map__fd(skel->maps.ul_nosa_stats), false, data);
	return err;
}

static int cmp_spi_row(const void *a, const void *b)
{
	const struct xs_ul_spi_row *x = a, *y = b;
	int c = strcmp(x->dev, y->dev);

	if (c)
		return c;
	if (x->key.family != y->key.family)
		return x->key.family < y->key.family ? -1 : 1;
	c = memcmp(x->key.daddr, y->key.daddr, sizeof(x->key.daddr));
	if (c)
		return c;
	if (x->key.spi != y->key.spi)
		return ntohl(x->key.spi) < ntohl(y->key.spi) ? -1 : 1;
	return (int)y->known - (int)x->known;
}

static const char *xdp_mode_name(int ifindex)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);

	if (bpf_xdp_query(ifindex, 0, &q))
		return "unknown";
	switch (q.attach_mode) {
	case XDP_ATTACHED_DRV:
		return "native";
	case XDP_ATTACHED_SKB:
		return "generic";
	case XDP_ATTACHED_HW:
		return "offload";
	case XDP_ATTACHED_MULTI:
		return "multi";
	default:
		return "none";
	}
}

struct dev_stats_vec {
	struct xs_ul_dev_stats *v;
	size_t n, cap;
};

static int stats_dev(struct xs_ctx *ctx, const char *dev, const char *dir,
		     struct xdp_underlay *skel, void *data)
{
	int ncpu = xs_num_cpus(), c, fd = bpf_map__fd(skel->maps.ul_reasons);
	struct dev_stats_vec *vec = data;
	struct xs_ul_dev_stats *s;
	struct ul_meta_value m;
	uint32_t zero = 0, r;
	uint64_t *pc;

	(void)dir;
	if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.ul_meta), &zero, &m) ||
	    m.magic != XS_UL_META_MAGIC)
		return p_err(ctx, -EPROTO, "device \"%s\": underlay state has an unknown format",
			     dev);
	if (vec->n == vec->cap) {
		size_t cap = vec->cap ? vec->cap * 2 : 4;
		struct xs_ul_dev_stats *v = realloc(vec->v, cap * sizeof(*v));

		if (!v)
			return p_err(ctx, -ENOMEM, "out of memory");
		vec->v = v;
		vec->cap = cap;
	}
	pc = calloc((size_t)ncpu, sizeof(*pc));
	if (!pc)
		return p_err(ctx, -ENOMEM, "out of memory");
	s = &vec->v[vec->n++];
	memset(s, 0, sizeof(*s));
	snprintf(s->dev, sizeof(s->dev), "%s", dev);
	s->xdp_mode = xdp_mode_name((int)m.ifindex);
	s->flags = m.flags;
	s->lookup = m.lookup;
	s->known_spis = m.known_spis;
	s->event_interval_ms = m.event_interval_ms;
	for (r = 0; r < XS_UL_REASON_MAX; r++)
		if (!bpf_map_lookup_elem(fd, &r, pc))
			for (c = 0; c < ncpu; c++)
				s->reasons[r] += pc[c];
	free(pc);
	return 0;
}

int xs_ul_stats_read(struct xs_ctx *ctx, const char *dev, struct xs_ul_dev_stats **v, size_t *n)
{
	struct dev_stats_vec vec = { 0 };
	int err;

	err = ul_for_each(ctx, dev, XS_LOCK_SHARED, stats_dev, &vec);
	if (err) {
		free(vec.v);
		return err;
	}
	*v = vec.v;
	*n = vec.n;
	return 0;
}

int xs_ul_spis_read(struct xs_ctx *ctx, const char *dev, struct xs_ul_spi_row **v, size_t *n)
{
	struct spi_rows rows = { 0 };
	int err;

	err = ul_for_each(ctx, dev, XS_LOCK_SHARED, show_dev, &rows);
	if (err) {
		free(rows.v);
		return err;
	}
	if (rows.n)
		qsort(rows.v, rows.n, sizeof(*rows.v), cmp_spi_row);
	*v = rows.v;
	*n = rows.n;
	return 0;
}

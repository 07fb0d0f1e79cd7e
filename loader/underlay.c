// SPDX-License-Identifier: GPL-2.0
/* xfrm-steer underlay: the XDP program on the device ESP arrives on, its
 * per-SPI counters and its copy of the SA list. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "netlink.h"
#include "state.h"
#include "xfrm.h"
#include "xdp_underlay.skel.h"

static const char *const reason_names[XS_UL_REASON_MAX] = {
	[XS_UL_UNKNOWN_SPI] = "unknown_spi",
	[XS_UL_DROPPED] = "dropped",
	[XS_UL_TRANSIT] = "transit",
	[XS_UL_IKE] = "ike",
	[XS_UL_KEEPALIVE] = "keepalive",
	[XS_UL_TRUNCATED] = "truncated",
	[XS_UL_FRAGMENT] = "fragment",
	[XS_UL_V6_EXT] = "v6_ext",
	[XS_UL_EVENT_LOST] = "events_lost",
};

static int ul_help(struct xs_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	fprintf(xs_help_out(ctx),
		"Usage: xfrm-steer underlay attach dev NAME [ drop-unknown ]\n"
		"                                  [ sa-lookup { auto | map } ] [ event-interval MS ]\n"
		"       xfrm-steer underlay detach dev NAME\n"
		"       xfrm-steer underlay sync [ dev NAME ]\n"
		"       xfrm-steer underlay show [ dev NAME ]\n"
		"       xfrm-steer underlay stats [ dev NAME ]\n"
		"An XDP program on the device ESP arrives on counts ESP (and ESP in UDP\n"
		"to port 4500) per destination and SPI before decryption, and reports\n"
		"SPIs without an SA as events (xfrm-steer monitor), at most one per\n"
		"peer per event-interval (default 1000 ms). drop-unknown drops them too.\n"
		"sa-lookup auto asks the kernel (bpf_xdp_get_xfrm_state, 6.8+) where it\n"
		"can; map uses the SA list copied at attach and at \"underlay sync\".\n"
		"Each attach states the whole configuration; on an attached device it\n"
		"replaces the program and keeps the counters.\n");
	return 0;
}

struct ul_attach_args {
	const char *dev;
	uint32_t flags; /* XS_UL_CFG_* */
	uint32_t interval_ms;
};

static int parse_ul_attach(struct xs_ctx *ctx, int argc, char **argv, struct ul_attach_args *a)
{
	memset(a, 0, sizeof(*a));
	a->interval_ms = XS_DEFAULT_EVENT_INTERVAL_MS;
	while (argc > 0) {
		if (matches(argv[0], "dev")) {
			NEXT_ARG_VALUE(ctx);
			a->dev = argv[0];
		} else if (!strcmp(argv[0], "drop-unknown")) {
			a->flags |= XS_UL_CFG_DROP_UNKNOWN;
		} else if (!strcmp(argv[0], "sa-lookup")) {
			NEXT_ARG_VALUE(ctx);
			if (!strcmp(argv[0], "map"))
				a->flags |= XS_UL_CFG_SA_MAP;
			else if (!strcmp(argv[0], "auto"))
				a->flags &= ~XS_UL_CFG_SA_MAP;
			else
				return p_err(ctx, -EINVAL, "invalid sa-lookup \"%s\" (auto or map)",
					     argv[0]);
		} else if (!strcmp(argv[0], "event-interval")) {
			NEXT_ARG_VALUE(ctx);
			if (parse_u32(argv[0], &a->interval_ms) || a->interval_ms > 3600000)
				return p_err(ctx, -EINVAL,
					     "invalid event-interval \"%s\" (0..3600000 ms)", argv[0]);
		} else {
			return p_err(ctx, -EINVAL, "underlay attach: unknown argument \"%s\"",
				     argv[0]);
		}
		NEXT_ARG();
	}
	if (!a->dev)
		return p_err(ctx, -EINVAL, "underlay attach: missing \"dev NAME\"");
	return 0;
}

/* "dev NAME" or nothing: the commands that take an optional device. */
static int parse_dev_only(struct xs_ctx *ctx, const char *cmd, int argc, char **argv,
			  const char **dev)
{
	*dev = NULL;
	while (argc > 0) {
		if (matches(argv[0], "dev")) {
			NEXT_ARG_VALUE(ctx);
			*dev = argv[0];
		} else {
			return p_err(ctx, -EINVAL, "underlay %s: unknown argument \"%s\"", cmd,
				     argv[0]);
		}
		NEXT_ARG();
	}
	if (*dev && (!**dev || strchr(*dev, '/') || strlen(*dev) >= IF_NAMESIZE))
		return p_err(ctx, -EINVAL, "invalid device name \"%s\"", *dev);
	return 0;
}

/* Commands on one device serialise on its pin directory, as the tc
 * programs' do. Returns the locked descriptor or -errno. */
static int lock_dir(const char *dir, int how)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (flock(fd, how)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
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
	bpf_object__for_each_map(map, skel->obj) {
		if (bpf_map__is_internal(map))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, bpf_map__name(map));
		fd = bpf_obj_get(path);
		if (fd < 0) {
			err = p_err(ctx, -errno,
				    "device \"%s\": pinned map %s missing (attached by another version?); run \"xfrm-steer underlay attach dev %s\" to upgrade it",
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
			return p_err(ctx, -errno,
				     "device \"%s\": cannot add to the SA list: %s%s", dev,
				     strerror(errno),
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
	bpf_object__for_each_map(map, skel->obj) {
		if (bpf_map__is_internal(map))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, bpf_map__name(map));
		unlink(path);
	}
	xs_remove_retired_pins(dir);
}

/* Replace the program behind the pinned link, or attach anew. A pinned
 * link whose device is gone (or another of the same name) is replaced. */
static int attach_link(struct xs_ctx *ctx, const char *dir, struct bpf_program *prog,
		       int ifindex, const char *dev)
{
	struct bpf_link_info info;
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	struct bpf_link *link;
	int fd, err;

	snprintf(path, sizeof(path), "%s/%s", dir, XS_PIN_XDP_LINK);
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		memset(&info, 0, sizeof(info));
		if (!bpf_link_get_info_by_fd(fd, &info, &len) && info.type == BPF_LINK_TYPE_XDP &&
		    (int)info.xdp.ifindex == ifindex) {
			err = bpf_link_update(fd, bpf_program__fd(prog), NULL);
			close(fd);
			if (err)
				return p_err(ctx, -errno, "cannot replace the program of %s: %s",
					     path, strerror(errno));
			return 0;
		}
		close(fd);
		unlink(path);
	}
	link = bpf_program__attach_xdp(prog, ifindex);
	if (!link) {
		err = -errno;
		if (err == -EBUSY || err == -EEXIST)
			return p_err(ctx, err,
				     "device \"%s\" already has an XDP program of someone else's",
				     dev);
		return p_err(ctx, err, "cannot attach XDP to \"%s\": %s", dev, strerror(-err));
	}
	err = bpf_link__pin(link, path);
	if (err) {
		bpf_link__destroy(link);
		return p_err(ctx, err, "cannot pin %s: %s", path, strerror(-err));
	}
	bpf_link__disconnect(link);
	bpf_link__destroy(link);
	return 0;
}

static int do_ul_attach(struct xs_ctx *ctx, int argc, char **argv)
{
	struct xdp_underlay *skel = NULL;
	struct ul_attach_args a;
	struct ul_meta_value m;
	struct xs_link_info li;
	struct sa_list sas = { 0 };
	struct xs_pin_plan plan = { 0 };
	char dir[XS_DIR_MAX];
	uint32_t zero = 0;
	bool fresh;
	int err, lock_fd, calls;

	if (argc > 0 && matches(argv[0], "help"))
		return ul_help(ctx, argc, argv);
	err = parse_ul_attach(ctx, argc, argv, &a);
	if (err)
		return err;
	err = xs_link_query(ctx, a.dev, &li);
	if (err)
		return err;
	if (li.is_xfrm)
		return p_err(ctx, -EINVAL,
			     "device \"%s\" is an xfrm interface: attach the underlay, the device ESP arrives on",
			     a.dev);
	err = xs_pin_dir(ctx, a.dev, dir, sizeof(dir));
	if (!err)
		err = xs_mkdir_pins(ctx, dir);
	if (err)
		return err;
	lock_fd = lock_dir(dir, LOCK_EX);
	if (lock_fd < 0)
		return p_err(ctx, lock_fd, "cannot lock %s: %s", dir, strerror(-lock_fd));
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
			    "drop-unknown needs bpf_xdp_get_xfrm_state (kernel 6.8+); with \"sa-lookup map\" it drops the SAs added since the last \"underlay sync\"");
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
	if (ctx->verbose)
		p_info(ctx, "%s %s: SA lookup by %s, %zu SAs listed, state in %s",
		       fresh ? "attached" : "upgraded", a.dev, calls ? "kfunc" : "map", sas.n,
		       dir);
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

static int do_ul_detach(struct xs_ctx *ctx, int argc, char **argv)
{
	struct xdp_underlay *skel;
	char dir[XS_DIR_MAX], ns[XS_DIR_MAX];
	const char *dev;
	int err, lock_fd;

	if (argc > 0 && matches(argv[0], "help"))
		return ul_help(ctx, argc, argv);
	err = parse_dev_only(ctx, "detach", argc, argv, &dev);
	if (err)
		return err;
	if (!dev)
		return p_err(ctx, -EINVAL, "underlay detach: missing \"dev NAME\"");
	err = xs_pin_dir(ctx, dev, dir, sizeof(dir));
	if (err)
		return err;
	lock_fd = lock_dir(dir, LOCK_EX);
	if (lock_fd == -ENOENT)
		return p_err(ctx, -ENOENT, "device \"%s\" has no underlay program", dev);
	if (lock_fd < 0)
		return p_err(ctx, lock_fd, "cannot lock %s: %s", dir, strerror(-lock_fd));
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

static int ul_one(struct xs_ctx *ctx, const char *dev, int how, bool quiet_absent,
		  ul_dev_fn fn, void *data)
{
	struct xdp_underlay *skel = NULL;
	char dir[XS_DIR_MAX];
	int err, lock_fd;

	err = xs_pin_dir(ctx, dev, dir, sizeof(dir));
	if (err)
		return err;
	lock_fd = lock_dir(dir, how);
	if (lock_fd < 0 && lock_fd != -ENOENT)
		return p_err(ctx, lock_fd, "cannot lock %s: %s", dir, strerror(-lock_fd));
	if (lock_fd < 0 || !ul_attached(dir)) {
		if (lock_fd >= 0)
			close(lock_fd);
		if (quiet_absent)
			return 0;
		return p_err(ctx, -ENOENT,
			     "device \"%s\" has no underlay program (run \"xfrm-steer underlay attach dev %s\")",
			     dev, dev);
	}
	err = ul_open_pinned(ctx, dev, dir, &skel);
	if (!err)
		err = fn(ctx, dev, dir, skel, data);
	xdp_underlay__destroy(skel);
	close(lock_fd);
	return err;
}

static int ul_for_each(struct xs_ctx *ctx, const char *dev, int how, ul_dev_fn fn, void *data)
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

static int sync_dev(struct xs_ctx *ctx, const char *dev, const char *dir,
		    struct xdp_underlay *skel, void *data)
{
	(void)dir;
	return sync_known(ctx, skel, dev, data);
}

static int do_ul_sync(struct xs_ctx *ctx, int argc, char **argv)
{
	struct sa_list sas;
	const char *dev;
	int err;

	if (argc > 0 && matches(argv[0], "help"))
		return ul_help(ctx, argc, argv);
	err = parse_dev_only(ctx, "sync", argc, argv, &dev);
	if (err)
		return err;
	err = sa_list_read(ctx, &sas);
	if (err)
		return err;
	err = ul_for_each(ctx, dev, LOCK_EX, sync_dev, &sas);
	sa_list_free(&sas);
	return err;
}

/* ---- show ---- */

struct spi_row {
	char dev[IF_NAMESIZE];
	struct ul_spi_key key;
	bool known;
	struct ul_spi_stats st;
};

struct spi_rows {
	size_t n, cap;
	struct spi_row *v;
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
		struct spi_row *r;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, pc))
			continue; /* evicted meanwhile */
		if (rows->n == rows->cap) {
			size_t cap = rows->cap ? rows->cap * 2 : 64;
			struct spi_row *v = realloc(rows->v, cap * sizeof(*v));

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

static int show_dev(struct xs_ctx *ctx, const char *dev, const char *dir,
		    struct xdp_underlay *skel, void *data)
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
	const struct spi_row *x = a, *y = b;
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

static int do_ul_show(struct xs_ctx *ctx, int argc, char **argv)
{
	static const struct xs_column cols[] = {
		{ .key = "dev", .title = "DEV" },
		{ .key = "daddr", .title = "DADDR" },
		{ .key = "spi", .title = "SPI" },
		{ .key = "packets", .title = "PACKETS", .right = true, .human = true },
		{ .key = "bytes", .title = "BYTES", .right = true, .human = true },
		{ .key = "sa", .title = "SA" },
	};
	struct spi_rows rows = { 0 };
	json_object *arr;
	const char *dev;
	size_t i;
	int err;

	if (argc > 0 && matches(argv[0], "help"))
		return ul_help(ctx, argc, argv);
	err = parse_dev_only(ctx, "show", argc, argv, &dev);
	if (err)
		return err;
	err = ul_for_each(ctx, dev, LOCK_SH, show_dev, &rows);
	if (err) {
		free(rows.v);
		return err;
	}
	if (rows.n)
		qsort(rows.v, rows.n, sizeof(*rows.v), cmp_spi_row);
	arr = json_object_new_array();
	for (i = 0; i < rows.n; i++) {
		const struct spi_row *r = &rows.v[i];
		json_object *o = json_object_new_object();
		char a[INET6_ADDRSTRLEN], spi[16];

		snprintf(spi, sizeof(spi), "0x%08x", ntohl(r->key.spi));
		json_object_object_add(o, "dev", json_object_new_string(r->dev));
		json_object_object_add(o, "daddr", json_object_new_string(format_addr(
							   r->key.family, r->key.daddr, a, sizeof(a))));
		json_object_object_add(o, "spi", json_object_new_string(spi));
		json_object_object_add(o, "packets", json_object_new_uint64(r->st.packets));
		json_object_object_add(o, "bytes", json_object_new_uint64(r->st.bytes));
		json_object_object_add(o, "sa",
				       json_object_new_string(r->known ? "present" : "unknown"));
		json_object_array_add(arr, o);
	}
	show_records(ctx, arr, cols, sizeof(cols) / sizeof(cols[0]));
	json_object_put(arr);
	free(rows.v);
	return 0;
}

/* ---- stats: per device, what the program noted ---- */

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

static int stats_dev(struct xs_ctx *ctx, const char *dev, const char *dir,
		     struct xdp_underlay *skel, void *data)
{
	int ncpu = xs_num_cpus(), c, fd = bpf_map__fd(skel->maps.ul_reasons);
	json_object *o, *arr = data;
	struct ul_meta_value m;
	uint32_t zero = 0, r;
	uint64_t *pc;

	(void)dir;
	if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.ul_meta), &zero, &m) ||
	    m.magic != XS_UL_META_MAGIC)
		return p_err(ctx, -EPROTO, "device \"%s\": underlay state has an unknown format",
			     dev);
	pc = calloc((size_t)ncpu, sizeof(*pc));
	if (!pc)
		return p_err(ctx, -ENOMEM, "out of memory");
	o = json_object_new_object();
	json_object_object_add(o, "dev", json_object_new_string(dev));
	json_object_object_add(o, "xdp", json_object_new_string(xdp_mode_name((int)m.ifindex)));
	json_object_object_add(o, "unknown_action",
			       json_object_new_string(m.flags & XS_UL_CFG_DROP_UNKNOWN ? "drop" :
											 "pass"));
	json_object_object_add(o, "sa_lookup",
			       json_object_new_string(m.lookup == XS_UL_LOOKUP_KFUNC ? "kfunc" :
											"map"));
	json_object_object_add(o, "known_spis", json_object_new_uint64(m.known_spis));
	json_object_object_add(o, "event_interval_ms",
			       json_object_new_uint64(m.event_interval_ms));
	for (r = 0; r < XS_UL_REASON_MAX; r++) {
		uint64_t sum = 0;

		if (!bpf_map_lookup_elem(fd, &r, pc))
			for (c = 0; c < ncpu; c++)
				sum += pc[c];
		json_object_object_add(o, reason_names[r], json_object_new_uint64(sum));
	}
	free(pc);
	json_object_array_add(arr, o);
	return 0;
}

static int do_ul_stats(struct xs_ctx *ctx, int argc, char **argv)
{
	static const struct xs_column cols[] = {
		{ .key = "dev", .title = "DEV" },
		{ .key = "xdp", .title = "XDP" },
		{ .key = "sa_lookup", .title = "SA_LOOKUP" },
		{ .key = "unknown_action", .title = "UNKNOWN_ACTION" },
		{ .key = "known_spis", .title = "KNOWN_SPIS", .right = true },
		{ .key = "unknown_spi", .title = "UNKNOWN_SPI", .right = true, .human = true },
		{ .key = "dropped", .title = "DROPPED", .right = true, .human = true },
		{ .key = "transit", .title = "TRANSIT", .right = true, .human = true },
		{ .key = "ike", .title = "IKE", .right = true, .human = true },
		{ .key = "keepalive", .title = "KEEPALIVE", .right = true, .human = true },
		{ .key = "truncated", .title = "TRUNCATED", .right = true, .human = true },
		{ .key = "fragment", .title = "FRAGMENT", .right = true, .human = true },
		{ .key = "v6_ext", .title = "V6_EXT", .right = true, .human = true },
		{ .key = "events_lost", .title = "EVENTS_LOST", .right = true, .human = true },
	};
	json_object *arr;
	const char *dev;
	int err;

	if (argc > 0 && matches(argv[0], "help"))
		return ul_help(ctx, argc, argv);
	err = parse_dev_only(ctx, "stats", argc, argv, &dev);
	if (err)
		return err;
	arr = json_object_new_array();
	err = ul_for_each(ctx, dev, LOCK_SH, stats_dev, arr);
	if (!err)
		show_records(ctx, arr, cols, sizeof(cols) / sizeof(cols[0]));
	json_object_put(arr);
	return err;
}

int do_underlay(struct xs_ctx *ctx, int argc, char **argv)
{
	static const struct xs_cmd cmds[] = {
		{ "show", do_ul_show },
		{ "attach", do_ul_attach },
		{ "detach", do_ul_detach },
		{ "sync", do_ul_sync },
		{ "stats", do_ul_stats },
		{ "help", ul_help },
		{ NULL, NULL },
	};

	return xs_cmd_select(ctx, cmds, argc, argv, ul_help);
}

// SPDX-License-Identifier: GPL-2.0
/* The pinned state of an attached interface. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "iifbind.h"
#include "state.h"
#include "xfrm_steer.skel.h"

int xs_num_cpus(void)
{
	int n = libbpf_num_possible_cpus();

	return n > 0 ? n : 1;
}

static bool is_bpffs(const char *path)
{
	struct statfs sfs;

	return !statfs(path, &sfs) && sfs.f_type == BPF_FS_MAGIC;
}

static bool same_ns(const char *a, const char *b)
{
	struct stat sa, sb;

	return !stat(a, &sa) && !stat(b, &sb) && sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev;
}

/* Where the BPF file system that holds the state is. `ip netns exec`
 * runs its command in a mount namespace of its own with /sys mounted
 * again, so /sys/fs/bpf there is empty or not a bpffs at all: the state
 * is then reached through the first process's root, which is the same file
 * system `-n` sees, so both give the same answers. A bpffs mounted in such
 * a private namespace would vanish with the command and everything pinned
 * in it: never mount one there. Elsewhere bpffs is usually mounted by
 * systemd; in a bare namespace or VM it may not be, and it is mounted, as
 * bpftool does. */
static const char *bpffs_base(struct xs_ctx *ctx)
{
	static const char *const sys = "/sys/fs/bpf", *const init = "/proc/1/root/sys/fs/bpf";

	if (ctx->bpffs[0])
		return ctx->bpffs;
	if (same_ns("/proc/self/ns/mnt", "/proc/1/ns/mnt")) {
		if (!is_bpffs(sys) && mount("bpf", sys, "bpf", 0, "mode=0700")) {
			p_err(ctx, -errno, "no BPF file system at %s and mounting one failed: %s",
			      sys, strerror(errno));
			return NULL;
		}
		snprintf(ctx->bpffs, sizeof(ctx->bpffs), "%s", sys);
		return ctx->bpffs;
	}
	/* A mount namespace of our own (ip netns exec, a container): a
	 * bpffs here that holds xfrm-steer's state is the one, else the
	 * first process's. */
	if (is_bpffs(sys) && !access("/sys/fs/bpf/xfrm-steer", F_OK)) {
		snprintf(ctx->bpffs, sizeof(ctx->bpffs), "%s", sys);
		return ctx->bpffs;
	}
	if (is_bpffs(init)) {
		snprintf(ctx->bpffs, sizeof(ctx->bpffs), "%s", init);
		return ctx->bpffs;
	}
	if (is_bpffs(sys)) {
		snprintf(ctx->bpffs, sizeof(ctx->bpffs), "%s", sys);
		return ctx->bpffs;
	}
	p_err(ctx, -ENOENT,
	      "no BPF file system at %s in this mount namespace (ip netns exec remounts /sys); run \"xfrm-steer -n NETNS ...\" instead",
	      sys);
	return NULL;
}

int xs_pin_root(struct xs_ctx *ctx, char *buf, size_t len)
{
	const char *base = bpffs_base(ctx);

	if (!base)
		return -ENOENT;
	/* XS_PIN_ROOT is /sys/fs/bpf/xfrm-steer: keep its last part. */
	snprintf(buf, len, "%s%s", base, &XS_PIN_ROOT[sizeof("/sys/fs/bpf") - 1]);
	return 0;
}

int xs_netns_dir(struct xs_ctx *ctx, char *buf, size_t len)
{
	char root[XS_DIR_MAX];
	uint64_t ino;
	int err = xs_netns_id(&ino);

	if (err)
		return p_err(ctx, err, "cannot identify the network namespace: %s",
			     strerror(-err));
	err = xs_pin_root(ctx, root, sizeof(root));
	if (err)
		return err;
	snprintf(buf, len, "%s/%llu", root, (unsigned long long)ino);
	return 0;
}

int xs_pin_dir_nocheck(struct xs_ctx *ctx, const char *ifname, char *buf, size_t len)
{
	char ns[XS_DIR_MAX];
	int err = xs_netns_dir(ctx, ns, sizeof(ns));

	if (err)
		return err;
	if ((size_t)snprintf(buf, len, "%s/%s", ns, ifname) >= len)
		return p_err(ctx, -ENAMETOOLONG, "pin path too long");
	return 0;
}

int xs_pin_dir(struct xs_ctx *ctx, const char *ifname, char *buf, size_t len)
{
	int err = xs_pin_dir_nocheck(ctx, ifname, buf, len);

	/* Every command finds a device's state here: state left by a device
	 * that is gone is removed before anything can use it as live. */
	if (!err)
		err = xs_clean_if_stale(ctx, buf, ifname);
	return err < 0 ? err : 0;
}

/* The device of a tcx or XDP link; 0 for other kinds. */
static int info_ifindex(const struct bpf_link_info *info)
{
	switch (info->type) {
	case BPF_LINK_TYPE_TCX:
		return (int)info->tcx.ifindex;
	case BPF_LINK_TYPE_XDP:
		return (int)info->xdp.ifindex;
	default:
		return 0;
	}
}

/* The device a pinned link is attached to, 0 when it is gone (a tcx or
 * XDP link outlives its device, and its namespace, detached). -1: no such
 * pin. */
static int link_ifindex(const char *dir, const char *pin)
{
	struct bpf_link_info info;
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd, ifindex = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, pin);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -1;
	memset(&info, 0, sizeof(info));
	if (!bpf_link_get_info_by_fd(fd, &info, &len))
		ifindex = info_ifindex(&info);
	close(fd);
	return ifindex;
}

bool xs_pins_stale(const char *dir, const char *ifname, bool here, char *why, size_t len)
{
	/* One link tells: the two tc links are made and dropped together. */
	static const char *const pins[] = { XS_PIN_INGRESS_LINK, XS_PIN_XDP_LINK };
	size_t i;

	for (i = 0; i < sizeof(pins) / sizeof(pins[0]); i++) {
		int ifindex = link_ifindex(dir, pins[i]), now;

		if (ifindex < 0)
			continue;
		if (!ifindex) {
			snprintf(why, len, "its device was deleted, or its namespace");
			return true;
		}
		if (!here)
			continue;
		now = (int)if_nametoindex(ifname);
		if (!now) {
			snprintf(why, len, "no device \"%s\" in this namespace now", ifname);
			return true;
		}
		if (now != ifindex) {
			snprintf(why, len, "device \"%s\" was deleted and made again (ifindex %d, was %d)",
				 ifname, now, ifindex);
			return true;
		}
		return false;
	}
	return false;
}

int xs_pins_remove_all(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(dir);
	char *slash;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
	if (rmdir(dir))
		return -errno;
	/* The namespace's directory goes with its last device. */
	snprintf(path, sizeof(path), "%s", dir);
	slash = strrchr(path, '/');
	if (slash) {
		*slash = '\0';
		rmdir(path);
	}
	return 0;
}

int xs_clean_if_stale(struct xs_ctx *ctx, const char *dir, const char *ifname)
{
	char why[128];
	int fd, err = 0;

	if (!xs_pins_stale(dir, ifname, true, why, sizeof(why)))
		return 0;
	/* Under the lock, so that no attach is half way through. */
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (!flock(fd, LOCK_EX) && xs_pins_stale(dir, ifname, true, why, sizeof(why))) {
		err = xs_pins_remove_all(dir);
		if (err)
			p_err(ctx, err,
			      "cannot remove the stale state in %s: %s (remove it by hand, then run \"xfrm-steer detach stale\")",
			      dir, strerror(-err));
		else
			p_warn(ctx, "removed the state of \"%s\" in %s: %s", ifname, dir, why);
		err = err ? err : 1;
	}
	close(fd);
	return err;
}

int xs_sweep_stale(struct xs_ctx *ctx)
{
	char ns[XS_DIR_MAX], dir[XS_DIR_MAX + IF_NAMESIZE + 1];
	struct dirent *de;
	DIR *d;
	int e, err = xs_netns_dir(ctx, ns, sizeof(ns));

	if (err)
		return err;
	d = opendir(ns);
	if (!d)
		return 0; /* nothing here yet */
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || de->d_type != DT_DIR ||
		    (size_t)snprintf(dir, sizeof(dir), "%s/%s", ns, de->d_name) >= sizeof(dir))
			continue;
		e = xs_clean_if_stale(ctx, dir, de->d_name);
		if (e < 0 && !err)
			err = e; /* reported; the caller stops */
	}
	closedir(d);
	return err;
}

int xs_mkdir_pins(struct xs_ctx *ctx, const char *dir)
{
	char path[PATH_MAX];
	char *p;

	const char *base = bpffs_base(ctx);

	if (!base)
		return -ENOENT;
	if (strncmp(dir, base, strlen(base)) || dir[strlen(base)] != '/')
		return p_err(ctx, -EINVAL, "%s is not under %s", dir, base);
	snprintf(path, sizeof(path), "%s", dir);
	for (p = path + strlen(base) + 1;; p++) {
		char c = *p;

		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) && errno != EEXIST)
			return p_err(ctx, -errno, "cannot create %s: %s", path,
				     strerror(errno));
		*p = c;
		if (!c)
			break;
	}
	return 0;
}

int xs_dir_lock(struct xs_ctx *ctx, const char *dir, enum xs_lock lock)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT)
		return -ENOENT;
	if (fd < 0)
		return p_err(ctx, -errno, "cannot open %s: %s", dir, strerror(errno));
	/* Concurrent commands on one device (two scripts adding routes)
	 * serialise here, so read-modify-write of the maps loses nothing. */
	if (flock(fd, lock == XS_LOCK_EXCLUSIVE ? LOCK_EX : LOCK_SH)) {
		int err = -errno;

		close(fd);
		return p_err(ctx, err, "cannot lock %s: %s", dir, strerror(-err));
	}
	return fd;
}

int xs_link_update_pinned(struct xs_ctx *ctx, const char *path, enum bpf_link_type type,
			  int ifindex, const struct bpf_program *prog)
{
	struct bpf_link_info info;
	__u32 len = sizeof(info);
	int fd = bpf_obj_get(path), err;

	if (fd < 0)
		return 0;
	memset(&info, 0, sizeof(info));
	if (!bpf_link_get_info_by_fd(fd, &info, &len) && info.type == type &&
	    info_ifindex(&info) == ifindex) {
		err = bpf_link_update(fd, bpf_program__fd(prog), NULL) ? -errno : 0;
		close(fd);
		if (err)
			return p_err(ctx, err, "cannot replace the program of %s: %s", path,
				     strerror(-err));
		return 1;
	}
	close(fd);
	unlink(path);
	return 0;
}

int xs_link_pin_new(struct xs_ctx *ctx, struct bpf_link *link, const char *path)
{
	int err = bpf_link__pin(link, path);

	if (err) {
		bpf_link__destroy(link);
		return p_err(ctx, err, "cannot pin %s: %s", path, strerror(-err));
	}
	bpf_link__disconnect(link);
	bpf_link__destroy(link);
	return 0;
}

/* Pins earlier versions made and this one no longer has: the single ring
 * buffers of events before each reader had its own, the decision caches
 * before route_gens (their entries named no generation slots; the new ones,
 * dcache_v4 and dcache_v6, start empty and fill from the first packets), and
 * the tunnel table before its seal (XS_PIN_OLD_TUNNELS, carried over). */
static const char *const retired_pins[] = { "events",   "ul_events",	   "cache_v4",
					    "cache_v6", XS_PIN_OLD_TUNNELS };

int xs_old_tunnels_open(const char *dir, __u32 *max_entries)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, XS_PIN_OLD_TUNNELS);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	if (bpf_map_get_info_by_fd(fd, &info, &len) || info.type != BPF_MAP_TYPE_HASH ||
	    info.key_size != sizeof(__u32) || info.value_size != 2 * sizeof(__u32)) {
		close(fd);
		return -EPROTO;
	}
	*max_entries = info.max_entries;
	return fd;
}

int xs_old_tunnels_carry(struct xs_ctx *ctx, int old_fd, int new_fd)
{
	__u32 key, next, *prev = NULL, old[2];

	/* Exactly the old table: a new one that an upgrade which failed or
	 * was killed after the load left pinned may hold entries removed
	 * since. */
	while (!bpf_map_get_next_key(new_fd, NULL, &next))
		if (bpf_map_delete_elem(new_fd, &next))
			return p_err(ctx, -errno, "cannot empty the new tunnel table: %s",
				     strerror(errno));
	while (!bpf_map_get_next_key(old_fd, prev, &key)) {
		struct tunnel_value tv;

		prev = &key;
		if (bpf_map_lookup_elem(old_fd, &key, old))
			continue;
		tv = xs_tunnel_value(key, old[0], old[1]);
		if (bpf_map_update_elem(new_fd, &key, &tv, BPF_NOEXIST))
			return p_err(ctx, -errno, "cannot carry tunnel if_id %u over: %s", key,
				     strerror(errno));
	}
	return 0;
}

void xs_remove_retired_pins(const char *dir)
{
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < sizeof(retired_pins) / sizeof(retired_pins[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, retired_pins[i]);
		unlink(path);
	}
}

/* Whether a pinned map (info) has the layout this build gives map: the one
 * rule for attach, which takes a pinned map over only then, and for the
 * other commands, which use one only then. */
static bool same_layout(const struct bpf_map *map, const struct bpf_map_info *info)
{
	return info->type == bpf_map__type(map) && info->key_size == bpf_map__key_size(map) &&
	       info->value_size == bpf_map__value_size(map) &&
	       info->map_flags == bpf_map__map_flags(map);
}

static bool in_list(const struct bpf_map *map, struct bpf_map *const *list)
{
	for (; list && *list; list++)
		if (*list == map)
			return true;
	return false;
}

int xs_set_pin_paths(struct xs_ctx *ctx, struct bpf_object *obj, const char *dir,
		     const char *dev, struct bpf_map *const *fixed, struct xs_pin_plan *plan)
{
	char path[PATH_MAX];
	struct bpf_map *map;
	int err, fd;

	memset(plan, 0, sizeof(*plan));
	bpf_object__for_each_map(map, obj) {
		struct bpf_map_info info = { 0 };
		__u32 len = sizeof(info);

		if (bpf_map__is_internal(map))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, bpf_map__name(map)) >=
		    sizeof(path))
			return p_err(ctx, -ENAMETOOLONG, "pin path %s/%s is too long", dir,
				     bpf_map__name(map));
		err = bpf_map__set_pin_path(map, path);
		if (err)
			return p_err(ctx, err, "cannot set the pin path %s: %s", path,
				     strerror(-err));
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		err = bpf_map_get_info_by_fd(fd, &info, &len) ? -errno : 0;
		if (err) {
			close(fd);
			return p_err(ctx, err, "cannot read pinned map %s: %s", path,
				     strerror(-err));
		}
		if (!same_layout(map, &info)) {
			close(fd);
			return p_err(ctx, -EPROTO,
				     "pinned map %s has a layout this version cannot take over; run \"detach dev %s\" and attach again (its state is lost)",
				     path, dev);
		}
		if (in_list(map, fixed) && info.max_entries != bpf_map__max_entries(map)) {
			/* A counter array sized by another version's enum:
			 * a new one is made and pinned, the old one's counts
			 * are added to it once the new programs run. */
			struct xs_pin_grow *g = &plan->grow[plan->n];

			if (plan->n >= XS_PIN_GROW_MAX ||
			    info.type != BPF_MAP_TYPE_PERCPU_ARRAY || info.value_size != 8 ||
			    info.max_entries > bpf_map__max_entries(map)) {
				close(fd);
				return p_err(ctx, -EPROTO,
					     "pinned map %s has %u entries where this version has %u; run \"detach dev %s\" and attach again",
					     path, info.max_entries, bpf_map__max_entries(map),
					     dev);
			}
			if (unlink(path)) {
				err = -errno;
				close(fd);
				return p_err(ctx, err, "cannot replace %s: %s", path,
					     strerror(-err));
			}
			g->old_fd = fd;
			g->old_max = info.max_entries;
			g->map = map;
			snprintf(g->path, sizeof(g->path), "%s", path);
			plan->n++;
			continue;
		}
		/* A pinned map is reused only if its size matches: keep
		 * the size it was created with. */
		err = bpf_map__set_max_entries(map, info.max_entries);
		close(fd);
		if (err)
			return p_err(ctx, err, "cannot size %s: %s", path, strerror(-err));
	}
	return 0;
}

void xs_pins_commit(struct xs_pin_plan *plan, const char *dir)
{
	int ncpu = xs_num_cpus(), i;
	__u64 *old, *cur;
	__u32 k;

	old = calloc((size_t)ncpu, sizeof(*old));
	cur = calloc((size_t)ncpu, sizeof(*cur));
	for (i = 0; i < plan->n; i++) {
		struct xs_pin_grow *g = &plan->grow[i];
		int nfd = bpf_map__fd(g->map), c;

		/* The old programs are gone from the links: what they
		 * counted is final. */
		for (k = 0; old && cur && k < g->old_max; k++) {
			if (bpf_map_lookup_elem(g->old_fd, &k, old) ||
			    bpf_map_lookup_elem(nfd, &k, cur))
				continue;
			for (c = 0; c < ncpu; c++)
				cur[c] += old[c];
			bpf_map_update_elem(nfd, &k, cur, BPF_ANY);
		}
		close(g->old_fd);
	}
	free(old);
	free(cur);
	plan->n = 0;
	xs_remove_retired_pins(dir);
}

void xs_pins_abort(struct xs_pin_plan *plan)
{
	int i;

	/* The old programs still run with the old maps: pin them back. */
	for (i = 0; i < plan->n; i++) {
		struct xs_pin_grow *g = &plan->grow[i];

		unlink(g->path);
		bpf_obj_pin(g->old_fd, g->path);
		close(g->old_fd);
	}
	plan->n = 0;
}

struct xs_state_cache {
	struct xfrm_steer *skel; /* NULL: empty */
	struct meta_value *meta;
	char dir[XS_DIR_MAX];
	ino_t meta_ino;
	uint8_t *slot_used;
	uint32_t slot_next;
	uint32_t *slot_refs;
	uint64_t slot_gen; /* route_gen when slot_used was last right */
};

struct xs_state_cache *xs_state_cache_new(void)
{
	return calloc(1, sizeof(struct xs_state_cache));
}

static void cache_drop(struct xs_state_cache *c)
{
	if (c->meta)
		munmap(c->meta, sizeof(struct meta_value));
	xfrm_steer__destroy(c->skel);
	free(c->slot_used);
	free(c->slot_refs);
	memset(c, 0, sizeof(*c));
}

void xs_state_cache_free(struct xs_state_cache *c)
{
	if (!c)
		return;
	cache_drop(c);
	free(c);
}

/* A detach and a new attach between two commands pin new maps: new inodes. */
static int pinned_meta_ino(const char *dir, ino_t *ino)
{
	char path[PATH_MAX];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/meta", dir);
	if (stat(path, &sb))
		return -errno;
	*ino = sb.st_ino;
	return 0;
}

/* Hand the cached maps of st->dir to st (locked), if they are still the
 * pinned ones. */
static bool cache_take(struct xs_state_cache *c, struct xs_state *st)
{
	ino_t ino = 0;

	if (!c->skel || strcmp(c->dir, st->dir) || pinned_meta_ino(st->dir, &ino) ||
	    ino != c->meta_ino) {
		cache_drop(c);
		return false;
	}
	st->skel = c->skel;
	st->meta = c->meta;
	st->meta_ino = ino;
	st->ifindex = (int)st->meta->ifindex;
	if (c->slot_used && st->meta->route_gen == c->slot_gen) {
		st->slot_used = c->slot_used;
		st->slot_next = c->slot_next;
		st->slot_refs = c->slot_refs;
	} else {
		free(c->slot_used);
		free(c->slot_refs);
	}
	memset(c, 0, sizeof(*c));
	return true;
}

int xs_state_open(struct xs_ctx *ctx, const char *ifname, enum xs_lock lock,
		  struct xs_state *st)
{
	struct bpf_map *map;
	char path[PATH_MAX];
	int err, fd;

	memset(st, 0, sizeof(*st));
	st->lock_fd = -1;
	if (!*ifname || strlen(ifname) >= IF_NAMESIZE || strchr(ifname, '/'))
		return p_err(ctx, -EINVAL, "invalid device name \"%s\"", ifname);
	snprintf(st->ifname, sizeof(st->ifname), "%s", ifname);
	/* Also finds (or mounts) the BPF file system. */
	err = xs_pin_dir(ctx, ifname, st->dir, sizeof(st->dir));
	if (err)
		return err;
	st->lock_fd = xs_dir_lock(ctx, st->dir, lock);
	if (st->lock_fd < 0) {
		err = st->lock_fd;
		st->lock_fd = -1;
		if (err == -ENOENT)
			return p_err(ctx, err, "device \"%s\" is not attached (run \"xfrm-steer attach dev %s\")",
				     ifname, ifname);
		return err;
	}
	st->cache = ctx->state_cache;
	if (st->cache && cache_take(st->cache, st))
		return 0;

	snprintf(path, sizeof(path), "%s/%s", st->dir, XS_PIN_OLD_TUNNELS);
	if (!access(path, F_OK)) {
		err = p_err(ctx, -EPROTO,
			    "device \"%s\" was attached by an older version (its tunnel table has no seals); run \"xfrm-steer attach dev %s\" to upgrade it",
			    ifname, ifname);
		goto fail;
	}
	st->skel = xfrm_steer__open();
	if (!st->skel) {
		err = -errno;
		p_err(ctx, err, "cannot open the BPF object: %s", strerror(-err));
		goto fail;
	}
	bpf_object__for_each_map(map, st->skel->obj) {
		if (bpf_map__is_internal(map))
			continue;
		snprintf(path, sizeof(path), "%s/%s", st->dir, bpf_map__name(map));
		fd = bpf_obj_get(path);
		if (fd < 0) {
			err = -errno;
			p_err(ctx, err,
			      "device \"%s\": pinned map %s missing (attached by another version?); run \"xfrm-steer attach dev %s\" to upgrade it",
			      ifname, path, ifname);
			goto fail;
		}
		{
			/* reuse_fd takes any map: one of another layout is
			 * another version's, which only attach takes over. */
			struct bpf_map_info info = { 0 };
			__u32 len = sizeof(info);

			if (!bpf_map_get_info_by_fd(fd, &info, &len) && !same_layout(map, &info)) {
				close(fd);
				err = p_err(ctx, -EPROTO,
					    "device \"%s\": pinned map %s has another version's layout; run \"xfrm-steer attach dev %s\" to upgrade it",
					    ifname, path, ifname);
				goto fail;
			}
		}
		err = bpf_map__reuse_fd(map, fd);
		close(fd);
		if (err) {
			p_err(ctx, err, "cannot use pinned map %s: %s", path, strerror(-err));
			goto fail;
		}
	}

	st->meta = mmap(NULL, sizeof(struct meta_value), PROT_READ | PROT_WRITE, MAP_SHARED,
			bpf_map__fd(st->skel->maps.meta), 0);
	if (st->meta == MAP_FAILED) {
		st->meta = NULL;
		err = -errno;
		p_err(ctx, err, "cannot map the meta map: %s", strerror(-err));
		goto fail;
	}
	if (st->meta->magic != XS_META_MAGIC) {
		err = p_err(ctx, -EPROTO, "device \"%s\": pinned state has an unknown format",
			    ifname);
		goto fail;
	}
	st->ifindex = (int)st->meta->ifindex;
	if (st->cache && pinned_meta_ino(st->dir, &st->meta_ino))
		st->cache = NULL; /* cannot tell it again later: do not keep it */
	return 0;
fail:
	st->cache = NULL;
	xs_state_close(st);
	return err;
}

void xs_state_close(struct xs_state *st)
{
	struct xs_state_cache *c = st->cache;

	if (st->iif_dirty && st->skel && st->meta)
		xs_iif_gc(st);

	if (c && st->skel && st->meta) {
		/* Still locked: no one has changed the routes since ours. */
		cache_drop(c);
		c->skel = st->skel;
		c->meta = st->meta;
		snprintf(c->dir, sizeof(c->dir), "%s", st->dir);
		c->meta_ino = st->meta_ino;
		c->slot_used = st->slot_used;
		c->slot_next = st->slot_next;
		c->slot_refs = st->slot_used ? st->slot_refs : NULL;
		if (!st->slot_used)
			free(st->slot_refs);
		c->slot_gen = __atomic_load_n(&st->meta->route_gen, __ATOMIC_ACQUIRE);
		st->skel = NULL;
		st->meta = NULL;
		st->slot_used = NULL;
		st->slot_refs = NULL;
	}
	st->cache = NULL;
	if (st->gens)
		munmap(st->gens, st->gens_len);
	st->gens = NULL;
	free(st->slot_used);
	st->slot_used = NULL;
	free(st->slot_refs);
	st->slot_refs = NULL;
	if (st->meta)
		munmap(st->meta, sizeof(struct meta_value));
	st->meta = NULL;
	xfrm_steer__destroy(st->skel);
	st->skel = NULL;
	if (st->lock_fd >= 0)
		close(st->lock_fd);
	st->lock_fd = -1;
}

int xs_for_each_attached(struct xs_ctx *ctx,
			 int (*fn)(struct xs_ctx *ctx, const char *ifname, void *data),
			 void *data)
{
	char dir[XS_DIR_MAX];
	struct dirent *de;
	DIR *d;
	int err = 0;

	err = xs_netns_dir(ctx, dir, sizeof(dir));
	if (err)
		return err;
	d = opendir(dir);
	if (!d)
		return 0; /* nothing attached in this namespace */
	while ((de = readdir(d))) {
		char meta[XS_DIR_MAX + 8];
		struct stat sb;

		if (de->d_name[0] == '.' || de->d_type != DT_DIR)
			continue;
		/* Underlay devices have a directory of their own but no tc
		 * programs: only a "meta" pin marks an attached device. One
		 * whose device is gone goes now, as a tc device's would. */
		if ((size_t)snprintf(meta, sizeof(meta), "%s/%s/meta", dir, de->d_name) >=
			    sizeof(meta))
			continue;
		if (stat(meta, &sb)) {
			meta[strlen(meta) - strlen("/meta")] = '\0';
			xs_clean_if_stale(ctx, meta, de->d_name);
			continue;
		}
		meta[strlen(meta) - strlen("/meta")] = '\0';
		if (xs_clean_if_stale(ctx, meta, de->d_name))
			continue;
		err = fn(ctx, de->d_name, data);
		if (err)
			break;
	}
	closedir(d);
	return err;
}

/* route_gens, mapped once per command (and kept while the lock is). */
static __u64 *gens_map(struct xs_state *st, uint32_t *fine)
{
	uint32_t n = bpf_map__max_entries(st->skel->maps.route_gens);
	void *p;

	if (n <= XS_GEN_TENANT_SLOTS)
		return NULL;
	*fine = n - XS_GEN_TENANT_SLOTS;
	if (st->gens)
		return st->gens;
	st->gens_len = (size_t)n * sizeof(__u64);
	p = mmap(NULL, st->gens_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		 bpf_map__fd(st->skel->maps.route_gens), 0);
	if (p == MAP_FAILED)
		return NULL;
	st->gens = p;
	return st->gens;
}

static void routes_changed_end(struct xs_state *st)
{
	/* Still moved on every change, for the programs of earlier versions
	 * (a downgrade) and for the cached tunnel slots (cache_take). */
	__atomic_add_fetch(&st->meta->route_gen, 1, __ATOMIC_RELEASE);
	/* Only route add and del keep the reference counts up to date. */
	if (!st->refs_kept) {
		free(st->slot_refs);
		st->slot_refs = NULL;
	}
	st->refs_kept = false;
}

void xs_routes_changed(struct xs_state *st)
{
	uint32_t fine, i;
	__u64 *g = gens_map(st, &fine);

	/* Every decision checks its tenant slot: moving them all is enough.
	 * Without the mapping (it cannot fail but for want of memory) the
	 * syscall does the same, one slot at a time. */
	for (i = 0; i < XS_GEN_TENANT_SLOTS; i++) {
		uint32_t k = fine + i;
		__u64 v;

		if (g) {
			__atomic_add_fetch(&g[k], 1, __ATOMIC_RELEASE);
		} else if (!bpf_map_lookup_elem(bpf_map__fd(st->skel->maps.route_gens), &k, &v)) {
			v++;
			bpf_map_update_elem(bpf_map__fd(st->skel->maps.route_gens), &k, &v, BPF_ANY);
		}
	}
	routes_changed_end(st);
}

void xs_route_changed(struct xs_state *st, int family, uint32_t tenant, const uint8_t *addr,
		      uint32_t plen)
{
	uint32_t fine, first, count, i;
	__u64 *g = gens_map(st, &fine);

	if (!g) {
		xs_routes_changed(st);
		return;
	}
	xs_gen_plan(family == AF_INET6, tenant, addr, plen, fine, &first, &count);
	/* Release: the route update above must be visible before a reader
	 * can see the new generation and cache what it looked up. */
	if (!count)
		__atomic_add_fetch(&g[first], 1, __ATOMIC_RELEASE);
	for (i = 0; i < count; i++)
		__atomic_add_fetch(&g[(first + i) & (fine - 1)], 1, __ATOMIC_RELEASE);
	routes_changed_end(st);
}

/* A plain route refers to its slot, a group route (tunnel_idx 0) to the
 * slots of its members. */
static void count_route_refs(struct xs_state *st, const struct route_value *rv, uint32_t *refs,
			     uint32_t max)
{
	struct route_group g;
	uint32_t m;

	if (rv->tunnel_idx) {
		if (rv->tunnel_idx <= max)
			refs[rv->tunnel_idx]++;
		return;
	}
	if (bpf_map_lookup_elem(bpf_map__fd(st->skel->maps.route_groups), &rv->if_id, &g))
		return;
	for (m = 0; m < g.n && m < XS_GROUP_MAX; m++)
		if (g.nh[m].tunnel_idx <= max)
			refs[g.nh[m].tunnel_idx]++;
}

/* Count what refers to each tunnel slot: routes of both families and
 * named tunnels. Read once per lock (or per batch, like slot_used). */
int xs_tunnel_refs_load(struct xs_state *st)
{
	uint32_t max = st->meta->max_tunnels, *refs;
	struct tunnel_name_key nk, *prev_nk = NULL;
	struct route_key_v4 k4, *p4 = NULL;
	struct route_key_v6 k6, *p6 = NULL;
	int fd, tfd = bpf_map__fd(st->skel->maps.tunnel_by_ifid);
	struct route_value rv;
	struct tunnel_rec rec;
	struct tunnel_value tv;

	if (st->slot_refs)
		return 0;
	refs = calloc((size_t)max + 1, sizeof(*refs));
	if (!refs)
		return -ENOMEM;
	fd = bpf_map__fd(st->skel->maps.routes_v4);
	while (!bpf_map_get_next_key(fd, p4, &k4)) {
		p4 = &k4;
		if (!bpf_map_lookup_elem(fd, &k4, &rv))
			count_route_refs(st, &rv, refs, max);
	}
	fd = bpf_map__fd(st->skel->maps.routes_v6);
	while (!bpf_map_get_next_key(fd, p6, &k6)) {
		p6 = &k6;
		if (!bpf_map_lookup_elem(fd, &k6, &rv))
			count_route_refs(st, &rv, refs, max);
	}
	fd = bpf_map__fd(st->skel->maps.tunnel_names);
	while (!bpf_map_get_next_key(fd, prev_nk, &nk)) {
		prev_nk = &nk;
		if (!bpf_map_lookup_elem(fd, &nk, &rec) && !bpf_map_lookup_elem(tfd, &rec.if_id, &tv) &&
		    tv.tunnel_idx <= max)
			refs[tv.tunnel_idx]++;
	}
	st->slot_refs = refs;
	return 0;
}

int xs_tunnel_ref(struct xs_state *st, uint32_t if_id, uint32_t idx, int delta)
{
	if (!st->slot_refs)
		return -ESTALE; /* not counted before the change */
	if (idx < 1 || idx > st->meta->max_tunnels)
		return 0;
	if (delta > 0) {
		st->slot_refs[idx]++;
		return 0;
	}
	if (st->slot_refs[idx])
		st->slot_refs[idx]--;
	/* Nothing leads to the if_id any more: its slot, counters and
	 * tenant binding go, so that a table of N serves any number of
	 * if_ids over time, N at once. */
	if (!st->slot_refs[idx])
		return xs_tunnel_remove(st, if_id);
	return 0;
}

int xs_tunnel_remove(struct xs_state *st, uint32_t if_id)
{
	int fd = bpf_map__fd(st->skel->maps.tunnel_by_ifid);
	struct tunnel_value tv;
	bool known = st->slot_used && !bpf_map_lookup_elem(fd, &if_id, &tv);

	if (bpf_map_delete_elem(fd, &if_id))
		return -errno;
	st->iif_dirty |= st->meta->tenant_mode == XS_TENANT_IIF;
	if (known && tv.tunnel_idx >= 1 && tv.tunnel_idx <= st->meta->max_tunnels) {
		st->slot_used[tv.tunnel_idx] = 0;
		if (tv.tunnel_idx < st->slot_next)
			st->slot_next = tv.tunnel_idx;
	}
	return 0;
}

/* Which slots the tunnels use: one batch call per 1024 tunnels. */
static int read_slots(struct xs_state *st)
{
	int fd = bpf_map__fd(st->skel->maps.tunnel_by_ifid);
	uint32_t max = st->meta->max_tunnels;
	uint32_t keys[1024], batch, i, count;
	struct tunnel_value vals[1024];
	bool first = true;
	uint8_t *used;
	int err;

	used = calloc((size_t)max + 1, 1);
	if (!used)
		return -ENOMEM;
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	for (;;) {
		count = 1024;
		err = bpf_map_lookup_batch(fd, first ? NULL : &batch, &batch, keys, vals,
					   &count, &opts);
		first = false;
		if (err && errno != ENOENT) {
			err = -errno;
			free(used);
			return err;
		}
		for (i = 0; i < count; i++)
			if (vals[i].tunnel_idx <= max)
				used[vals[i].tunnel_idx] = 1;
		if (err)
			break; /* ENOENT: that was the last batch */
	}
	st->slot_used = used;
	st->slot_next = 1;
	return 0;
}

/* Lowest free slot in 1..max_tunnels. The tunnel table is read once per
 * lock (or per batch), so adding n tunnels costs O(n), not O(n^2). */
static int alloc_slot(struct xs_state *st, uint32_t *slot)
{
	uint32_t i, max = st->meta->max_tunnels;
	int err;

	if (!st->slot_used) {
		err = read_slots(st);
		if (err)
			return err;
	}
	for (i = st->slot_next ? st->slot_next : 1; i <= max; i++) {
		if (!st->slot_used[i]) {
			st->slot_used[i] = 1;
			st->slot_next = i + 1;
			*slot = i;
			return 0;
		}
	}
	st->slot_next = max + 1;
	return -ENOSPC;
}

static void free_slot(struct xs_state *st, uint32_t slot)
{
	st->slot_used[slot] = 0;
	if (slot < st->slot_next)
		st->slot_next = slot;
}

int xs_tunnel_ensure(struct xs_ctx *ctx, struct xs_state *st, uint32_t if_id,
		     uint32_t tenant, uint32_t *idx, bool *created)
{
	int tfd = bpf_map__fd(st->skel->maps.tunnel_by_ifid);
	int sfd = bpf_map__fd(st->skel->maps.tunnel_stats);
	struct tunnel_value tv = { 0 };
	struct tunnel_stats *zero;
	int err;

	*created = false;
	if (!bpf_map_lookup_elem(tfd, &if_id, &tv)) {
		/* Ingress checks a packet's source against the routes of
		 * the tunnel's one tenant; a second tenant would open a
		 * path between the two. */
		if (tv.tenant != tenant)
			return p_err(ctx, -EEXIST,
				     "if_id %u belongs to tenant %u; a tunnel serves one tenant",
				     if_id, tv.tenant);
		*idx = tv.tunnel_idx;
		return 0;
	}
	tv.tenant = tenant;
	err = alloc_slot(st, &tv.tunnel_idx);
	if (err == -ENOSPC)
		return p_err(ctx, err,
			     "tunnel table of device \"%s\" is full (%u tunnels); detach and attach again with \"tunnels N\" to raise it",
			     st->ifname, st->meta->max_tunnels);
	if (err)
		return p_err(ctx, err, "cannot read the tunnel table: %s", strerror(-err));

	/* A slot may have served a deleted tunnel: start from zero before the
	 * datapath can find it. */
	zero = calloc((size_t)xs_num_cpus(), sizeof(*zero));
	if (!zero) {
		free_slot(st, tv.tunnel_idx);
		return p_err(ctx, -ENOMEM, "out of memory");
	}
	err = bpf_map_update_elem(sfd, &tv.tunnel_idx, zero, BPF_ANY) ? -errno : 0;
	free(zero);
	if (err) {
		free_slot(st, tv.tunnel_idx);
		return p_err(ctx, err, "cannot reset tunnel counters: %s", strerror(-err));
	}
	{
		/* Nor may it keep that tunnel's health. */
		uint32_t up = 0;

		bpf_map_update_elem(bpf_map__fd(st->skel->maps.tun_health), &tv.tunnel_idx, &up,
				    BPF_ANY);
	}
	tv = xs_tunnel_value(if_id, tv.tunnel_idx, tenant);
	if (bpf_map_update_elem(tfd, &if_id, &tv, BPF_NOEXIST)) {
		err = -errno;
		free_slot(st, tv.tunnel_idx);
		return p_err(ctx, err, "cannot add tunnel if_id %u: %s", if_id, strerror(-err));
	}
	*idx = tv.tunnel_idx;
	*created = true;
	return 0;
}

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

#include "state.h"
#include "xfrm_steer.skel.h"

int xs_num_cpus(void)
{
	int n = libbpf_num_possible_cpus();

	return n > 0 ? n : 1;
}

int xs_netns_dir(struct xs_ctx *ctx, char *buf, size_t len)
{
	uint64_t ino;
	int err = xs_netns_id(&ino);

	if (err)
		return p_err(ctx, err, "cannot identify the network namespace: %s",
			     strerror(-err));
	snprintf(buf, len, "%s/%llu", XS_PIN_ROOT, (unsigned long long)ino);
	return 0;
}

int xs_pin_dir(struct xs_ctx *ctx, const char *ifname, char *buf, size_t len)
{
	char ns[XS_DIR_MAX];
	int err = xs_netns_dir(ctx, ns, sizeof(ns));

	if (err)
		return err;
	if ((size_t)snprintf(buf, len, "%s/%s", ns, ifname) >= len)
		return p_err(ctx, -ENAMETOOLONG, "pin path too long");
	return 0;
}

/* bpffs is usually mounted by systemd; in a bare namespace or VM it may not
 * be, and bpftool mounts it too rather than failing. */
static int ensure_bpffs(struct xs_ctx *ctx)
{
	const char *base = "/sys/fs/bpf";
	struct statfs sfs;

	if (!statfs(base, &sfs) && sfs.f_type == BPF_FS_MAGIC)
		return 0;
	if (mount("bpf", base, "bpf", 0, "mode=0700"))
		return p_err(ctx, -errno, "no BPF file system at %s and mounting one failed: %s",
			     base, strerror(errno));
	return 0;
}

int xs_mkdir_pins(struct xs_ctx *ctx, const char *dir)
{
	char path[PATH_MAX];
	char *p;
	int err;

	err = ensure_bpffs(ctx);
	if (err)
		return err;
	snprintf(path, sizeof(path), "%s", dir);
	for (p = path + strlen("/sys/fs/bpf/"); ; p++) {
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

static int lock_dir(struct xs_ctx *ctx, const char *dir, enum xs_lock lock)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	/* Concurrent commands on one device (two scripts adding routes)
	 * serialise here, so read-modify-write of the maps loses nothing. */
	if (flock(fd, lock == XS_LOCK_EXCLUSIVE ? LOCK_EX : LOCK_SH)) {
		int err = -errno;

		close(fd);
		return p_err(ctx, err, "cannot lock %s: %s", dir, strerror(-err));
	}
	return fd;
}

int xs_set_pin_paths(struct bpf_object *obj, const char *dir)
{
	char path[PATH_MAX];
	struct bpf_map *map;
	int err;

	bpf_object__for_each_map(map, obj) {
		if (bpf_map__is_internal(map))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, bpf_map__name(map)) >=
		    sizeof(path))
			return -ENAMETOOLONG;
		err = bpf_map__set_pin_path(map, path);
		if (err)
			return err;
	}
	return 0;
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
	err = xs_pin_dir(ctx, ifname, st->dir, sizeof(st->dir));
	if (err)
		return err;
	err = ensure_bpffs(ctx);
	if (err)
		return err;
	st->lock_fd = lock_dir(ctx, st->dir, lock);
	if (st->lock_fd < 0) {
		err = st->lock_fd;
		st->lock_fd = -1;
		if (err == -ENOENT)
			return p_err(ctx, err, "device \"%s\" is not attached (run \"xfrm-steer attach dev %s\")",
				     ifname, ifname);
		return p_err(ctx, err, "cannot open %s: %s", st->dir, strerror(-err));
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
			p_err(ctx, err, "device \"%s\": pinned map %s missing: %s (re-run attach)",
			      ifname, path, strerror(-err));
			goto fail;
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
	return 0;
fail:
	xs_state_close(st);
	return err;
}

void xs_state_close(struct xs_state *st)
{
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
		 * programs: only a "meta" pin marks an attached device. */
		if ((size_t)snprintf(meta, sizeof(meta), "%s/%s/meta", dir, de->d_name) >=
			    sizeof(meta) ||
		    stat(meta, &sb))
			continue;
		err = fn(ctx, de->d_name, data);
		if (err)
			break;
	}
	closedir(d);
	return err;
}

void xs_routes_changed(struct xs_state *st)
{
	/* Release: the route update above must be visible before a reader
	 * can see the new generation and cache what it looked up. */
	__atomic_add_fetch(&st->meta->route_gen, 1, __ATOMIC_RELEASE);
}

int xs_tunnel_remove(struct xs_state *st, uint32_t if_id)
{
	if (bpf_map_delete_elem(bpf_map__fd(st->skel->maps.tunnels), &if_id))
		return -errno;
	return 0;
}

/* Lowest free slot in 1..max_tunnels. Reading all tunnels costs one batch
 * call per few thousand entries; route adds are rare next to packets. */
static int alloc_slot(struct xs_state *st, uint32_t *slot)
{
	int fd = bpf_map__fd(st->skel->maps.tunnels);
	uint32_t max = st->meta->max_tunnels;
	uint32_t keys[1024], batch, i, count;
	struct tunnel_value vals[1024];
	bool first = true;
	uint8_t *used;
	int err = 0;

	used = calloc(max + 1, 1);
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
			goto out;
		}
		for (i = 0; i < count; i++)
			if (vals[i].tunnel_idx <= max)
				used[vals[i].tunnel_idx] = 1;
		if (err) {
			err = 0;
			break; /* ENOENT: that was the last batch */
		}
	}
	for (i = 1; i <= max; i++) {
		if (!used[i]) {
			*slot = i;
			goto out;
		}
	}
	err = -ENOSPC;
out:
	free(used);
	return err;
}

int xs_tunnel_ensure(struct xs_ctx *ctx, struct xs_state *st, uint32_t if_id,
		     uint32_t tenant, uint32_t *idx, bool *created)
{
	int tfd = bpf_map__fd(st->skel->maps.tunnels);
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
	if (!zero)
		return p_err(ctx, -ENOMEM, "out of memory");
	err = bpf_map_update_elem(sfd, &tv.tunnel_idx, zero, BPF_ANY);
	free(zero);
	if (err)
		return p_err(ctx, -errno, "cannot reset tunnel counters: %s", strerror(errno));
	if (bpf_map_update_elem(tfd, &if_id, &tv, BPF_NOEXIST))
		return p_err(ctx, -errno, "cannot add tunnel if_id %u: %s", if_id,
			     strerror(errno));
	*idx = tv.tunnel_idx;
	*created = true;
	return 0;
}

// SPDX-License-Identifier: GPL-2.0
/* Attach, upgrade in place and detach the programs of a device, with its
 * pinned state (device.h). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "device.h"
#include "iifbind.h"
#include "netlink.h"
#include "plan.h"
#include "state.h"
#include "xfrm_steer.skel.h"


/* A re-attach keeps the maps, so it must ask for what they already are
 * (the rule is the planner's: xs_plan_attach()). */
static int check_same_config(struct xs_ctx *ctx, const struct attach_args *a,
			     struct attach_args *eff, const struct meta_value *m)
{
	char why[256];
	int err = xs_plan_attach(a, m, eff, why, sizeof(why));

	return err ? p_err(ctx, err, "device \"%s\" %s", a->dev, why) : 0;
}

static int read_pinned_meta(const char *dir, struct meta_value *m)
{
	char path[PATH_MAX];
	uint32_t zero = 0;
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/meta", dir);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	if (bpf_map_lookup_elem(fd, &zero, m))
		err = -errno;
	close(fd);
	if (!err && m->magic != XS_META_MAGIC)
		err = -EPROTO;
	return err;
}

/* Remove every pin in dir (links first, so traffic stops being steered
 * before the maps go), then dir itself. */
static void remove_pins(const char *dir, struct xfrm_steer *skel)
{
	static const char *const links[] = { XS_PIN_EGRESS_LINK, XS_PIN_INGRESS_LINK };
	char path[PATH_MAX];
	struct bpf_map *map;
	size_t i;

	for (i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		int fd;

		snprintf(path, sizeof(path), "%s/%s", dir, links[i]);
		fd = bpf_obj_get(path);
		if (fd >= 0) {
			bpf_link_detach(fd);
			close(fd);
		}
		unlink(path);
	}
	xs_iif_unbind_all(dir);
	bpf_object__for_each_map(map, skel->obj) {
		if (bpf_map__is_internal(map))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, bpf_map__name(map));
		unlink(path);
	}
	xs_remove_retired_pins(dir);
	rmdir(dir);
}

/* Replace the program behind a pinned link atomically, or attach anew. A
 * pinned link whose device is gone (it was deleted and made again) is
 * dropped and replaced. */
static int attach_one(struct xs_ctx *ctx, const char *dir, const char *pin,
		      struct bpf_program *prog, int ifindex, bool *created)
{
	char path[PATH_MAX];
	struct bpf_link *link;
	int err;

	*created = false;
	snprintf(path, sizeof(path), "%s/%s", dir, pin);
	err = xs_link_update_pinned(ctx, path, BPF_LINK_TYPE_TCX, ifindex, prog);
	if (err)
		return err < 0 ? err : 0;
	link = bpf_program__attach_tcx(prog, ifindex, NULL);
	if (!link) {
		err = -errno;
		return p_err(ctx, err, "cannot attach %s to ifindex %d: %s (tcx needs kernel 6.6+)",
			     bpf_program__name(prog), ifindex, strerror(-err));
	}
	err = xs_link_pin_new(ctx, link, path);
	*created = !err;
	return err;
}

int xs_attach(struct xs_ctx *ctx, const struct attach_args *ap)
{
	const struct attach_args a = *ap;
	struct attach_args eff;
	struct xs_link_info li;
	struct xfrm_steer *skel = NULL;
	struct meta_value m = { 0 };
	struct xs_pin_plan plan = { 0 };
	char dir[XS_DIR_MAX], path[PATH_MAX];
	bool fresh, eg_new = false, in_new = false;
	uint32_t zero = 0, old_max = 0;
	int err, lock_fd = -1, old_tunnels = -ENOENT;

	err = xs_link_query(ctx, a.dev, &li);
	if (err)
		return err;
	if (!li.is_xfrm || !li.external)
		return p_err(ctx, -EINVAL,
			     "device \"%s\" is not an external xfrm interface (create one with \"xfrm-steer link add NAME\")",
			     a.dev);

	err = xs_pin_dir(ctx, a.dev, dir, sizeof(dir));
	if (err)
		return err;
	err = xs_sweep_stale(ctx);
	if (!err)
		err = xs_mkdir_pins(ctx, dir);
	if (err)
		return err;
	lock_fd = xs_dir_lock(ctx, dir, XS_LOCK_EXCLUSIVE);
	if (lock_fd < 0) {
		err = lock_fd == -ENOENT ? p_err(ctx, lock_fd, "%s vanished while attaching", dir) :
					   lock_fd;
		goto out;
	}

	eff = a;
	err = read_pinned_meta(dir, &m);
	fresh = err == -ENOENT;
	if (!fresh) {
		if (err) {
			p_err(ctx, err, "cannot read the pinned state in %s: %s", dir,
			      strerror(-err));
			goto out;
		}
		err = check_same_config(ctx, &a, &eff, &m);
		if (err)
			goto out;
	}

	/* tenant-key iif: the mark mask is the stamp bit of the bindings;
	 * pins of a version without them have none yet (iifbind.h). */
	if (eff.tenant_mode == XS_TENANT_IIF && !eff.mark_mask)
		eff.mark_mask = a.mark_mask ? a.mark_mask : XS_IIF_STAMP_DEFAULT;

	skel = xfrm_steer__open();
	if (!skel) {
		err = p_err(ctx, -errno, "cannot open the BPF object: %s", strerror(errno));
		goto out;
	}
	skel->rodata->cfg.tenant_mode = eff.tenant_mode;
	skel->rodata->cfg.mark_mask = eff.mark_mask;
	skel->rodata->cfg.flags = eff.flags;
	skel->rodata->cfg.event_interval_ms = XS_DEFAULT_EVENT_INTERVAL_MS;
	skel->rodata->l3_off = 0;
	bpf_map__set_max_entries(skel->maps.routes_v4, eff.max_routes);
	bpf_map__set_max_entries(skel->maps.routes_v6, eff.max_routes);
	bpf_map__set_max_entries(skel->maps.tunnel_by_ifid, eff.max_tunnels);
	bpf_map__set_max_entries(skel->maps.tunnel_stats, eff.max_tunnels + 1);
	bpf_map__set_max_entries(skel->maps.tun_health, eff.max_tunnels + 1);
	bpf_map__set_max_entries(skel->maps.route_groups, xs_size_groups(eff.max_tunnels));
	bpf_map__set_max_entries(skel->maps.group_down, xs_size_groups(eff.max_tunnels));
	/* apply's records: one per tunnel, one per route it owns. */
	bpf_map__set_max_entries(skel->maps.tunnel_names, eff.max_tunnels);
	bpf_map__set_max_entries(skel->maps.apply_routes, eff.max_routes);
	bpf_map__set_max_entries(skel->maps.ike_routes, eff.max_routes);
	/* What is preallocated follows the tunnel count (xfrm_steer.h). */
	{
		uint32_t cache = xs_size_cache(eff.max_tunnels);

		bpf_map__set_max_entries(skel->maps.dcache_v4, cache);
		bpf_map__set_max_entries(skel->maps.dcache_v6, cache);
		bpf_map__set_max_entries(skel->maps.route_gens,
					 xs_size_gen_fine(cache) + XS_GEN_TENANT_SLOTS);
		bpf_map__set_max_entries(skel->maps.secpath, xs_size_secpath(eff.max_tunnels));
		bpf_map__set_max_entries(skel->maps.event_rl, xs_size_event_rl(eff.max_tunnels));
	}
	/* Pins of a version before the tunnel table's seal: the new table
	 * takes the old one's size, and its entries after the load. */
	if (!fresh) {
		old_tunnels = xs_old_tunnels_open(dir, &old_max);
		if (old_tunnels == -EPROTO) {
			err = p_err(ctx, old_tunnels,
				    "pinned map %s/%s is no tunnel table this version can carry over; run \"detach dev %s\" and attach again",
				    dir, XS_PIN_OLD_TUNNELS, a.dev);
			goto fail;
		}
		/* Not knowing whether there is one would attach an empty
		 * table over it: every decrypted packet an rpf drop. */
		if (old_tunnels < 0 && old_tunnels != -ENOENT) {
			err = p_err(ctx, old_tunnels, "cannot open %s/%s: %s", dir,
				    XS_PIN_OLD_TUNNELS, strerror(-old_tunnels));
			goto fail;
		}
		if (old_tunnels >= 0)
			bpf_map__set_max_entries(skel->maps.tunnel_by_ifid, old_max);
	}
	{
		struct bpf_map *const fixed[] = { skel->maps.drop_stats, NULL };

		err = xs_set_pin_paths(ctx, skel->obj, dir, a.dev, fixed, &plan);
		if (err)
			goto fail;
	}
	/* The programs hash into route_gens as it is pinned (an upgrade keeps
	 * its size). With one tenant no one needs protecting from a scan. */
	skel->rodata->cfg.gen_fine_slots =
		bpf_map__max_entries(skel->maps.route_gens) - XS_GEN_TENANT_SLOTS;
	skel->rodata->cfg.cache_budget =
		eff.tenant_mode == XS_TENANT_NONE ? 0 :
						    bpf_map__max_entries(skel->maps.dcache_v4) / 4;
	/* Loading reuses the pinned maps of an attached device (an upgrade)
	 * and pins new ones otherwise. */
	err = xfrm_steer__load(skel);
	if (err) {
		p_err(ctx, err, "cannot load the BPF programs: %s%s", strerror(-err),
		      ctx->verbose ? "" : " (run with -v for the verifier log)");
		goto fail;
	}
	m.flags = eff.flags;
	m.event_interval_ms = XS_DEFAULT_EVENT_INTERVAL_MS;
	if (fresh) {
		m.magic = XS_META_MAGIC;
		m.version = 1;
		m.route_gen = 1;
		m.ifindex = (uint32_t)li.ifindex;
		m.tenant_mode = eff.tenant_mode;
		m.mark_mask = eff.mark_mask;
		m.max_routes = eff.max_routes;
		m.max_tunnels = eff.max_tunnels;
		m.max_cache = bpf_map__max_entries(skel->maps.dcache_v4);
		m.max_secpath = bpf_map__max_entries(skel->maps.secpath);
		if (bpf_map_update_elem(bpf_map__fd(skel->maps.meta), &zero, &m, BPF_ANY)) {
			err = p_err(ctx, -errno, "cannot initialise the meta map: %s",
				    strerror(errno));
			goto fail;
		}
	} else {
		/* Record the options of this program build. The device may
		 * also be new under the same name: the routes still say what
		 * the operator wants, so keep them and follow the new index.
		 * route_gen is left to its atomic increments. */
		int mfd = bpf_map__fd(skel->maps.meta);
		struct meta_value cur;

		if (bpf_map_lookup_elem(mfd, &zero, &cur)) {
			err = p_err(ctx, -errno, "cannot read the meta map: %s", strerror(errno));
			goto fail;
		}
		cur.ifindex = (uint32_t)li.ifindex;
		cur.mark_mask = eff.mark_mask;
		cur.flags = m.flags;
		cur.event_interval_ms = m.event_interval_ms;
		if (bpf_map_update_elem(mfd, &zero, &cur, BPF_ANY)) {
			err = p_err(ctx, -errno, "cannot update the meta map: %s",
				    strerror(errno));
			goto fail;
		}
	}

	/* Before the new ingress looks tunnels up in the new table. */
	if (old_tunnels >= 0) {
		err = xs_old_tunnels_carry(ctx, old_tunnels,
					   bpf_map__fd(skel->maps.tunnel_by_ifid));
		if (err)
			goto fail;
	}
	err = attach_one(ctx, dir, XS_PIN_INGRESS_LINK, skel->progs.xs_ingress, li.ifindex,
			 &in_new);
	if (err)
		goto fail;
	/* An egress program of this version drops what no binding stamped:
	 * the tenants of older pins are bound before it replaces the old. */
	if (!fresh && eff.tenant_mode == XS_TENANT_IIF) {
		err = xs_iif_adopt(ctx, dir, bpf_map__fd(skel->maps.tunnel_by_ifid), eff.mark_mask);
		if (err)
			goto fail;
	}
	err = attach_one(ctx, dir, XS_PIN_EGRESS_LINK, skel->progs.xs_egress, li.ifindex,
			 &eg_new);
	if (err)
		goto fail;
	xs_pins_commit(&plan, dir);
	if (ctx->verbose)
		p_info(ctx, "%s %s: programs %s, state in %s", fresh ? "attached" : "upgraded",
		       a.dev, fresh ? "attached" : "replaced", dir);
	goto out;

fail:
	xs_pins_abort(&plan);
	if (fresh) {
		remove_pins(dir, skel);
	} else {
		/* An upgrade that failed leaves the old programs in place;
		 * only links this call made are taken back. */
		if (in_new) {
			snprintf(path, sizeof(path), "%s/%s", dir, XS_PIN_INGRESS_LINK);
			unlink(path);
		}
	}
out:
	xfrm_steer__destroy(skel);
	if (old_tunnels >= 0)
		close(old_tunnels);
	if (lock_fd >= 0)
		close(lock_fd);
	return err;
}

int xs_detach(struct xs_ctx *ctx, const char *dev)
{
	char dir[XS_DIR_MAX], ns[XS_DIR_MAX];
	struct xfrm_steer *skel;
	struct stat sb;
	int err, lock_fd;

	if (!*dev || strchr(dev, '/') || strlen(dev) >= IF_NAMESIZE)
		return p_err(ctx, -EINVAL, "invalid device name \"%s\"", dev);
	/* Detaching what a deleted device left is removing it, quietly. */
	err = xs_pin_dir_nocheck(ctx, dev, dir, sizeof(dir));
	if (err)
		return err;
	if (stat(dir, &sb))
		return p_err(ctx, -ENOENT, "device \"%s\" is not attached", dev);
	lock_fd = xs_dir_lock(ctx, dir, XS_LOCK_EXCLUSIVE);
	if (lock_fd == -ENOENT)
		return p_err(ctx, -ENOENT, "device \"%s\" is not attached", dev);
	if (lock_fd < 0)
		return lock_fd;
	skel = xfrm_steer__open();
	if (!skel) {
		close(lock_fd);
		return p_err(ctx, -errno, "cannot open the BPF object: %s", strerror(errno));
	}
	remove_pins(dir, skel);
	xfrm_steer__destroy(skel);
	close(lock_fd);
	if (!stat(dir, &sb))
		return p_err(ctx, -ENOTEMPTY, "%s still holds files this version does not know",
			     dir);
	/* The namespace's directory goes with its last device. */
	if (!xs_netns_dir(ctx, ns, sizeof(ns)))
		rmdir(ns);
	return 0;
}

/* Each stale device directory of every namespace: removed, then told to
 * removed(). */
int xs_detach_stale(struct xs_ctx *ctx,
		    int (*removed)(const char *dir, const char *dev, const char *why, void *arg),
		    void *arg)
{
	char root[XS_DIR_MAX], here[XS_DIR_MAX], ns[PATH_MAX], dir[PATH_MAX + 256], why[128];
	struct dirent *n, *d;
	DIR *rd, *nd;
	int err;

	err = xs_pin_root(ctx, root, sizeof(root));
	if (!err)
		err = xs_netns_dir(ctx, here, sizeof(here));
	if (err)
		return err;
	rd = opendir(root);
	while (rd && (n = readdir(rd))) {
		if (n->d_name[0] == '.' || n->d_type != DT_DIR)
			continue;
		snprintf(ns, sizeof(ns), "%s/%s", root, n->d_name);
		nd = opendir(ns);
		while (nd && (d = readdir(nd))) {
			if (d->d_name[0] == '.' || d->d_type != DT_DIR)
				continue;
			snprintf(dir, sizeof(dir), "%s/%s", ns, d->d_name);
			/* Other namespaces' devices cannot be looked up by
			 * name from here: only a detached link says stale. */
			if (!xs_pins_stale(dir, d->d_name, !strcmp(ns, here), why, sizeof(why)))
				continue;
			err = xs_pins_remove_all(dir);
			if (err) {
				p_err(ctx, err, "cannot remove %s: %s", dir, strerror(-err));
				break;
			}
			err = removed(dir, d->d_name, why, arg);
			if (err)
				break;
		}
		if (nd)
			closedir(nd);
		if (err)
			break;
	}
	if (rd)
		closedir(rd);
	return err;
}

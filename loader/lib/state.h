/* SPDX-License-Identifier: GPL-2.0 */
/* The pinned state of one attached interface: pin directory, lock, maps. */
#ifndef XS_STATE_H
#define XS_STATE_H

#include <limits.h>
#include <net/if.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/bpf.h>

#include "common.h"

/* Pin directories are short: root, a netns inode and an interface name. */
#define XS_DIR_MAX 128

struct xfrm_steer;

struct xs_state {
	struct xfrm_steer *skel; /* opened, not loaded: map handles only */
	struct meta_value *meta; /* mmap of the pinned meta map */
	int lock_fd; /* the pin directory, flock()ed */
	int ifindex;
	char ifname[IF_NAMESIZE];
	char dir[XS_DIR_MAX];
	/* Tunnel slots in use, read once per lock (NULL until needed), and
	 * the lowest slot that may be free. */
	uint8_t *slot_used;
	uint32_t slot_next;
	/* What refers to each slot (routes, named tunnels), read when first
	 * needed; kept by route add and del (refs_kept), dropped by every
	 * other route change. */
	uint32_t *slot_refs;
	bool refs_kept;
	/* tenant-key iif: a tenant was bound or a tunnel entry removed, so
	 * bindings nothing refers to are dropped at close (iifbind.h). */
	bool iif_dirty;
	ino_t meta_ino; /* of the pinned meta map, when cached */
	__u64 *gens; /* mmap of route_gens, made by the first route change */
	size_t gens_len;
	struct xs_state_cache *cache; /* where close() leaves the maps */
};

/* A batch keeps the last device's opened maps between its commands:
 * opening them costs an ELF parse and a syscall per map, more than a route
 * update. The lock is still taken per command; the maps are reused only
 * while the pins are the same, the slot map only while no other command
 * changed the routes (every tunnel change comes with a route change). */
struct xs_state_cache *xs_state_cache_new(void);
void xs_state_cache_free(struct xs_state_cache *c);

enum xs_lock { XS_LOCK_SHARED, XS_LOCK_EXCLUSIVE };

/* Commands on one device serialise on its pin directory: open and flock
 * dir. Returns the locked descriptor, or -errno: unreported when dir cannot
 * be opened (-ENOENT: nothing attached), reported when it cannot be locked. */
int xs_dir_lock(struct xs_ctx *ctx, const char *dir, enum xs_lock lock);

struct bpf_link;
struct bpf_program;

/* A device's links are pinned, so that they outlive the command. When the
 * pin at path holds a link of type (BPF_LINK_TYPE_TCX or _XDP) on ifindex,
 * prog replaces its program atomically: 1. Otherwise a pin there (of a
 * deleted and re-made device, or of another kind) is removed: 0, and the
 * caller attaches anew and hands the link to xs_link_pin_new. <0: reported. */
int xs_link_update_pinned(struct xs_ctx *ctx, const char *path, enum bpf_link_type type,
			  int ifindex, const struct bpf_program *prog);
/* Pin a newly made link at path and drop our handle: the pin keeps it
 * attached. On failure the link is destroyed (detached) and reported. */
int xs_link_pin_new(struct xs_ctx *ctx, struct bpf_link *link, const char *path);

/* XS_PIN_ROOT, or where it is reached from this mount namespace (under
 * `ip netns exec`: through /proc/1/root). */
int xs_pin_root(struct xs_ctx *ctx, char *buf, size_t len);
/* XS_PIN_ROOT/<netns inode>/<ifname> for the current network namespace.
 * Stale state there (see xs_pins_stale) is removed first, with a warning;
 * the _nocheck variant leaves it. */
int xs_pin_dir(struct xs_ctx *ctx, const char *ifname, char *buf, size_t len);
int xs_pin_dir_nocheck(struct xs_ctx *ctx, const char *ifname, char *buf, size_t len);
/* The per-netns directory holding one subdirectory per attached device. */
int xs_netns_dir(struct xs_ctx *ctx, char *buf, size_t len);
/* mkdir -p with mode 0700 for the parts it creates; mounts bpffs if needed. */
int xs_mkdir_pins(struct xs_ctx *ctx, const char *dir);

/* Pin every map of obj as dir/<map name>: loading then reuses the maps an
 * earlier attach pinned there (an upgrade), with the sizes they have, and
 * pins the new ones. A pinned map of another type or entry size is refused
 * with a message naming dev. The maps in fixed (NULL-terminated) are sized
 * by this build (counters by reason): a pinned one of another version's
 * size is unpinned and kept in plan, so that xs_pins_commit() adds its
 * counts to the new one once the new programs are attached, or
 * xs_pins_abort() pins it back when the upgrade fails. */
struct bpf_object;
struct bpf_map;
#define XS_PIN_GROW_MAX 2
struct xs_pin_grow {
	int old_fd;
	__u32 old_max;
	struct bpf_map *map;
	char path[PATH_MAX];
};
struct xs_pin_plan {
	struct xs_pin_grow grow[XS_PIN_GROW_MAX];
	int n;
};
int xs_set_pin_paths(struct xs_ctx *ctx, struct bpf_object *obj, const char *dir,
		     const char *dev, struct bpf_map *const *fixed, struct xs_pin_plan *plan);
/* Also removes the pins of earlier versions that this one retired. */
void xs_pins_commit(struct xs_pin_plan *plan, const char *dir);
void xs_pins_abort(struct xs_pin_plan *plan);
void xs_remove_retired_pins(const char *dir);

/* The tunnel table of versions before its seal: if_id -> (tunnel_idx,
 * tenant), pinned as XS_PIN_OLD_TUNNELS; this version's is tunnel_by_ifid
 * (include/xfrm_steer.h, struct tunnel_value). Until an attach carries it
 * over and retires it, the other commands refuse the pins, naming attach.
 * xs_old_tunnels_open() returns its fd and size, -ENOENT when there is none,
 * -EPROTO when it is not such a table. xs_old_tunnels_carry() makes new_fd
 * hold exactly its entries, sealed; the old programs still read the old
 * table meanwhile, and the caller holds the lock, so no one writes it. */
#define XS_PIN_OLD_TUNNELS "tunnels"
int xs_old_tunnels_open(const char *dir, __u32 *max_entries);
int xs_old_tunnels_carry(struct xs_ctx *ctx, int old_fd, int new_fd);

/* Lock the pin directory of ifname, then open its pinned maps. Fails with a
 * message naming the device when it is not attached. */
int xs_state_open(struct xs_ctx *ctx, const char *ifname, enum xs_lock lock,
		  struct xs_state *st);
void xs_state_close(struct xs_state *st);

/* Whether the pins in dir belong to a device that is gone: a pinned link
 * whose device was deleted (with its namespace, perhaps), or, when the
 * directory is of this namespace (here), whose ifindex is no longer the
 * one of the device named ifname. why gets the reason. */
bool xs_pins_stale(const char *dir, const char *ifname, bool here, char *why, size_t len);
/* Remove dir with everything in it, and its namespace's directory if that
 * is empty then. */
int xs_pins_remove_all(const char *dir);
/* Remove dir if it is stale, with a warning naming why: 1 when it did, 0
 * when the state is live (or absent), <0 on error. */
int xs_clean_if_stale(struct xs_ctx *ctx, const char *dir, const char *ifname);
/* xs_clean_if_stale() for every device directory of this namespace: what a
 * deleted namespace of the same inode left (an underlay's too), before an
 * attach makes this namespace's state. <0 when one could not be removed
 * (reported), after trying all of them. */
int xs_sweep_stale(struct xs_ctx *ctx);

/* Call fn for each attached device of this network namespace; stale
 * state is removed (with a warning) instead. */
int xs_for_each_attached(struct xs_ctx *ctx,
			 int (*fn)(struct xs_ctx *ctx, const char *ifname, void *data),
			 void *data);

/* After a route change: invalidate the cached decisions it may alter. The
 * route plen bits of addr (network order, IPv4 in the first 4 bytes) of
 * tenant, of family AF_INET or AF_INET6. */
void xs_route_changed(struct xs_state *st, int family, uint32_t tenant, const uint8_t *addr,
		      uint32_t plen);
/* The same when the change is not known: every cached decision goes. */
void xs_routes_changed(struct xs_state *st);

/* Tunnel slots: find or allocate the counter slot of if_id, which belongs to
 * tenant (an if_id serves one tenant). *created says whether the call made
 * it, so that a failed caller can undo it. */
int xs_tunnel_ensure(struct xs_ctx *ctx, struct xs_state *st, uint32_t if_id,
		     uint32_t tenant, uint32_t *idx, bool *created);
int xs_tunnel_remove(struct xs_state *st, uint32_t if_id);
/* Count the references to every slot: call before changing a route. */
int xs_tunnel_refs_load(struct xs_state *st);
/* A route to if_id (slot idx) was added (delta 1) or removed (delta -1)
 * since xs_tunnel_refs_load(); the last reference gone frees the slot.
 * Set st->refs_kept before xs_routes_changed() when it succeeded. */
int xs_tunnel_ref(struct xs_state *st, uint32_t if_id, uint32_t idx, int delta);

int xs_num_cpus(void);

/* ---- One plain route (lib/route_write.c) ---- */
struct route_key_any {
	union {
		struct route_key_v4 v4;
		struct route_key_v6 v6;
	};
};
/* The key of k in its family's route map; returns that map's fd. */
int xs_route_map_key(const struct xs_state *st, const struct apply_route_key *k,
		     struct route_key_any *mk);
/* Whether the key itself (not a covering route) exists, and its value. */
bool xs_route_exact(int fd, const struct route_key_any *key, struct route_value *old);
/* Route k to if_id (slot made if needed, replaced in place, the old slot
 * or group freed when nothing else refers to it). Reports errors. */
int xs_route_put(struct xs_ctx *ctx, struct xs_state *st, const struct apply_route_key *k,
		 uint32_t if_id);
/* Route k to a group of want's members (if_id, weight, dscp, flags; the
 * slots and the tenant are filled in), written copy-on-write as route add
 * ... nexthop does. Reports errors. */
int xs_route_put_group(struct xs_ctx *ctx, struct xs_state *st, const struct apply_route_key *k,
		       const struct route_group *want);
/* Remove route k (quietly: -ENOENT when there is none, else -errno). */
int xs_route_remove(struct xs_state *st, const struct apply_route_key *k);

#endif /* XS_STATE_H */

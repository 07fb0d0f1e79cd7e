/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The devices: external xfrm interfaces made and deleted, and the programs
 * attached to them, upgraded in place and detached. What every verb that
 * changes a device calls (link, attach, detach, apply); no argv here.
 * Each returns 0 or a negative errno, its cause reported with p_err().
 */
#ifndef XS_DEVICE_H
#define XS_DEVICE_H

#include "common.h"

#include "netlink.h"

/* Everything "link show" says of one interface; xs_link_info is the part
 * the other objects use (xs_link_query()). */
struct xs_link_attrs {
	struct xs_link_info info;
	char kind[32]; /* IFLA_INFO_KIND, "" for devices without one */
	uint32_t link; /* IFLA_XFRM_LINK: underlying ifindex, 0 if none */
	uint32_t mtu;
};

/* NAME a valid interface name (for create: one that may be made). */
int xs_link_check_name(struct xs_ctx *ctx, const char *name, bool create);
/* cb for the xfrm interface NAME, or with NAME NULL each xfrm interface
 * of the namespace; cb's non-zero return stops with -ENOMEM reported. */
int xs_link_list(struct xs_ctx *ctx, const char *name,
		 int (*cb)(const struct xs_link_attrs *la, void *arg), void *arg);

/* Create NAME as an external (collect_md) xfrm interface, and bring it up;
 * nothing is left behind when a step fails. */
int xs_link_create(struct xs_ctx *ctx, const char *name);
/* Delete NAME, which must be an xfrm interface. */
int xs_link_delete(struct xs_ctx *ctx, const char *name);
/* Set the device with ifindex down (what says which, for the error). */
int xs_link_set_down(struct xs_ctx *ctx, int ifindex, const char *what);

/* How to attach a device: "attach dev NAME [ tenant-key ... ] [ rpf ... ]
 * [ mark-ingress ... ] [ routes N ] [ tunnels N ]", or a file's link. */
struct attach_args {
	const char *dev;
	uint32_t tenant_mode;
	uint32_t mark_mask;
	uint32_t max_routes;
	uint32_t max_tunnels;
	uint32_t flags; /* XS_CFG_* */
	uint32_t flags_set; /* which XS_CFG_* bits were given */
	bool have_tenant, have_routes, have_tunnels;
};

/* Attach the programs to a->dev and pin its state, or upgrade an attached
 * device in place (its maps and counters kept, migrated when their layout
 * grew). Options not given keep what the device has. */
int xs_attach(struct xs_ctx *ctx, const struct attach_args *a);
/* Take the programs off dev and remove its pinned state. */
int xs_detach(struct xs_ctx *ctx, const char *dev);
/* Remove the state devices that are gone left behind, in every namespace
 * (a device or namespace deleted without detach); removed() is told of
 * each directory, with why it was stale. */
int xs_detach_stale(struct xs_ctx *ctx,
		    int (*removed)(const char *dir, const char *dev, const char *why, void *arg),
		    void *arg);

#endif /* XS_DEVICE_H */

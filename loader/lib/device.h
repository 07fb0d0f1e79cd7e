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

/* Create NAME as an external (collect_md) xfrm interface, and bring it up;
 * nothing is left behind when a step fails. */
int xs_link_create(struct xs_ctx *ctx, const char *name);
/* Delete NAME, which must be an xfrm interface. */
int xs_link_delete(struct xs_ctx *ctx, const char *name);

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

#endif /* XS_DEVICE_H */

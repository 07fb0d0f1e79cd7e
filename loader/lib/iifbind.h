/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tenant-key iif: tenants bound to their LAN interfaces by identity.
 *
 * A route that names a tenant binds it: a stamp program is attached at tcx
 * ingress of that interface, its link pinned in the xfrm device's directory,
 * and the interface's name and ifindex recorded (include/xfrm_steer.h,
 * struct iif_bind). The kernel removes the program with the interface, so
 * the binding is live exactly while the pinned link is still attached to
 * the recorded ifindex: a new interface that gets the old number has no
 * program and egress drops what it forwards (iif_unbound). A tenant is
 * spelt by its recorded name everywhere; a re-created interface of that
 * name is reported until a command that names it follows it.
 */
#ifndef XS_IIFBIND_H
#define XS_IIFBIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "config.h"
#include "state.h"

enum xs_iif_how {
	/* Where the routes of the tenant named are now (route del): the
	 * recorded ifindex of a binding of that name, whatever became of
	 * its interface. */
	XS_IIF_LOOKUP,
	/* The ifindex the tenant will have (apply --dry-run): that of the
	 * interface of that name now. Changes nothing. */
	XS_IIF_PLAN,
	/* As XS_IIF_PLAN, and make it so: a binding of that name whose
	 * interface was re-created is followed (its routes, tunnels and
	 * records move to the new ifindex), and the interface is bound. */
	XS_IIF_BIND,
};

/* The tenant key s names on st's device (attached with tenant-key iif): an
 * interface name, or the ifindex of an interface that exists (0: the
 * gateway's own traffic, never bound). On failure returns -errno with the
 * reason, one sentence naming the tenant, in why. */
int xs_iif_resolve(struct xs_state *st, const char *s, enum xs_iif_how how, uint32_t *tenant,
		   char *why, size_t len);

/* Follow the tenant name to the interface of that name when it was
 * re-created (its binding's link is defunct and the name finds another
 * ifindex): 1 when it moved, 0 when there was nothing to follow. */
int xs_iif_follow(struct xs_ctx *ctx, struct xs_state *st, const char *name);

/* Bind every tenant of an already attached device that has no binding (the
 * pins of a version without them), by the name its ifindex has now: called
 * by attach before the egress program that needs the stamp replaces the
 * old one, so that no packet is lost. Warns about tenants it cannot bind. */
int xs_iif_adopt(struct xs_ctx *ctx, const char *dir, int tunnels_fd, uint32_t stamp);

/* Unbind the tenants that no tunnel entry refers to any more. Called when
 * st is closed after a binding was made or a tunnel entry removed. */
void xs_iif_gc(struct xs_state *st);

/* Detach and unpin every binding of the device pinned in dir (detach). */
void xs_iif_unbind_all(const char *dir);

/* The one spelling of a tenant of st's device: its recorded interface
 * name, "0" for the gateway's own traffic, the number when nothing was
 * ever recorded (never the name of whatever has that ifindex now). */
const char *xs_iif_name(const struct xs_state *st, uint32_t tenant, char *buf, size_t len);
/* The one spelling of a tenant, in text, JSON, messages and files alike:
 * with tenant-key mark its mark value in hex ("0x100", "0x0"), with
 * tenant-key iif its interface's name (xs_iif_name()) and 0 for the
 * gateway's own traffic, without a tenant key 0. */
const char *xs_tenant_str(const struct xs_state *st, uint32_t tenant, char *buf, size_t len);
/* The same from a device's pin directory and tenant mode, without opening
 * its state (a monitor, which must not wait on a command's lock). */
const char *xs_tenant_str_at(const char *dir, uint32_t mode, uint32_t tenant, char *buf,
			     size_t len);

/* The tenant as show and saved files write it, in any tenant mode. */
void xs_iif_tenant_to_cfg(const struct xs_state *st, uint32_t tenant, struct xs_cfg_tenant *t);

/* One warning line for each tenant in use on st's device that is not bound
 * to a live interface (re-created, gone, never bound), naming the fix.
 * Returns how many there are: a show that lists them cannot stand behind
 * its answer and exits non-zero. 0 outside tenant-key iif. */
int xs_iif_check(struct xs_ctx *ctx, const struct xs_state *st);

/* xs_iif_check() for the device dev, or every attached device of the
 * namespace (dev NULL), each opened and locked (shared) on its own: the
 * sum, or <0 on error. The show verbs call it after their answer. */
int xs_iif_check_dev(struct xs_ctx *ctx, const char *dev);

#endif /* XS_IIFBIND_H */

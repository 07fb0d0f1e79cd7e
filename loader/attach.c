// SPDX-License-Identifier: GPL-2.0
/* xfrm-steer attach/detach: load, attach, pin and upgrade the programs. */
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
#include "parse.h"
#include "state.h"
#include "xfrm_steer.skel.h"

static int attach_help(struct xs_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	fprintf(xs_help_out(ctx),
		"Usage: xfrm-steer attach dev NAME [ tenant-key { mark MASK | iif [ stamp BIT ] | none } ]\n"
		"                         [ rpf { strict | off } ] [ mark-ingress { on | off } ]\n"
		"                         [ routes N ] [ tunnels N ]\n"
		"       xfrm-steer detach { dev NAME | stale }\n"
		"rpf strict (the default) drops a decrypted packet whose inner source is\n"
		"not routed, in the tunnel's tenant, to the tunnel it came from.\n"
		"mark-ingress on sets the mark of decrypted packets to the tenant key\n"
		"(tenant-key mark only), for policy routing per tenant.\n"
		"tenant-key iif binds each tenant to its interface with a program that\n"
		"sets the stamp BIT (default 0x80000000) in the mark of what it receives.\n"
		"Attaching an attached device upgrades its programs in place and keeps\n"
		"its routes and counters; rpf and mark-ingress may change then, map\n"
		"sizes and the tenant key are fixed at the first attach.\n"
		"State left by a device that is gone (deleted, or with its namespace)\n"
		"is never used: the next command on that device removes it, with a\n"
		"warning; \"detach stale\" removes all of it, in every namespace.\n");
	return 0;
}

static int parse_onoff(struct xs_ctx *ctx, const char *what, const char *s,
		       const char *on, const char *off, bool *val)
{
	if (!strcmp(s, on))
		*val = true;
	else if (!strcmp(s, off))
		*val = false;
	else
		return p_err(ctx, -EINVAL, "invalid %s \"%s\" (%s or %s)", what, s, on, off);
	return 0;
}

static int parse_size(struct xs_ctx *ctx, const char *what, const char *s, uint32_t *out)
{
	/* Keep well inside what an LPM trie or array may hold. */
	if (parse_u32(s, out) || *out < 1 || *out > (1u << 24))
		return p_err(ctx, -EINVAL, "invalid %s \"%s\" (1..16777216)", what, s);
	return 0;
}

int parse_attach_args(struct xs_ctx *ctx, int argc, char **argv, struct attach_args *a)
{
	int err;

	memset(a, 0, sizeof(*a));
	a->max_routes = XS_DEFAULT_ROUTES;
	a->max_tunnels = XS_DEFAULT_TUNNELS;
	a->flags = XS_CFG_RPF;
	while (argc > 0) {
		if (matches(argv[0], "dev")) {
			NEXT_ARG_VALUE(ctx);
			a->dev = argv[0];
		} else if (!strcmp(argv[0], "tenant-key")) {
			NEXT_ARG_VALUE(ctx);
			a->have_tenant = true;
			if (!strcmp(argv[0], "mark")) {
				NEXT_ARG_VALUE(ctx);
				if (parse_u32(argv[0], &a->mark_mask) || !a->mark_mask)
					return p_err(ctx, -EINVAL,
						     "invalid mark mask \"%s\" (non-zero, decimal or 0x-hex)",
						     argv[0]);
				a->tenant_mode = XS_TENANT_MARK;
			} else if (!strcmp(argv[0], "iif")) {
				a->tenant_mode = XS_TENANT_IIF;
				if (argc > 1 && !strcmp(argv[1], "stamp")) {
					NEXT_ARG();
					NEXT_ARG_VALUE(ctx);
					if (parse_u32(argv[0], &a->mark_mask) || !a->mark_mask ||
					    (a->mark_mask & (a->mark_mask - 1)))
						return p_err(ctx, -EINVAL,
							     "invalid stamp \"%s\" (one mark bit, e.g. 0x80000000)",
							     argv[0]);
				}
			} else if (!strcmp(argv[0], "none")) {
				a->tenant_mode = XS_TENANT_NONE;
			} else {
				return p_err(ctx, -EINVAL,
					     "invalid tenant-key \"%s\" (mark MASK, iif or none)",
					     argv[0]);
			}
		} else if (!strcmp(argv[0], "rpf") || !strcmp(argv[0], "mark-ingress")) {
			bool rpf = !strcmp(argv[0], "rpf"), on = false;
			uint32_t bit = rpf ? XS_CFG_RPF : XS_CFG_MARK_INGRESS;

			NEXT_ARG_VALUE(ctx);
			err = parse_onoff(ctx, rpf ? "rpf" : "mark-ingress", argv[0],
					  rpf ? "strict" : "on", "off", &on);
			if (err)
				return err;
			a->flags = on ? a->flags | bit : a->flags & ~bit;
			a->flags_set |= bit;
		} else if (!strcmp(argv[0], "routes")) {
			NEXT_ARG_VALUE(ctx);
			err = parse_size(ctx, "routes", argv[0], &a->max_routes);
			if (err)
				return err;
			a->have_routes = true;
		} else if (!strcmp(argv[0], "tunnels")) {
			NEXT_ARG_VALUE(ctx);
			err = parse_size(ctx, "tunnels", argv[0], &a->max_tunnels);
			if (err)
				return err;
			a->have_tunnels = true;
		} else {
			return p_err(ctx, -EINVAL, "attach: unknown argument \"%s\"", argv[0]);
		}
		NEXT_ARG();
	}
	if (!a->dev)
		return p_err(ctx, -EINVAL, "attach: missing \"dev NAME\"");
	if ((a->flags & XS_CFG_MARK_INGRESS) && a->have_tenant && a->tenant_mode != XS_TENANT_MARK)
		return p_err(ctx, -EINVAL, "mark-ingress needs tenant-key mark");
	return 0;
}

int do_attach(struct xs_ctx *ctx, int argc, char **argv)
{
	struct attach_args a;
	int err;

	if (argc > 0 && matches(argv[0], "help"))
		return attach_help(ctx, argc, argv);
	err = parse_attach_args(ctx, argc, argv, &a);
	return err ? err : xs_attach(ctx, &a);
}

/* detach stale: one line, or JSON object, per directory removed. */
static int stale_removed(const char *dir, const char *dev, const char *why, void *arg)
{
	json_object *arr = arg;

	if (arr) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "removed", json_object_new_string(dir));
		json_object_object_add(o, "dev", json_object_new_string(dev));
		json_object_object_add(o, "why", json_object_new_string(why));
		json_object_array_add(arr, o);
	} else {
		printf("removed %s (%s): %s\n", dir, dev, why);
	}
	return 0;
}

static int detach_stale(struct xs_ctx *ctx)
{
	json_object *arr = ctx->json ? json_object_new_array() : NULL;
	int err = xs_detach_stale(ctx, stale_removed, arr);

	if (arr) {
		if (!err)
			print_json(ctx, arr);
		json_object_put(arr);
	}
	return err;
}

int do_detach(struct xs_ctx *ctx, int argc, char **argv)
{
	const char *dev = NULL;

	while (argc > 0) {
		if (matches(argv[0], "dev")) {
			NEXT_ARG_VALUE(ctx);
			dev = argv[0];
		} else if (!strcmp(argv[0], "stale") && argc == 1 && !dev) {
			return detach_stale(ctx);
		} else if (matches(argv[0], "help")) {
			return attach_help(ctx, argc, argv);
		} else {
			return p_err(ctx, -EINVAL, "detach: unknown argument \"%s\"", argv[0]);
		}
		NEXT_ARG();
	}
	if (!dev)
		return p_err(ctx, -EINVAL, "detach: missing \"dev NAME\"");
	return xs_detach(ctx, dev);
}

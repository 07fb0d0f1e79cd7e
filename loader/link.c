// SPDX-License-Identifier: GPL-2.0
/* The "link" object: external (collect_md) xfrm interfaces (lib/device.c). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "device.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static int add_record(const struct xs_link_attrs *la, void *data)
{
	json_object *arr = data;
	json_object *o = json_object_new_object();

	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "ifname",
			       json_object_new_string(la->info.ifname));
	json_object_object_add(o, "ifindex",
			       json_object_new_int(la->info.ifindex));
	json_object_object_add(o, "external",
			       json_object_new_boolean(la->info.external));
	json_object_object_add(o, "if_id",
			       json_object_new_int64(la->info.if_id));
	json_object_object_add(o, "link", json_object_new_int64(la->link));
	json_object_object_add(o, "up", json_object_new_boolean(la->info.up));
	json_object_object_add(o, "mtu", json_object_new_int64(la->mtu));
	if (json_object_array_add(arr, o)) {
		json_object_put(o);
		return -ENOMEM;
	}
	return 0;
}

static int do_show(struct xs_ctx *ctx, int argc, char **argv)
{
	static const struct xs_column cols[] = {
		{ .key = "ifname", .title = "IFNAME" },
		{ .key = "ifindex", .title = "IFINDEX", .right = true },
		{ .key = "external", .title = "EXTERNAL" },
		{ .key = "if_id", .title = "IF_ID", .right = true },
		{ .key = "link", .title = "LINK", .right = true },
		{ .key = "up", .title = "UP" },
		{ .key = "mtu", .title = "MTU", .right = true },
	};
	json_object *arr;
	int err;

	if (argc > 1)
		return p_err(ctx, -EINVAL, "unknown argument \"%s\"", argv[1]);
	arr = json_object_new_array();
	if (!arr)
		return p_err(ctx, -ENOMEM, "out of memory");
	err = xs_link_list(ctx, argc == 1 ? argv[0] : NULL, add_record, arr);
	if (!err)
		show_records(ctx, arr, cols, ARRAY_SIZE(cols));
	json_object_put(arr);
	return err;
}

static int do_add(struct xs_ctx *ctx, int argc, char **argv)
{
	if (argc < 1)
		return p_err(ctx, -EINVAL, "link add needs an interface NAME");
	if (argc > 1)
		return p_err(ctx, -EINVAL, "unknown argument \"%s\"", argv[1]);
	return xs_link_create(ctx, argv[0]);
}

static int do_del(struct xs_ctx *ctx, int argc, char **argv)
{
	if (argc < 1)
		return p_err(ctx, -EINVAL, "link del needs an interface NAME");
	if (argc > 1)
		return p_err(ctx, -EINVAL, "unknown argument \"%s\"", argv[1]);
	return xs_link_delete(ctx, argv[0]);
}

static int do_help(struct xs_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	fprintf(xs_help_out(ctx), "Usage: xfrm-steer link { show | list } [ NAME ]\n"
			"       xfrm-steer link add NAME\n"
			"       xfrm-steer link del NAME\n");
	return 0;
}

int do_link(struct xs_ctx *ctx, int argc, char **argv)
{
	static const struct xs_cmd cmds[] = {
		{ "show", do_show },   { "list", do_show },
		{ "add", do_add },     { "delete", do_del },
		{ "help", do_help },   { NULL, NULL },
	};

	return xs_cmd_select(ctx, cmds, argc, argv, do_help);
}

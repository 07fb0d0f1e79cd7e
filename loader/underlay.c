// SPDX-License-Identifier: GPL-2.0
/* xfrm-steer underlay: the XDP program on the device ESP arrives on, its
 * per-SPI counters and its copy of the SA list (lib/underlay.c does the
 * work; these verbs parse and print). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "underlay.h"

static int ul_help(struct xs_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	fprintf(xs_help_out(ctx),
		"Usage: xfrm-steer underlay attach dev NAME [ drop-unknown ]\n"
		"                                  [ sa-lookup { auto | map } ] [ "
		"event-interval MS ]\n"
		"       xfrm-steer underlay detach dev NAME\n"
		"       xfrm-steer underlay sync [ dev NAME ]\n"
		"       xfrm-steer underlay show [ dev NAME ]\n"
		"       xfrm-steer underlay stats [ dev NAME ]\n"
		"An XDP program on the device ESP arrives on counts ESP (and ESP in UDP\n"
		"to port 4500) per destination and SPI before decryption, and reports\n"
		"SPIs without an SA as events (xfrm-steer monitor), at most one per\n"
		"peer per event-interval (default 1000 ms). drop-unknown drops them "
		"too.\n"
		"sa-lookup auto asks the kernel (bpf_xdp_get_xfrm_state, 6.8+) where it\n"
		"can; map uses the SA list copied at attach and at \"underlay sync\".\n"
		"Each attach states the whole configuration; on an attached device it\n"
		"replaces the program and keeps the counters.\n");
	return 0;
}

static int parse_ul_attach(struct xs_ctx *ctx, int argc, char **argv, struct xs_ul_attach_args *a)
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
					     "invalid event-interval \"%s\" (0..3600000 ms)",
					     argv[0]);
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

static int do_ul_attach(struct xs_ctx *ctx, int argc, char **argv)
{
	struct xs_ul_attach_args a;
	struct xs_ul_attached done;
	int err;

	if (argc > 0 && matches(argv[0], "help"))
		return ul_help(ctx, argc, argv);
	err = parse_ul_attach(ctx, argc, argv, &a);
	if (!err)
		err = xs_ul_attach(ctx, &a, &done);
	if (!err && ctx->verbose)
		p_info(ctx, "%s %s: SA lookup by %s, %zu SAs listed, state in %s",
		       done.fresh ? "attached" : "upgraded", a.dev, done.kfunc ? "kfunc" : "map",
		       done.nsas, done.dir);
	return err;
}

static int do_ul_detach(struct xs_ctx *ctx, int argc, char **argv)
{
	const char *dev;
	int err;

	if (argc > 0 && matches(argv[0], "help"))
		return ul_help(ctx, argc, argv);
	err = parse_dev_only(ctx, "detach", argc, argv, &dev);
	if (err)
		return err;
	if (!dev)
		return p_err(ctx, -EINVAL, "underlay detach: missing \"dev NAME\"");
	return xs_ul_detach(ctx, dev);
}

static int do_ul_sync(struct xs_ctx *ctx, int argc, char **argv)
{
	const char *dev;
	int err;

	if (argc > 0 && matches(argv[0], "help"))
		return ul_help(ctx, argc, argv);
	err = parse_dev_only(ctx, "sync", argc, argv, &dev);
	return err ? err : xs_ul_sync(ctx, dev);
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
	struct xs_ul_spi_row *rows = NULL;
	json_object *arr;
	const char *dev;
	size_t i, n = 0;
	int err;

	if (argc > 0 && matches(argv[0], "help"))
		return ul_help(ctx, argc, argv);
	err = parse_dev_only(ctx, "show", argc, argv, &dev);
	if (!err)
		err = xs_ul_spis_read(ctx, dev, &rows, &n);
	if (err)
		return err;
	arr = json_object_new_array();
	for (i = 0; i < n; i++) {
		const struct xs_ul_spi_row *r = &rows[i];
		json_object *o = json_object_new_object();
		char a[INET6_ADDRSTRLEN], spi[16];

		snprintf(spi, sizeof(spi), "0x%08x", ntohl(r->key.spi));
		json_object_object_add(o, "dev", json_object_new_string(r->dev));
		json_object_object_add(o, "daddr",
				       json_object_new_string(format_addr(
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
	free(rows);
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
	struct xs_ul_dev_stats *v = NULL;
	json_object *arr;
	const char *dev;
	size_t i, n = 0;
	unsigned int r;
	int err;

	if (argc > 0 && matches(argv[0], "help"))
		return ul_help(ctx, argc, argv);
	err = parse_dev_only(ctx, "stats", argc, argv, &dev);
	if (!err)
		err = xs_ul_stats_read(ctx, dev, &v, &n);
	if (err)
		return err;
	arr = json_object_new_array();
	for (i = 0; i < n; i++) {
		const struct xs_ul_dev_stats *s = &v[i];
		json_object *o = json_object_new_object();

		json_object_object_add(o, "dev", json_object_new_string(s->dev));
		json_object_object_add(o, "xdp", json_object_new_string(s->xdp_mode));
		json_object_object_add(o, "unknown_action",
				       json_object_new_string(s->flags & XS_UL_CFG_DROP_UNKNOWN
								      ? "drop"
								      : "pass"));
		json_object_object_add(
			o, "sa_lookup",
			json_object_new_string(s->lookup == XS_UL_LOOKUP_KFUNC ? "kfunc" : "map"));
		json_object_object_add(o, "known_spis", json_object_new_uint64(s->known_spis));
		json_object_object_add(o, "event_interval_ms",
				       json_object_new_uint64(s->event_interval_ms));
		for (r = 0; r < XS_UL_REASON_MAX; r++)
			json_object_object_add(o, xs_ul_reason_name(r),
					       json_object_new_uint64(s->reasons[r]));
		json_object_array_add(arr, o);
	}
	show_records(ctx, arr, cols, sizeof(cols) / sizeof(cols[0]));
	json_object_put(arr);
	free(v);
	return 0;
}

int do_underlay(struct xs_ctx *ctx, int argc, char **argv)
{
	static const struct xs_cmd cmds[] = {
		{ "show", do_ul_show }, { "attach", do_ul_attach }, { "detach", do_ul_detach },
		{ "sync", do_ul_sync }, { "stats", do_ul_stats },   { "help", ul_help },
		{ NULL, NULL },
	};

	return xs_cmd_select(ctx, cmds, argc, argv, ul_help);
}

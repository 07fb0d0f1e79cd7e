// SPDX-License-Identifier: GPL-2.0
/* xfrm-steer stats: per-tunnel counters and drop reasons. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "parse.h"
#include "state.h"
#include "xfrm_steer.skel.h"

/* Names of enum xs_reason, as printed and as JSON values. */
static const char *const reason_names[XS_REASON_MAX] = {
	[XS_DROP_NO_ROUTE] = "no_route",
	[XS_DROP_PARSE] = "parse_error",
	[XS_DROP_NOT_IP] = "not_ip",
	[XS_DROP_KFUNC] = "kfunc_failed",
	[XS_DROP_NO_XFRM_INFO] = "no_xfrm_info",
	[XS_NOTE_RX_UNTRACKED] = "rx_untracked",
	[XS_NOTE_NO_SECPATH] = "rx_no_secpath",
	[XS_DROP_V6_LINK] = "v6_link_local",
	[XS_DROP_RPF] = "rpf",
	[XS_DROP_RX_PARSE] = "rx_parse_error",
};

/* Reasons that count packets passed on, not dropped. */
static bool reason_is_note(uint32_t r)
{
	return r == XS_NOTE_RX_UNTRACKED || r == XS_NOTE_NO_SECPATH;
}

static int stats_help(struct xs_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	fprintf(stderr,
		"Usage: xfrm-steer stats [ show ] [ dev NAME ] [ if_id ID ]\n"
		"       xfrm-steer stats drops [ dev NAME ]\n"
		"Counters are packets and bytes at L3 (the inner packet), per tunnel\n"
		"(if_id) and direction; \"drops\" lists the reasons for dropped packets.\n");
	return 0;
}

static void sum_stats(const struct tunnel_stats *per_cpu, int ncpu, struct tunnel_stats *sum)
{
	int c;

	memset(sum, 0, sizeof(*sum));
	for (c = 0; c < ncpu; c++) {
		sum->tx_packets += per_cpu[c].tx_packets;
		sum->tx_bytes += per_cpu[c].tx_bytes;
		sum->rx_packets += per_cpu[c].rx_packets;
		sum->rx_bytes += per_cpu[c].rx_bytes;
		sum->tx_dropped += per_cpu[c].tx_dropped;
		sum->rx_dropped += per_cpu[c].rx_dropped;
	}
}

static void add_u64(json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_uint64(v));
}

static int tunnels_dev(struct xs_ctx *ctx, const char *ifname, void *data)
{
	struct stats_filter *f = data;
	int ncpu = xs_num_cpus();
	struct tunnel_stats *pc, sum;
	struct tunnel_value tv;
	struct xs_state st;
	uint32_t key, *prev = NULL;
	int tfd, sfd, err;

	err = xs_state_open(ctx, ifname, XS_LOCK_SHARED, &st);
	if (err)
		return err;
	pc = calloc((size_t)ncpu, sizeof(*pc));
	if (!pc) {
		xs_state_close(&st);
		return p_err(ctx, -ENOMEM, "out of memory");
	}
	tfd = bpf_map__fd(st.skel->maps.tunnels);
	sfd = bpf_map__fd(st.skel->maps.tunnel_stats);
	while (!bpf_map_get_next_key(tfd, prev, &key)) {
		json_object *o;

		prev = &key;
		if (f->have_if_id && key != f->if_id)
			continue;
		if (bpf_map_lookup_elem(tfd, &key, &tv) ||
		    bpf_map_lookup_elem(sfd, &tv.tunnel_idx, pc))
			continue;
		sum_stats(pc, ncpu, &sum);
		o = json_object_new_object();
		json_object_object_add(o, "dev", json_object_new_string(ifname));
		add_u64(o, "if_id", key);
		add_u64(o, "tx_packets", sum.tx_packets);
		add_u64(o, "tx_bytes", sum.tx_bytes);
		add_u64(o, "rx_packets", sum.rx_packets);
		add_u64(o, "rx_bytes", sum.rx_bytes);
		add_u64(o, "tx_dropped", sum.tx_dropped);
		add_u64(o, "rx_dropped", sum.rx_dropped);
		json_object_array_add(f->arr, o);
	}
	free(pc);
	xs_state_close(&st);
	return 0;
}

static int drops_dev(struct xs_ctx *ctx, const char *ifname, void *data)
{
	struct stats_filter *f = data;
	int ncpu = xs_num_cpus();
	struct xs_state st;
	uint64_t *pc;
	uint32_t r;
	int err, fd;

	err = xs_state_open(ctx, ifname, XS_LOCK_SHARED, &st);
	if (err)
		return err;
	pc = calloc((size_t)ncpu, sizeof(*pc));
	if (!pc) {
		xs_state_close(&st);
		return p_err(ctx, -ENOMEM, "out of memory");
	}
	fd = bpf_map__fd(st.skel->maps.drop_stats);
	for (r = 0; r < XS_REASON_MAX; r++) {
		json_object *o;
		uint64_t sum = 0;
		int c;

		if (bpf_map_lookup_elem(fd, &r, pc))
			continue;
		for (c = 0; c < ncpu; c++)
			sum += pc[c];
		o = json_object_new_object();
		json_object_object_add(o, "dev", json_object_new_string(ifname));
		json_object_object_add(o, "reason", json_object_new_string(reason_names[r]));
		json_object_object_add(o, "dropped",
				       json_object_new_boolean(!reason_is_note(r)));
		add_u64(o, "packets", sum);
		json_object_array_add(f->arr, o);
	}
	free(pc);
	xs_state_close(&st);
	return 0;
}

int parse_stats_filter(struct xs_ctx *ctx, int argc, char **argv, bool allow_if_id,
		       const char **dev, struct stats_filter *f)
{
	*dev = NULL;
	while (argc > 0) {
		if (matches(argv[0], "dev")) {
			NEXT_ARG_VALUE(ctx);
			*dev = argv[0];
		} else if (allow_if_id && !strcmp(argv[0], "if_id")) {
			NEXT_ARG_VALUE(ctx);
			if (parse_u32(argv[0], &f->if_id))
				return p_err(ctx, -EINVAL, "invalid if_id \"%s\"", argv[0]);
			f->have_if_id = true;
		} else {
			return p_err(ctx, -EINVAL, "stats: unknown argument \"%s\"", argv[0]);
		}
		NEXT_ARG();
	}
	return 0;
}

static int stats_drops(struct xs_ctx *ctx, int argc, char **argv)
{
	static const struct xs_column cols[] = {
		{ "dev", "dev", false, false },
		{ "reason", "reason", false, false },
		{ "packets", "packets", true, true },
	};
	struct stats_filter f = { 0 };
	const char *dev;
	int err;

	err = parse_stats_filter(ctx, argc, argv, false, &dev, &f);
	if (err)
		return err;
	f.arr = json_object_new_array();
	err = dev ? drops_dev(ctx, dev, &f) : xs_for_each_attached(ctx, drops_dev, &f);
	if (!err)
		show_records(ctx, f.arr, cols, sizeof(cols) / sizeof(cols[0]));
	json_object_put(f.arr);
	return err;
}

/* Rows in a stable order: by device, then if_id. */
static int cmp_tunnel(const void *a, const void *b)
{
	json_object *const *x = a, *const *y = b;
	json_object *dx, *dy, *ix, *iy;
	uint64_t u, v;
	int c;

	json_object_object_get_ex(*x, "dev", &dx);
	json_object_object_get_ex(*y, "dev", &dy);
	c = strcmp(json_object_get_string(dx), json_object_get_string(dy));
	if (c)
		return c;
	json_object_object_get_ex(*x, "if_id", &ix);
	json_object_object_get_ex(*y, "if_id", &iy);
	u = json_object_get_uint64(ix);
	v = json_object_get_uint64(iy);
	return u < v ? -1 : u > v;
}

static int stats_show(struct xs_ctx *ctx, int argc, char **argv)
{
	static const struct xs_column cols[] = {
		{ "dev", "dev", false, false },
		{ "if_id", "if_id", true, false },
		{ "tx_packets", "tx_packets", true, true },
		{ "tx_bytes", "tx_bytes", true, true },
		{ "rx_packets", "rx_packets", true, true },
		{ "rx_bytes", "rx_bytes", true, true },
		{ "tx_dropped", "tx_dropped", true, true },
	};
	struct stats_filter f = { 0 };
	const char *dev;
	int err;

	err = parse_stats_filter(ctx, argc, argv, true, &dev, &f);
	if (err)
		return err;
	f.arr = json_object_new_array();
	err = dev ? tunnels_dev(ctx, dev, &f) : xs_for_each_attached(ctx, tunnels_dev, &f);
	if (!err) {
		json_object_array_sort(f.arr, cmp_tunnel);
		show_records(ctx, f.arr, cols, sizeof(cols) / sizeof(cols[0]));
	}
	json_object_put(f.arr);
	if (!err && !ctx->json && !f.have_if_id) {
		/* The text view ends with the drop reasons that occurred. */
		struct stats_filter d = { 0 };
		size_t i, n;

		d.arr = json_object_new_array();
		err = dev ? drops_dev(ctx, dev, &d) : xs_for_each_attached(ctx, drops_dev, &d);
		n = json_object_array_length(d.arr);
		for (i = 0; !err && i < n; i++) {
			json_object *o = json_object_array_get_idx(d.arr, i), *v, *r, *dv;

			json_object_object_get_ex(o, "packets", &v);
			json_object_object_get_ex(o, "reason", &r);
			json_object_object_get_ex(o, "dev", &dv);
			if (json_object_get_uint64(v))
				printf("%s %s: %llu\n", json_object_get_string(dv),
				       json_object_get_string(r),
				       (unsigned long long)json_object_get_uint64(v));
		}
		json_object_put(d.arr);
	}
	return err;
}

int do_stats(struct xs_ctx *ctx, int argc, char **argv)
{
	static const struct xs_cmd cmds[] = {
		{ "show", stats_show }, { "list", stats_show }, { "drops", stats_drops },
		{ "help", stats_help }, { NULL, NULL },
	};

	/* "stats dev X" and "stats if_id N" without a verb mean "show". */
	if (argc > 0 && (matches(argv[0], "dev") || !strcmp(argv[0], "if_id")))
		return stats_show(ctx, argc, argv);
	return xs_cmd_select(ctx, cmds, argc, argv, stats_help);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * xfrm-steer secpath: what the ingress program learnt per (SPI, if_id) from
 * the SAs that decrypted packets, next to the kernel's SA list. A record
 * outlives its SA (the map is an LRU, nothing deletes from it), so each is
 * marked present or stale: stale ones show a peer still sending, or having
 * sent, under an SPI the kernel no longer has.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "metrics.h"
#include "parse.h"
#include "state.h"
#include "xfrm.h"
#include "xfrm_steer.skel.h"

/* Per-CPU values come in 8-byte aligned strides, one per possible CPU. */
#define PCPU_STRIDE(size) (((size_t)(size) + 7) & ~(size_t)7)
/* One batched read: a few MiB whatever the number of CPUs, and never
 * fewer entries than a hash bucket is ever likely to hold. */
#define BATCH_BYTES (4u << 20)
#define BATCH_MIN 256u

struct sp_rec {
	char dev[16]; /* IFNAMSIZ */
	uint32_t spi; /* host order */
	uint32_t if_id;
	uint32_t reqid;
	uint16_t family;
	uint8_t peer[16]; /* network order; IPv4 in the first 4 bytes */
	uint64_t packets, bytes;
	uint64_t last_seen_ns; /* CLOCK_MONOTONIC; 0: never */
	bool present; /* an SA with this SPI and peer exists */
};

struct sp_list {
	struct sp_rec *v;
	size_t n, cap;
	const struct stats_filter *f;
};

/* SAs as far as the join needs them. */
struct sa_key {
	uint32_t spi;
	uint16_t family;
	uint8_t src[16];
};

struct sa_list {
	struct sa_key *v;
	size_t n, cap;
};

static int secpath_help(struct xs_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	fprintf(xs_help_out(ctx),
		"Usage: xfrm-steer secpath [ show ] [ dev NAME ] [ if_id ID ]\n"
		"The SAs that decrypted the packets each device received, per SPI and\n"
		"if_id, as the ingress program saw them: packets, bytes (inner, L3) and\n"
		"when the last one came. \"sa\" is stale when the kernel no longer has\n"
		"an SA with that SPI and peer.\n");
	return 0;
}

int parse_secpath_args(struct xs_ctx *ctx, int argc, char **argv, const char **dev,
		       struct stats_filter *f)
{
	*dev = NULL;
	while (argc > 0) {
		if (matches(argv[0], "dev")) {
			NEXT_ARG_VALUE(ctx);
			*dev = argv[0];
		} else if (!strcmp(argv[0], "if_id")) {
			NEXT_ARG_VALUE(ctx);
			if (parse_u32(argv[0], &f->if_id))
				return p_err(ctx, -EINVAL, "invalid if_id \"%s\"", argv[0]);
			f->have_if_id = true;
		} else {
			return p_err(ctx, -EINVAL, "secpath: unknown argument \"%s\"", argv[0]);
		}
		NEXT_ARG();
	}
	return 0;
}

static int add_rec(struct sp_list *l, const char *dev, const struct secpath_key *k,
		   const char *vals, size_t stride, int ncpu)
{
	struct secpath_value v;
	struct sp_rec *r;
	int c;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct sp_rec *nv = realloc(l->v, cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		l->v = nv;
		l->cap = cap;
	}
	r = &l->v[l->n++];
	memset(r, 0, sizeof(*r));
	snprintf(r->dev, sizeof(r->dev), "%s", dev);
	r->spi = ntohl(k->spi);
	r->if_id = k->if_id;
	for (c = 0; c < ncpu; c++) {
		memcpy(&v, vals + (size_t)c * stride, sizeof(v));
		r->packets += v.packets;
		r->bytes += v.bytes;
		if (v.last_seen_ns > r->last_seen_ns)
			r->last_seen_ns = v.last_seen_ns;
		/* The SA's identity is written on the CPU that created the
		 * entry; the others start from zeros and only count. */
		if (!r->family && v.family) {
			r->family = v.family;
			r->reqid = v.reqid;
			memcpy(r->peer, v.peer, sizeof(r->peer));
		}
	}
	return 0;
}

static int read_dev(struct xs_ctx *ctx, const char *ifname, void *data)
{
	struct sp_list *l = data;
	int ncpu = xs_num_cpus();
	size_t stride = PCPU_STRIDE(sizeof(struct secpath_value)), elem = stride * (size_t)ncpu;
	struct secpath_key *keys = NULL;
	uint32_t chunk, max, batch = 0, i;
	struct xs_state st;
	bool first = true;
	char *vals = NULL;
	int fd, err;

	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	err = xs_state_open(ctx, ifname, XS_LOCK_SHARED, &st);
	if (err)
		return err;
	fd = bpf_map__fd(st.skel->maps.secpath);
	max = bpf_map__max_entries(st.skel->maps.secpath);
	chunk = BATCH_BYTES / elem;
	if (chunk < BATCH_MIN)
		chunk = BATCH_MIN;
	if (chunk > max)
		chunk = max;
	for (;;) {
		__u32 count = chunk;

		if (!keys) {
			keys = malloc(chunk * sizeof(*keys));
			vals = malloc(chunk * elem);
			if (!keys || !vals) {
				err = p_err(ctx, -ENOMEM, "out of memory");
				break;
			}
		}
		err = bpf_map_lookup_batch(fd, first ? NULL : &batch, &batch, keys, vals, &count,
					   &opts);
		if (err == -ENOSPC && !count) {
			/* A hash bucket holds more entries than the buffer:
			 * retry that bucket (the token points to it) with a
			 * larger one. */
			first = false;
			chunk *= 2;
			free(keys);
			free(vals);
			keys = NULL;
			vals = NULL;
			continue;
		}
		first = false;
		for (i = 0; i < count; i++) {
			if (l->f->have_if_id && keys[i].if_id != l->f->if_id)
				continue;
			if (add_rec(l, ifname, &keys[i], vals + (size_t)i * elem, stride, ncpu)) {
				err = p_err(ctx, -ENOMEM, "out of memory");
				goto out;
			}
		}
		if (err == -ENOENT) {
			err = 0;
			break;
		}
		if (err) {
			err = p_err(ctx, err, "cannot read the secpath map of \"%s\": %s", ifname,
				    strerror(-err));
			break;
		}
	}
out:
	free(keys);
	free(vals);
	xs_state_close(&st);
	return err;
}

static int read_each(struct xs_ctx *ctx, const char *ifname, void *data)
{
	return xs_stats_attached(ctx, ifname) ? read_dev(ctx, ifname, data) : 0;
}

static int collect_sa(const struct xs_sa *sa, void *data)
{
	struct sa_list *l = data;
	struct sa_key *k;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct sa_key *nv = realloc(l->v, cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		l->v = nv;
		l->cap = cap;
	}
	k = &l->v[l->n++];
	memset(k, 0, sizeof(*k));
	k->spi = sa->spi;
	k->family = (uint16_t)sa->src.family;
	memcpy(k->src, sa->src.addr, sizeof(k->src));
	return 0;
}

static int cmp_sa(const void *a, const void *b)
{
	const struct sa_key *x = a, *y = b;

	return x->spi < y->spi ? -1 : x->spi > y->spi;
}

/* An inbound SA is (dst = us, spi); its src is the peer the record holds.
 * SAs sorted by SPI, so thousands of records against thousands of SAs
 * stay cheap. */
static void mark_present(struct sp_list *l, struct sa_list *sas)
{
	size_t i, lo, hi, mid, j;

	if (sas->n > 1)
		qsort(sas->v, sas->n, sizeof(*sas->v), cmp_sa);
	for (i = 0; i < l->n; i++) {
		struct sp_rec *r = &l->v[i];
		size_t alen = r->family == AF_INET ? 4 : 16;

		/* The first SA with this SPI. */
		lo = 0;
		hi = sas->n;
		while (lo < hi) {
			mid = lo + (hi - lo) / 2;
			if (sas->v[mid].spi < r->spi)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (j = lo; j < sas->n && sas->v[j].spi == r->spi && !r->present; j++)
			r->present = sas->v[j].family == r->family &&
				     !memcmp(sas->v[j].src, r->peer, alen);
	}
}

static int cmp_rec(const void *a, const void *b)
{
	const struct sp_rec *x = a, *y = b;
	int c = strcmp(x->dev, y->dev);

	if (c)
		return c;
	if (x->if_id != y->if_id)
		return x->if_id < y->if_id ? -1 : 1;
	return x->spi < y->spi ? -1 : x->spi > y->spi;
}

/* "1.25" seconds: a JSON number with three decimals, not json-c's 17
 * significant digits. */
static json_object *seconds_json(double s)
{
	char buf[48];

	snprintf(buf, sizeof(buf), "%.3f", s);
	return json_object_new_double_s(s, buf);
}

static json_object *rec_json(struct xs_ctx *ctx, const struct sp_rec *r, uint64_t now)
{
	json_object *o = json_object_new_object();
	char buf[INET6_ADDRSTRLEN + 8];

	json_object_object_add(o, "dev", json_object_new_string(r->dev));
	snprintf(buf, sizeof(buf), "0x%08x", r->spi);
	json_object_object_add(o, "spi", json_object_new_string(buf));
	json_object_object_add(o, "if_id", json_object_new_uint64(r->if_id));
	json_object_object_add(o, "reqid", json_object_new_uint64(r->reqid));
	json_object_object_add(o, "family", json_object_new_string(r->family == AF_INET ? "inet" :
								    r->family == AF_INET6 ? "inet6" :
								    "unknown"));
	if (r->family == AF_INET || r->family == AF_INET6)
		json_object_object_add(o, "peer", json_object_new_string(format_addr(
								 r->family, r->peer, buf,
								 sizeof(buf))));
	else
		json_object_object_add(o, "peer", NULL);
	json_object_object_add(o, "packets", json_object_new_uint64(r->packets));
	json_object_object_add(o, "bytes", json_object_new_uint64(r->bytes));
	if (!r->last_seen_ns) {
		json_object_object_add(o, "last_seen", NULL);
	} else {
		/* bpf_ktime_get_ns() is CLOCK_MONOTONIC. */
		double ago = now > r->last_seen_ns ? (double)(now - r->last_seen_ns) / 1e9 : 0;

		if (ctx->json) {
			json_object_object_add(o, "last_seen", seconds_json(ago));
		} else {
			snprintf(buf, sizeof(buf), "%.1fs", ago);
			json_object_object_add(o, "last_seen", json_object_new_string(buf));
		}
	}
	json_object_object_add(o, "sa", json_object_new_string(r->present ? "present" : "stale"));
	return o;
}

static int secpath_show(struct xs_ctx *ctx, int argc, char **argv)
{
	static const struct xs_column cols[] = {
		{ "dev", "dev", false, false },
		{ "spi", "spi", false, false },
		{ "if_id", "if_id", true, false },
		{ "reqid", "reqid", true, false },
		{ "family", "family", false, false },
		{ "peer", "peer", false, false },
		{ "packets", "packets", true, true },
		{ "bytes", "bytes", true, true },
		{ "last_seen", "last_seen", true, false },
		{ "sa", "sa", false, false },
	};
	struct stats_filter f = { 0 };
	struct sp_list l = { .f = &f };
	struct sa_list sas = { 0 };
	struct timespec ts;
	json_object *arr;
	const char *dev;
	struct xs_nl nl;
	uint64_t now;
	size_t i;
	int err;

	err = parse_secpath_args(ctx, argc, argv, &dev, &f);
	if (err)
		return err;
	err = dev ? read_dev(ctx, dev, &l) : xs_for_each_attached(ctx, read_each, &l);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	if (!err && l.n) {
		err = xs_nl_open(ctx, &nl, NETLINK_XFRM);
		if (!err) {
			err = xs_sa_dump(ctx, &nl, collect_sa, &sas);
			if (err == -ENOMEM)
				p_err(ctx, err, "out of memory");
			xs_nl_close(&nl);
		}
	}
	if (!err) {
		mark_present(&l, &sas);
		if (l.n > 1)
			qsort(l.v, l.n, sizeof(*l.v), cmp_rec);
		arr = json_object_new_array();
		for (i = 0; i < l.n; i++)
			json_object_array_add(arr, rec_json(ctx, &l.v[i], now));
		show_records(ctx, arr, cols, sizeof(cols) / sizeof(cols[0]));
		json_object_put(arr);
	}
	free(sas.v);
	free(l.v);
	return err;
}

int do_secpath(struct xs_ctx *ctx, int argc, char **argv)
{
	static const struct xs_cmd cmds[] = {
		{ "show", secpath_show }, { "list", secpath_show }, { "help", secpath_help },
		{ NULL, NULL },
	};

	/* "secpath dev X" without a verb means "show". */
	if (argc > 0 && (matches(argv[0], "dev") || !strcmp(argv[0], "if_id")))
		return secpath_show(ctx, argc, argv);
	return xs_cmd_select(ctx, cmds, argc, argv, secpath_help);
}

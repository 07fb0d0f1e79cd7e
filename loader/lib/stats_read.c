// SPDX-License-Identifier: GPL-2.0
/* Counters read from the pinned maps of the attached devices: per tunnel,
 * per device and per drop reason, with batched per-CPU reads (metrics.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "metrics.h"
#include "parse.h"
#include "state.h"
#include "xfrm_steer.skel.h"

/* The kernel copies per-CPU values in 8-byte aligned strides, one per
 * possible CPU. */
#define PCPU_STRIDE(size) (((size_t)(size) + 7) & ~(size_t)7)
/* Buffer of one batched read of a per-CPU map. 4 MiB holds 43,690 tunnels'
 * counters on 2 CPUs (100,000 tunnels in 3 calls) and keeps the memory
 * bounded on machines with hundreds of CPUs. */
#define PCPU_BATCH_BYTES (4u << 20)

/* Called with the per-CPU values of each slot a batched read returns. */
typedef void (*pcpu_fn)(void *data, uint32_t key, const void *vals, size_t stride,
			int ncpu);

/*
 * Read slots lo..hi of a per-CPU array with bpf_map_lookup_batch(): a few
 * calls instead of one syscall per slot. For arrays the batch token is the
 * key after which the next call starts.
 */
static int pcpu_array_read(int fd, uint32_t lo, uint32_t hi, size_t value_size,
			   pcpu_fn fn, void *data)
{
	int ncpu = xs_num_cpus();
	size_t stride = PCPU_STRIDE(value_size), elem = stride * (size_t)ncpu;
	uint64_t span = (uint64_t)hi - lo + 1, chunk = PCPU_BATCH_BYTES / elem;
	uint32_t *keys, next = lo, in, out, i;
	char *vals;
	int err = 0;

	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	if (!chunk)
		chunk = 1;
	if (chunk > span)
		chunk = span;
	keys = malloc(chunk * sizeof(*keys));
	vals = malloc(chunk * elem);
	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	for (;;) {
		__u32 count = (uint64_t)hi - next + 1 < chunk ? hi - next + 1 : (__u32)chunk;

		in = next - 1;
		err = bpf_map_lookup_batch(fd, next ? &in : NULL, &out, keys, vals, &count,
					   &opts);
		if (err && err != -ENOENT)
			goto out;
		for (i = 0; i < count; i++)
			if (keys[i] >= lo && keys[i] <= hi)
				fn(data, keys[i], vals + i * elem, stride, ncpu);
		/* ENOENT: the array ended before hi. */
		if (err || !count || out >= hi) {
			err = 0;
			break;
		}
		next = out + 1;
	}
out:
	free(keys);
	free(vals);
	return err;
}

struct counter_sums {
	uint32_t lo;
	struct tunnel_stats *sum; /* indexed by slot - lo */
};

static void sum_tunnel(void *data, uint32_t key, const void *vals, size_t stride, int ncpu)
{
	struct counter_sums *cs = data;
	struct tunnel_stats *s = &cs->sum[key - cs->lo], pc;
	int c;

	for (c = 0; c < ncpu; c++) {
		memcpy(&pc, (const char *)vals + (size_t)c * stride, sizeof(pc));
		s->tx_packets += pc.tx_packets;
		s->tx_bytes += pc.tx_bytes;
		s->rx_packets += pc.rx_packets;
		s->rx_bytes += pc.rx_bytes;
		s->tx_dropped += pc.tx_dropped;
		s->rx_dropped += pc.rx_dropped;
	}
}

static void sum_reason(void *data, uint32_t key, const void *vals, size_t stride, int ncpu)
{
	uint64_t *reasons = data, v;
	int c;

	if (key >= XS_REASON_MAX)
		return;
	for (c = 0; c < ncpu; c++) {
		memcpy(&v, (const char *)vals + (size_t)c * stride, sizeof(v));
		reasons[key] += v;
	}
}

int xs_stats_cmp_row(const void *a, const void *b)
{
	const struct xs_tunnel_row *x = a, *y = b;

	return x->if_id < y->if_id ? -1 : x->if_id > y->if_id;
}

/* The tunnels map in one batched call (two when the first fills its buffer
 * exactly): the buffer holds max_entries, so no hash bucket can overflow
 * it. */
static int read_tunnels(struct xs_ctx *ctx, struct xs_state *st,
			const struct xs_stats_query *q, struct xs_dev_stats *ds)
{
	int fd = bpf_map__fd(st->skel->maps.tunnel_by_ifid);
	uint32_t max = bpf_map__max_entries(st->skel->maps.tunnel_by_ifid), *keys = NULL;
	struct tunnel_value *vals = NULL, tv;
	uint32_t batch = 0;
	bool first = true;
	size_t n = 0, i;
	int err = 0;

	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	if (q->have_if_id) {
		if (bpf_map_lookup_elem(fd, &q->if_id, &tv))
			return errno == ENOENT ? 0 :
			       p_err(ctx, -errno, "cannot read the tunnels of \"%s\": %s",
				     ds->dev, strerror(errno));
		ds->rows = calloc(1, sizeof(*ds->rows));
		if (!ds->rows)
			return p_err(ctx, -ENOMEM, "out of memory");
		ds->rows[0].if_id = q->if_id;
		ds->rows[0].tenant = tv.tenant;
		ds->rows[0].slot = tv.tunnel_idx;
		ds->nrows = 1;
		return 0;
	}

	keys = malloc((size_t)max * sizeof(*keys));
	vals = malloc((size_t)max * sizeof(*vals));
	if (!keys || !vals) {
		err = p_err(ctx, -ENOMEM, "out of memory");
		goto out;
	}
	while (n < max) {
		__u32 count = max - (uint32_t)n;

		err = bpf_map_lookup_batch(fd, first ? NULL : &batch, &batch, keys + n,
					   vals + n, &count, &opts);
		first = false;
		n += count;
		if (err == -ENOENT) {
			err = 0;
			break;
		}
		if (err) {
			err = p_err(ctx, err, "cannot read the tunnels of \"%s\": %s", ds->dev,
				    strerror(-err));
			goto out;
		}
	}
	ds->rows = calloc(n ? n : 1, sizeof(*ds->rows));
	if (!ds->rows) {
		err = p_err(ctx, -ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		ds->rows[i].if_id = keys[i];
		ds->rows[i].tenant = vals[i].tenant;
		ds->rows[i].slot = vals[i].tunnel_idx;
	}
	ds->nrows = n;
	qsort(ds->rows, n, sizeof(*ds->rows), xs_stats_cmp_row);
out:
	free(keys);
	free(vals);
	return err;
}

/* Counters of the tunnels' slots: one batched read over the range of slots
 * in use. Slots are handed out lowest first, so the range is about as long
 * as the number of tunnels. */
static int read_counters(struct xs_ctx *ctx, struct xs_state *st, struct xs_dev_stats *ds)
{
	int fd = bpf_map__fd(st->skel->maps.tunnel_stats);
	uint32_t nslots = bpf_map__max_entries(st->skel->maps.tunnel_stats);
	struct counter_sums cs;
	uint32_t hi = 0;
	size_t i;
	int err;

	if (!ds->nrows)
		return 0;
	cs.lo = UINT32_MAX;
	for (i = 0; i < ds->nrows; i++) {
		/* A slot beyond the array would be a corrupt entry: it keeps
		 * zero counters rather than stretch the read. */
		if (ds->rows[i].slot >= nslots)
			continue;
		if (ds->rows[i].slot < cs.lo)
			cs.lo = ds->rows[i].slot;
		if (ds->rows[i].slot > hi)
			hi = ds->rows[i].slot;
	}
	if (cs.lo > hi)
		return 0;
	cs.sum = calloc((size_t)hi - cs.lo + 1, sizeof(*cs.sum));
	if (!cs.sum)
		return p_err(ctx, -ENOMEM, "out of memory");
	err = pcpu_array_read(fd, cs.lo, hi, sizeof(struct tunnel_stats), sum_tunnel, &cs);
	if (err) {
		free(cs.sum);
		return p_err(ctx, err, "cannot read the counters of \"%s\": %s", ds->dev,
			     strerror(-err));
	}
	for (i = 0; i < ds->nrows; i++)
		if (ds->rows[i].slot >= cs.lo && ds->rows[i].slot <= hi)
			ds->rows[i].st = cs.sum[ds->rows[i].slot - cs.lo];
	free(cs.sum);
	return 0;
}

/* Words lo..hi of an array of __u32 (tun_health) into out[0..hi - lo],
 * batched as pcpu_array_read() does. */
static int u32_array_read(int fd, uint32_t lo, uint32_t hi, uint32_t *out)
{
	uint64_t span = (uint64_t)hi - lo + 1;
	uint32_t *keys, *vals, next = lo, in, tok, i;
	int err = 0;

	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	keys = malloc(span * sizeof(*keys));
	vals = malloc(span * sizeof(*vals));
	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	for (;;) {
		__u32 count = hi - next + 1;

		in = next - 1;
		err = bpf_map_lookup_batch(fd, next ? &in : NULL, &tok, keys, vals, &count, &opts);
		if (err && err != -ENOENT)
			goto out;
		for (i = 0; i < count; i++)
			if (keys[i] >= lo && keys[i] <= hi)
				out[keys[i] - lo] = vals[i];
		if (err || !count || tok >= hi) {
			err = 0;
			break;
		}
		next = tok + 1;
	}
out:
	free(keys);
	free(vals);
	return err;
}

/* The health word of each row's slot (groups.h): what steering to its
 * if_id does now. A device without the daemon reads 0 (up). */
static int read_health(struct xs_ctx *ctx, struct xs_state *st, struct xs_dev_stats *ds)
{
	int fd = bpf_map__fd(st->skel->maps.tun_health);
	uint32_t n = bpf_map__max_entries(st->skel->maps.tun_health), lo = UINT32_MAX, hi = 0;
	uint32_t *h;
	size_t i;
	int err;

	for (i = 0; i < ds->nrows; i++) {
		if (ds->rows[i].slot >= n)
			continue;
		if (ds->rows[i].slot < lo)
			lo = ds->rows[i].slot;
		if (ds->rows[i].slot > hi)
			hi = ds->rows[i].slot;
	}
	if (lo > hi)
		return 0;
	h = calloc((size_t)hi - lo + 1, sizeof(*h));
	if (!h)
		return p_err(ctx, -ENOMEM, "out of memory");
	err = u32_array_read(fd, lo, hi, h);
	if (err) {
		free(h);
		return p_err(ctx, err, "cannot read the tunnel health of \"%s\": %s", ds->dev,
			     strerror(-err));
	}
	for (i = 0; i < ds->nrows; i++)
		if (ds->rows[i].slot >= lo && ds->rows[i].slot <= hi)
			ds->rows[i].health = h[ds->rows[i].slot - lo];
	free(h);
	return 0;
}

int xs_stats_read_drops(struct xs_ctx *ctx, struct xs_state *st, uint64_t *reasons)
{
	int fd = bpf_map__fd(st->skel->maps.drop_stats);
	int err;

	memset(reasons, 0, XS_REASON_MAX * sizeof(*reasons));
	err = pcpu_array_read(fd, 0, XS_REASON_MAX - 1, sizeof(uint64_t), sum_reason, reasons);
	if (err)
		return p_err(ctx, err, "cannot read the drop counters: %s", strerror(-err));
	return 0;
}

static int read_dev(struct xs_ctx *ctx, const char *ifname, const struct xs_stats_query *q,
		    struct xs_dev_stats *ds)
{
	struct xs_state st;
	int err;

	memset(ds, 0, sizeof(*ds));
	snprintf(ds->dev, sizeof(ds->dev), "%s", ifname);
	ds->whole = !q->have_if_id;
	err = xs_state_open(ctx, ifname, XS_LOCK_SHARED, &st);
	if (err)
		return err;
	err = read_tunnels(ctx, &st, q, ds);
	if (!err)
		err = read_counters(ctx, &st, ds);
	if (!err)
		err = read_health(ctx, &st, ds);
	if (!err && ds->whole)
		err = xs_stats_read_drops(ctx, &st, ds->reasons);
	xs_state_close(&st);
	if (err) {
		free(ds->rows);
		ds->rows = NULL;
		ds->nrows = 0;
	}
	return err;
}

bool xs_stats_attached(struct xs_ctx *ctx, const char *ifname)
{
	char dir[XS_DIR_MAX], path[XS_DIR_MAX + 16];
	struct stat sb;

	if (xs_pin_dir(ctx, ifname, dir, sizeof(dir)))
		return false;
	snprintf(path, sizeof(path), "%s/meta", dir);
	return !stat(path, &sb);
}

struct collect {
	const struct xs_stats_query *q;
	struct xs_stats_set *set;
	size_t cap;
};

static int collect_dev(struct xs_ctx *ctx, const char *ifname, void *data)
{
	struct collect *c = data;
	struct xs_stats_set *set = c->set;
	int err;

	if (!c->q->dev && !xs_stats_attached(ctx, ifname))
		return 0;
	if (set->ndevs == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 4;
		struct xs_dev_stats *d = realloc(set->devs, cap * sizeof(*d));

		if (!d)
			return p_err(ctx, -ENOMEM, "out of memory");
		set->devs = d;
		c->cap = cap;
	}
	err = read_dev(ctx, ifname, c->q, &set->devs[set->ndevs]);
	if (err)
		return err;
	set->ndevs++;
	return 0;
}

int xs_stats_cmp_dev(const void *a, const void *b)
{
	const struct xs_dev_stats *x = a, *y = b;

	return strcmp(x->dev, y->dev);
}

int xs_stats_read(struct xs_ctx *ctx, const struct xs_stats_query *q, struct xs_stats_set *set)
{
	struct collect c = { .q = q, .set = set };
	int err;

	memset(set, 0, sizeof(*set));
	if (q->dev)
		err = collect_dev(ctx, q->dev, &c);
	else
		err = xs_for_each_attached(ctx, collect_dev, &c);
	if (err) {
		xs_stats_free(set);
		return err;
	}
	if (set->ndevs > 1)
		qsort(set->devs, set->ndevs, sizeof(*set->devs), xs_stats_cmp_dev);
	return 0;
}

void xs_stats_free(struct xs_stats_set *set)
{
	size_t i;

	for (i = 0; i < set->ndevs; i++)
		free(set->devs[i].rows);
	free(set->devs);
	set->devs = NULL;
	set->ndevs = 0;
}

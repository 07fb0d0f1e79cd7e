/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-tunnel counters as one snapshot of the pinned maps, and their
 * Prometheus text exposition (format 0.0.4). "stats" and "exporter" share
 * both: the exporter serves exactly what "stats prometheus" prints.
 *
 * Reading (xs_stats_read, in lib/stats_read.c) needs the kernel; rendering (here,
 * in metrics.c) only the snapshot, so that unit tests feed it fixed input.
 */
#ifndef XS_METRICS_H
#define XS_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common.h"

#define XS_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct xs_tunnel_row {
	uint32_t if_id;
	uint32_t tenant;
	uint32_t slot; /* tunnel_idx: where its counters are */
	struct tunnel_stats st; /* summed over CPUs */
	uint32_t health; /* its tun_health word (XS_HEALTH_*; 0: up) */
};

struct xs_dev_stats {
	char dev[16]; /* IFNAMSIZ */
	struct xs_tunnel_row *rows; /* sorted by if_id */
	size_t nrows;
	/* The device-wide counters (drop reasons, number of tunnels) are
	 * only read when the query covers the whole device. */
	bool whole;
	uint64_t reasons[XS_REASON_MAX]; /* enum xs_reason, summed over CPUs */
};

struct xs_stats_set {
	struct xs_dev_stats *devs; /* sorted by name */
	size_t ndevs;
};

struct xs_stats_query {
	const char *dev; /* NULL: every attached device of the netns */
	bool have_if_id;
	uint32_t if_id;
};

/* Take a snapshot with batched map reads. Reports its errors. */
int xs_stats_read(struct xs_ctx *ctx, const struct xs_stats_query *q,
		  struct xs_stats_set *set);
void xs_stats_free(struct xs_stats_set *set);

/* Is ifname, a directory of the netns' pin root, a device the tc programs
 * are attached to? Other directories there (the underlay program's, a
 * device detached since it was listed) are no error when listing all. */
bool xs_stats_attached(struct xs_ctx *ctx, const char *ifname);
/* The drop counters of one device by reason (XS_REASON_MAX of them). */
struct xs_state;
int xs_stats_read_drops(struct xs_ctx *ctx, struct xs_state *st, uint64_t *reasons);
/* The orders of a set: devices by name, rows by if_id (for bsearch). */
int xs_stats_cmp_dev(const void *a, const void *b);
int xs_stats_cmp_row(const void *a, const void *b);

/* "no_route", ...: the names "stats drops" and the metrics use. */
const char *xs_reason_name(uint32_t reason);
/* Reasons that count packets passed on, not dropped. */
bool xs_reason_is_note(uint32_t reason);

/* The exposition, piece by piece. Label values and help texts are escaped
 * here; names must already be valid metric and label names. */
struct xs_prom_label {
	const char *name;
	const char *value;
};
void xs_prom_family(FILE *f, const char *name, const char *type, const char *help);
void xs_prom_sample(FILE *f, const char *name, const struct xs_prom_label *labels,
		    size_t nlabels, uint64_t value);

/* The whole exposition of set: each family once, its HELP and TYPE first,
 * then its samples by device, if_id and direction. 0, or -EIO when f
 * failed. */
int xs_prom_render(FILE *f, const struct xs_stats_set *set);
/* The exposition of a scrape that could not read the counters: the gauge
 * xfrm_steer_scrape_error at 1, and no device up. */
void xs_prom_render_error(FILE *f);

#endif /* XS_METRICS_H */

// SPDX-License-Identifier: GPL-2.0
/* Prometheus text exposition of the per-tunnel counters. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "metrics.h"

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
	[XS_DROP_RX_V6_LINK] = "rx_v6_link_local",
	[XS_DROP_IIF_UNBOUND] = "iif_unbound",
	[XS_DROP_GROUP_DOWN] = "group_down",
};

const char *xs_reason_name(uint32_t reason)
{
	/* A reason appended to the ABI before it got a name here still
	 * shows up, under a name that says what it is. */
	if (reason >= XS_REASON_MAX || !reason_names[reason])
		return "unnamed";
	return reason_names[reason];
}

bool xs_reason_is_note(uint32_t reason)
{
	return reason == XS_NOTE_RX_UNTRACKED || reason == XS_NOTE_NO_SECPATH;
}

/*
 * Lines are assembled in a buffer and written with one fwrite(): a scrape of
 * 100,000 tunnels is 600,000 lines, and a stdio call per piece (each taking
 * the stream's lock) would cost more than reading the maps.
 */
struct line {
	FILE *f;
	size_t n;
	char buf[512];
};

static void line_flush(struct line *l)
{
	if (l->n)
		fwrite(l->buf, 1, l->n, l->f);
	l->n = 0;
}

static void line_put(struct line *l, const char *s, size_t len)
{
	if (l->n + len > sizeof(l->buf)) {
		line_flush(l);
		if (len > sizeof(l->buf)) {
			fwrite(s, 1, len, l->f);
			return;
		}
	}
	memcpy(l->buf + l->n, s, len);
	l->n += len;
}

static void line_str(struct line *l, const char *s)
{
	line_put(l, s, strlen(s));
}

/* Label values escape backslash, double quote and newline; HELP text only
 * backslash and newline (format 0.0.4). */
static void line_escaped(struct line *l, const char *s, bool quote)
{
	const char *special = quote ? "\\\n\"" : "\\\n";
	size_t run;

	for (;;) {
		run = strcspn(s, special);
		line_put(l, s, run);
		s += run;
		if (!*s)
			return;
		line_put(l, *s == '\n' ? "\\n" : *s == '"' ? "\\\"" : "\\\\", 2);
		s++;
	}
}

/* Counters are integers: written in full, never as 1.8e+19, so that they
 * equal "stats -j" digit for digit. */
static void line_u64(struct line *l, uint64_t v)
{
	char b[20];
	size_t i = sizeof(b);

	do {
		b[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	line_put(l, b + i, sizeof(b) - i);
}

void xs_prom_family(FILE *f, const char *name, const char *type, const char *help)
{
	struct line l = { .f = f };

	line_str(&l, "# HELP ");
	line_str(&l, name);
	line_put(&l, " ", 1);
	line_escaped(&l, help, false);
	line_str(&l, "\n# TYPE ");
	line_str(&l, name);
	line_put(&l, " ", 1);
	line_str(&l, type);
	line_put(&l, "\n", 1);
	line_flush(&l);
}

void xs_prom_sample(FILE *f, const char *name, const struct xs_prom_label *labels,
		    size_t nlabels, uint64_t value)
{
	struct line l = { .f = f };
	size_t i;

	line_str(&l, name);
	for (i = 0; i < nlabels; i++) {
		line_put(&l, i ? "," : "{", 1);
		line_str(&l, labels[i].name);
		line_put(&l, "=\"", 2);
		line_escaped(&l, labels[i].value, true);
		line_put(&l, "\"", 1);
	}
	line_str(&l, nlabels ? "} " : " ");
	line_u64(&l, value);
	line_put(&l, "\n", 1);
	line_flush(&l);
}

/* The per-tunnel families: which counter of each direction. */
struct tunnel_family {
	const char *name;
	const char *help;
	size_t tx, rx; /* offsets in struct tunnel_stats */
};

static const struct tunnel_family tunnel_families[] = {
	{ "xfrm_steer_tunnel_packets_total",
	  "Packets steered into (tx) or received from (rx) the tunnel, at L3.",
	  offsetof(struct tunnel_stats, tx_packets), offsetof(struct tunnel_stats, rx_packets) },
	{ "xfrm_steer_tunnel_bytes_total",
	  "Bytes of the inner (L3) packets steered into (tx) or received from (rx) the tunnel.",
	  offsetof(struct tunnel_stats, tx_bytes), offsetof(struct tunnel_stats, rx_bytes) },
	{ "xfrm_steer_tunnel_dropped_total",
	  "Packets of the tunnel dropped: tx when the kernel refused the if_id, rx by the reverse-path check.",
	  offsetof(struct tunnel_stats, tx_dropped), offsetof(struct tunnel_stats, rx_dropped) },
};

static uint64_t field(const struct tunnel_stats *st, size_t off)
{
	uint64_t v;

	memcpy(&v, (const char *)st + off, sizeof(v));
	return v;
}

/* snprintf() would do, 300,000 times a scrape. */
static void u32_str(char buf[16], uint32_t v)
{
	char b[10];
	size_t i = sizeof(b);

	do {
		b[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	memcpy(buf, b + i, sizeof(b) - i);
	buf[sizeof(b) - i] = '\0';
}

static void render_tunnels(FILE *f, const struct xs_stats_set *set,
			   const struct tunnel_family *fam)
{
	struct xs_prom_label l[3];
	char if_id[16];
	size_t d, i;

	xs_prom_family(f, fam->name, "counter", fam->help);
	for (d = 0; d < set->ndevs; d++) {
		const struct xs_dev_stats *ds = &set->devs[d];

		for (i = 0; i < ds->nrows; i++) {
			const struct xs_tunnel_row *r = &ds->rows[i];

			u32_str(if_id, r->if_id);
			l[0] = (struct xs_prom_label){ "dev", ds->dev };
			l[1] = (struct xs_prom_label){ "if_id", if_id };
			l[2] = (struct xs_prom_label){ "direction", "tx" };
			xs_prom_sample(f, fam->name, l, 3, field(&r->st, fam->tx));
			l[2].value = "rx";
			xs_prom_sample(f, fam->name, l, 3, field(&r->st, fam->rx));
		}
	}
}

/* Health per if_id (route groups skip a tunnel that is down): 1 up, 0
 * down, by `xfrm-steer daemon` (no usable outbound SA) or by hand
 * (`route nexthop down`). */
#define TUNNEL_UP_NAME "xfrm_steer_tunnel_up"
#define TUNNEL_UP_HELP "1 while route groups steer to the if_id, 0 while it is down (no outbound SA, as the daemon saw, or set down by hand)."

static void render_tunnel_up(FILE *f, const struct xs_stats_set *set)
{
	struct xs_prom_label l[2];
	char if_id[16];
	size_t d, i;

	xs_prom_family(f, TUNNEL_UP_NAME, "gauge", TUNNEL_UP_HELP);
	for (d = 0; d < set->ndevs; d++) {
		const struct xs_dev_stats *ds = &set->devs[d];

		for (i = 0; i < ds->nrows; i++) {
			u32_str(if_id, ds->rows[i].if_id);
			l[0] = (struct xs_prom_label){ "dev", ds->dev };
			l[1] = (struct xs_prom_label){ "if_id", if_id };
			xs_prom_sample(f, TUNNEL_UP_NAME, l, 2,
				       !(ds->rows[i].health & XS_HEALTH_DOWN));
		}
	}
}

static void render_reasons(FILE *f, const struct xs_stats_set *set, bool notes)
{
	const char *name = notes ? "xfrm_steer_notes_total" : "xfrm_steer_drops_total";
	struct xs_prom_label l[2];
	size_t d;
	uint32_t r;

	if (notes)
		xs_prom_family(f, name, "counter",
			       "Received packets passed on without full attribution, by reason.");
	else
		xs_prom_family(f, name, "counter", "Packets dropped by the programs, by reason.");
	for (d = 0; d < set->ndevs; d++) {
		const struct xs_dev_stats *ds = &set->devs[d];

		if (!ds->whole)
			continue;
		for (r = 0; r < XS_REASON_MAX; r++) {
			if (xs_reason_is_note(r) != notes)
				continue;
			l[0] = (struct xs_prom_label){ "dev", ds->dev };
			l[1] = (struct xs_prom_label){ "reason", xs_reason_name(r) };
			xs_prom_sample(f, name, l, 2, ds->reasons[r]);
		}
	}
}

/* Whether each device's counters were read, and whether the scrape as a
 * whole was: "nothing attached" (no xfrm_steer_up sample, scrape error 0)
 * is then told from "the scrape is broken" (scrape error 1). */
#define UP_NAME "xfrm_steer_up"
#define UP_HELP "1 for each device whose programs are attached and whose counters were read."
#define SCRAPE_ERR_NAME "xfrm_steer_scrape_error"
#define SCRAPE_ERR_HELP "1 when the counters could not be read (the exporter's log says why), else 0."

void xs_prom_render_error(FILE *f)
{
	xs_prom_family(f, UP_NAME, "gauge", UP_HELP);
	xs_prom_family(f, SCRAPE_ERR_NAME, "gauge", SCRAPE_ERR_HELP);
	xs_prom_sample(f, SCRAPE_ERR_NAME, NULL, 0, 1);
}

int xs_prom_render(FILE *f, const struct xs_stats_set *set)
{
	struct xs_prom_label l;
	size_t d, i;

	xs_prom_family(f, UP_NAME, "gauge", UP_HELP);
	for (d = 0; d < set->ndevs; d++) {
		l = (struct xs_prom_label){ "dev", set->devs[d].dev };
		xs_prom_sample(f, UP_NAME, &l, 1, 1);
	}
	xs_prom_family(f, SCRAPE_ERR_NAME, "gauge", SCRAPE_ERR_HELP);
	xs_prom_sample(f, SCRAPE_ERR_NAME, NULL, 0, 0);
	xs_prom_family(f, "xfrm_steer_tunnels", "gauge",
		       "Tunnels (if_ids) with counters on the device.");
	for (d = 0; d < set->ndevs; d++) {
		if (!set->devs[d].whole)
			continue;
		l = (struct xs_prom_label){ "dev", set->devs[d].dev };
		xs_prom_sample(f, "xfrm_steer_tunnels", &l, 1, set->devs[d].nrows);
	}
	for (i = 0; i < sizeof(tunnel_families) / sizeof(tunnel_families[0]); i++)
		render_tunnels(f, set, &tunnel_families[i]);
	render_tunnel_up(f, set);
	render_reasons(f, set, false);
	render_reasons(f, set, true);
	return ferror(f) ? -EIO : 0;
}

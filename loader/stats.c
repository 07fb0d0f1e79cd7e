// SPDX-License-Identifier: GPL-2.0
/* xfrm-steer stats: per-tunnel counters and drop reasons, as a table, JSON,
 * Prometheus text, or a live view with rates. */
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

/* Watch intervals, in milliseconds. */
#define WATCH_MIN_MS 100u
#define WATCH_MAX_MS 86400000u

static int stats_help(struct xs_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	fprintf(xs_help_out(ctx),
		"Usage: xfrm-steer stats [ show ] [ dev NAME ] [ if_id ID ] [ prometheus ]\n"
		"                        [ watch SECONDS [ count N ] ]\n"
		"       xfrm-steer stats drops [ dev NAME ]\n"
		"Counters are packets and bytes at L3 (the inner packet), per tunnel\n"
		"(if_id) and direction; \"drops\" lists the reasons for dropped packets.\n"
		"\"prometheus\" (or --prometheus) prints them in the Prometheus text format,\n"
		"as \"xfrm-steer exporter\" serves them. \"watch SECONDS\" (or --watch) shows\n"
		"packet and bit rates every SECONDS (0.1 to 86400) until interrupted, or\n"
		"\"count N\" times; with -j, one JSON array per line and interval.\n");
	return 0;
}

/* ---- Output ---- */

static void add_u64(json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_uint64(v));
}

static json_object *row_json(const char *dev, const struct xs_tunnel_row *r)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "dev", json_object_new_string(dev));
	add_u64(o, "if_id", r->if_id);
	add_u64(o, "tx_packets", r->st.tx_packets);
	add_u64(o, "tx_bytes", r->st.tx_bytes);
	add_u64(o, "rx_packets", r->st.rx_packets);
	add_u64(o, "rx_bytes", r->st.rx_bytes);
	add_u64(o, "tx_dropped", r->st.tx_dropped);
	add_u64(o, "rx_dropped", r->st.rx_dropped);
	json_object_object_add(o, "up", json_object_new_boolean(!(r->health & XS_HEALTH_DOWN)));
	return o;
}

static int drops_dev(struct xs_ctx *ctx, const char *ifname, void *data)
{
	struct stats_filter *f = data;
	uint64_t reasons[XS_REASON_MAX];
	struct xs_state st;
	uint32_t r;
	int err;

	err = xs_state_open(ctx, ifname, XS_LOCK_SHARED, &st);
	if (err)
		return err;
	err = xs_stats_read_drops(ctx, &st, reasons);
	xs_state_close(&st);
	if (err)
		return err;
	for (r = 0; r < XS_REASON_MAX; r++) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "dev", json_object_new_string(ifname));
		json_object_object_add(o, "reason", json_object_new_string(xs_reason_name(r)));
		json_object_object_add(o, "dropped", json_object_new_boolean(!xs_reason_is_note(r)));
		add_u64(o, "packets", reasons[r]);
		json_object_array_add(f->arr, o);
	}
	return 0;
}

static int drops_each(struct xs_ctx *ctx, const char *ifname, void *data)
{
	return xs_stats_attached(ctx, ifname) ? drops_dev(ctx, ifname, data) : 0;
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

/* "1", "0.5", "2.25": seconds with up to three decimals, in milliseconds. */
static int parse_seconds_ms(const char *s, uint32_t *ms)
{
	size_t ni = strspn(s, "0123456789"), nf = 0;
	uint64_t v = 0;
	size_t i;

	if (!ni || ni > 6)
		return -EINVAL;
	for (i = 0; i < ni; i++)
		v = v * 10 + (uint64_t)(s[i] - '0');
	v *= 1000;
	if (s[ni] == '.') {
		nf = strspn(s + ni + 1, "0123456789");
		if (!nf || nf > 3 || s[ni + 1 + nf])
			return -EINVAL;
		for (i = 0; i < 3; i++)
			v += (uint64_t)(i < nf ? s[ni + 1 + i] - '0' : 0) *
			     (i == 0 ? 100 : i == 1 ? 10 : 1);
	} else if (s[ni]) {
		return -EINVAL;
	}
	if (v < WATCH_MIN_MS || v > WATCH_MAX_MS)
		return -ERANGE;
	*ms = (uint32_t)v;
	return 0;
}

int parse_stats_args(struct xs_ctx *ctx, int argc, char **argv, struct stats_args *a)
{
	bool have_count = false;

	memset(a, 0, sizeof(*a));
	while (argc > 0) {
		if (matches(argv[0], "dev")) {
			NEXT_ARG_VALUE(ctx);
			a->dev = argv[0];
		} else if (!strcmp(argv[0], "if_id")) {
			NEXT_ARG_VALUE(ctx);
			if (parse_u32(argv[0], &a->f.if_id))
				return p_err(ctx, -EINVAL, "invalid if_id \"%s\"", argv[0]);
			a->f.have_if_id = true;
		} else if (matches(argv[0], "prometheus") || !strcmp(argv[0], "--prometheus")) {
			a->prometheus = true;
		} else if (matches(argv[0], "watch") || !strcmp(argv[0], "--watch")) {
			NEXT_ARG_VALUE(ctx);
			if (parse_seconds_ms(argv[0], &a->watch_ms))
				return p_err(ctx, -EINVAL,
					     "invalid watch interval \"%s\" (seconds, 0.1 to 86400)",
					     argv[0]);
		} else if (matches(argv[0], "count") || !strcmp(argv[0], "--count")) {
			NEXT_ARG_VALUE(ctx);
			if (parse_u32(argv[0], &a->count) || !a->count)
				return p_err(ctx, -EINVAL, "invalid count \"%s\" (1 or more)",
					     argv[0]);
			have_count = true;
		} else if (!strcmp(argv[0], "-j") || !strcmp(argv[0], "--json")) {
			a->json = true;
		} else {
			return p_err(ctx, -EINVAL, "stats: unknown argument \"%s\"", argv[0]);
		}
		NEXT_ARG();
	}
	if (have_count && !a->watch_ms)
		return p_err(ctx, -EINVAL, "\"count\" needs \"watch SECONDS\"");
	if (a->prometheus && a->watch_ms)
		return p_err(ctx, -EINVAL, "\"prometheus\" and \"watch\" exclude each other");
	if (a->prometheus && (a->json || ctx->json))
		return p_err(ctx, -EINVAL, "\"prometheus\" is a text format: drop -j");
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
	err = dev ? drops_dev(ctx, dev, &f) : xs_for_each_attached(ctx, drops_each, &f);
	if (!err)
		show_records(ctx, f.arr, cols, sizeof(cols) / sizeof(cols[0]));
	json_object_put(f.arr);
	return err;
}

/*
 * "-j stats" of many tunnels: the same bytes as json-c's plain output of
 * row_json() records, written directly. Building 100,000 json-c objects of
 * eight members each takes longer than reading the maps.
 */
static void print_json_rows(const struct xs_stats_set *set)
{
	json_object *name;
	const char *dev;
	bool first = true;
	size_t d, i;

	putchar('[');
	for (d = 0; d < set->ndevs; d++) {
		/* The name quoted and escaped as json-c does it. */
		name = json_object_new_string(set->devs[d].dev);
		dev = json_object_to_json_string_ext(name, JSON_C_TO_STRING_PLAIN |
								   JSON_C_TO_STRING_NOSLASHESCAPE);
		for (i = 0; i < set->devs[d].nrows; i++) {
			const struct xs_tunnel_row *r = &set->devs[d].rows[i];

			printf("%s{\"dev\":%s,\"if_id\":%" PRIu32 ",\"tx_packets\":%llu"
			       ",\"tx_bytes\":%llu,\"rx_packets\":%llu,\"rx_bytes\":%llu"
			       ",\"tx_dropped\":%llu,\"rx_dropped\":%llu,\"up\":%s}",
			       first ? "" : ",", dev, r->if_id, (unsigned long long)r->st.tx_packets,
			       (unsigned long long)r->st.tx_bytes, (unsigned long long)r->st.rx_packets,
			       (unsigned long long)r->st.rx_bytes, (unsigned long long)r->st.tx_dropped,
			       (unsigned long long)r->st.rx_dropped,
			       r->health & XS_HEALTH_DOWN ? "false" : "true");
			first = false;
		}
		json_object_put(name);
	}
	puts("]");
}

static void print_table(struct xs_ctx *ctx, const struct xs_stats_set *set)
{
	static const struct xs_column cols[] = {
		{ "dev", "dev", false, false },
		{ "if_id", "if_id", true, false },
		{ "tx_packets", "tx_packets", true, true },
		{ "tx_bytes", "tx_bytes", true, true },
		{ "rx_packets", "rx_packets", true, true },
		{ "rx_bytes", "rx_bytes", true, true },
		{ "tx_dropped", "tx_dropped", true, true },
		{ "rx_dropped", "rx_dropped", true, true },
	};
	json_object *arr;
	size_t d, i;
	uint32_t r;

	if (ctx->json && !ctx->pretty) {
		print_json_rows(set);
		return;
	}
	arr = json_object_new_array();
	for (d = 0; d < set->ndevs; d++)
		for (i = 0; i < set->devs[d].nrows; i++)
			json_object_array_add(arr, row_json(set->devs[d].dev, &set->devs[d].rows[i]));
	show_records(ctx, arr, cols, sizeof(cols) / sizeof(cols[0]));
	json_object_put(arr);
	if (ctx->json)
		return;
	/* The drop reasons that occurred, for the eye: on stderr, so that
	 * stdout is the table alone and its columns parse ("stats drops" is
	 * the table of them). */
	for (d = 0; d < set->ndevs; d++)
		for (r = 0; set->devs[d].whole && r < XS_REASON_MAX; r++)
			if (set->devs[d].reasons[r])
				fprintf(stderr, "%s %s: %" PRIu64 "\n", set->devs[d].dev,
					xs_reason_name(r), set->devs[d].reasons[r]);
}

/* ---- watch ---- */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Sleep until deadline (CLOCK_MONOTONIC ns) unless one of sigs arrives:
 * they are blocked, so a Ctrl-C while the maps are read is seen here.
 * Returns true if a signal came. */
static bool wait_until(uint64_t deadline, const sigset_t *sigs)
{
	for (;;) {
		uint64_t now = now_ns(), left;
		struct timespec ts;

		if (now >= deadline)
			return false;
		left = deadline - now;
		ts.tv_sec = (time_t)(left / 1000000000ull);
		ts.tv_nsec = (long)(left % 1000000000ull);
		if (sigtimedwait(sigs, NULL, &ts) > 0)
			return true;
		/* EAGAIN: time is up (checked above); EINTR: another signal. */
	}
}

/* A rate as a JSON number with at most three decimals: json-c would print
 * a double with 17 significant digits. */
static json_object *rate_json(double v)
{
	char buf[48];
	size_t n;

	snprintf(buf, sizeof(buf), "%.3f", v);
	n = strlen(buf);
	while (n > 1 && buf[n - 1] == '0')
		buf[--n] = '\0';
	if (buf[n - 1] == '.')
		buf[--n] = '\0';
	return json_object_new_double_s(v, buf);
}

static const char *rate_text(struct xs_ctx *ctx, double v, bool bits, char *buf, size_t len)
{
	static const char units[] = "KMGTPE";
	int u = -1;

	if (!ctx->human) {
		snprintf(buf, len, bits ? "%.0f" : "%.1f", v);
		return buf;
	}
	while (v >= 1000.0 && u < 5) {
		v /= 1000.0;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, bits ? "%.0f" : "%.1f", v);
	else
		snprintf(buf, len, "%.1f%c", v, units[u]);
	return buf;
}

static uint64_t delta(uint64_t cur, uint64_t prev)
{
	/* Lower than before: the if_id was deleted and added again in the
	 * interval, and its counters started from zero. */
	return cur >= prev ? cur - prev : cur;
}

static const struct xs_tunnel_row *find_prev(const struct xs_stats_set *prev, const char *dev,
					     uint32_t if_id)
{
	struct xs_dev_stats dkey;
	const struct xs_dev_stats *d;
	struct xs_tunnel_row rkey = { .if_id = if_id };

	if (!prev->ndevs)
		return NULL;
	snprintf(dkey.dev, sizeof(dkey.dev), "%s", dev);
	d = bsearch(&dkey, prev->devs, prev->ndevs, sizeof(*prev->devs), xs_stats_cmp_dev);
	if (!d || !d->nrows)
		return NULL;
	return bsearch(&rkey, d->rows, d->nrows, sizeof(*d->rows), xs_stats_cmp_row);
}

static void print_frame(struct xs_ctx *ctx, const struct xs_stats_set *prev,
			const struct xs_stats_set *cur, double secs, bool tty)
{
	static const struct xs_column cols[] = {
		{ "dev", "dev", false, false },
		{ "if_id", "if_id", true, false },
		{ "tx_packets_per_s", "tx_packets_per_s", true, false },
		{ "tx_bits_per_s", "tx_bits_per_s", true, false },
		{ "rx_packets_per_s", "rx_packets_per_s", true, false },
		{ "rx_bits_per_s", "rx_bits_per_s", true, false },
		{ "tx_packets", "tx_packets", true, true },
		{ "rx_packets", "rx_packets", true, true },
		{ "tx_dropped", "tx_dropped", true, true },
		{ "rx_dropped", "rx_dropped", true, true },
	};
	json_object *arr = json_object_new_array();
	static const struct tunnel_stats zero;
	char buf[64];
	size_t d, i;

	for (d = 0; d < cur->ndevs; d++) {
		const struct xs_dev_stats *ds = &cur->devs[d];

		for (i = 0; i < ds->nrows; i++) {
			const struct xs_tunnel_row *r = &ds->rows[i];
			const struct xs_tunnel_row *p = find_prev(prev, ds->dev, r->if_id);
			const struct tunnel_stats *ps = p ? &p->st : &zero;
			double rate[4] = {
				delta(r->st.tx_packets, ps->tx_packets) / secs,
				delta(r->st.tx_bytes, ps->tx_bytes) * 8.0 / secs,
				delta(r->st.rx_packets, ps->rx_packets) / secs,
				delta(r->st.rx_bytes, ps->rx_bytes) * 8.0 / secs,
			};
			/* Units in the names: bits, not bytes, per second. */
			static const char *const keys[4] = { "tx_packets_per_s", "tx_bits_per_s",
							     "rx_packets_per_s", "rx_bits_per_s" };
			json_object *o = row_json(ds->dev, r);
			int k;

			for (k = 0; k < 4; k++)
				json_object_object_add(o, keys[k],
						       ctx->json ? rate_json(rate[k]) :
						       json_object_new_string(rate_text(ctx, rate[k], k & 1,
											buf, sizeof(buf))));
			/* The seconds the rates are over, as measured. */
			if (ctx->json)
				json_object_object_add(o, "interval", rate_json(secs));
			json_object_array_add(arr, o);
		}
	}
	if (ctx->json) {
		/* One line per frame, whatever -p says: a stream of arrays. */
		printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN |
								  JSON_C_TO_STRING_NOSLASHESCAPE));
	} else {
		time_t t = time(NULL);
		struct tm tm;

		if (tty)
			fputs("\033[H\033[2J", stdout); /* home, clear screen */
		strftime(buf, sizeof(buf), "%H:%M:%S", localtime_r(&t, &tm));
		printf("%s  rates over %.2fs\n", buf, secs);
		show_records(ctx, arr, cols, sizeof(cols) / sizeof(cols[0]));
		if (!tty)
			putchar('\n');
	}
	fflush(stdout);
	json_object_put(arr);
}

/* Every frame shows rates, so the first one comes after one interval. */
static int stats_watch(struct xs_ctx *ctx, const struct stats_args *a,
		       const struct xs_stats_query *q)
{
	struct xs_stats_set prev, cur;
	uint64_t interval = (uint64_t)a->watch_ms * 1000000ull, t_prev, t, deadline;
	bool tty = isatty(STDOUT_FILENO);
	sigset_t sigs, old;
	uint32_t frame;
	int err;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigprocmask(SIG_BLOCK, &sigs, &old);

	err = xs_stats_read(ctx, q, &prev);
	if (err)
		goto out;
	t_prev = now_ns();
	deadline = t_prev + interval;
	for (frame = 0; !a->count || frame < a->count; frame++) {
		if (wait_until(deadline, &sigs))
			break;
		err = xs_stats_read(ctx, q, &cur);
		if (err)
			break;
		t = now_ns();
		print_frame(ctx, &prev, &cur, (double)(t - t_prev) / 1e9, tty);
		xs_stats_free(&prev);
		prev = cur;
		t_prev = t;
		/* Fixed ticks, unless reading took longer than a tick. */
		deadline += interval;
		if (deadline <= t)
			deadline = t + interval;
	}
	xs_stats_free(&prev);
out:
	sigprocmask(SIG_SETMASK, &old, NULL);
	return err;
}

static int stats_show(struct xs_ctx *ctx, int argc, char **argv)
{
	struct xs_stats_query q = { 0 };
	struct xs_stats_set set;
	struct stats_args a;
	int err;

	err = parse_stats_args(ctx, argc, argv, &a);
	if (err)
		return err;
	if (a.json)
		ctx->json = true;
	q.dev = a.dev;
	q.have_if_id = a.f.have_if_id;
	q.if_id = a.f.if_id;
	if (a.watch_ms)
		return stats_watch(ctx, &a, &q);
	err = xs_stats_read(ctx, &q, &set);
	if (err)
		return err;
	if (a.prometheus)
		err = xs_prom_render(stdout, &set);
	else
		print_table(ctx, &set);
	xs_stats_free(&set);
	return err ? p_err(ctx, err, "cannot write the metrics") : 0;
}

/* Words that start the arguments of "show" when the verb is left out. */
static bool is_show_arg(const char *w)
{
	return matches(w, "dev") || !strcmp(w, "if_id") || matches(w, "prometheus") ||
	       matches(w, "watch") || matches(w, "count") || !strcmp(w, "--prometheus") ||
	       !strcmp(w, "--watch") || !strcmp(w, "--count") || !strcmp(w, "-j") ||
	       !strcmp(w, "--json");
}

int do_stats(struct xs_ctx *ctx, int argc, char **argv)
{
	static const struct xs_cmd cmds[] = {
		{ "show", stats_show }, { "list", stats_show }, { "drops", stats_drops },
		{ "help", stats_help }, { NULL, NULL },
	};

	/* "stats dev X", "stats prometheus", ... without a verb mean "show". */
	if (argc > 0 && is_show_arg(argv[0]))
		return stats_show(ctx, argc, argv);
	return xs_cmd_select(ctx, cmds, argc, argv, stats_help);
}

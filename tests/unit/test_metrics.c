// SPDX-License-Identifier: GPL-2.0
/* Unit tests of the Prometheus exposition and of the parsers of "stats",
 * "secpath" and "exporter": fixed input, no kernel. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "metrics.h"
#include "parse.h"

/* Render into a string the caller frees. */
static char *render(const struct xs_stats_set *set)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(xs_prom_render(f, set), 0);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void test_golden(void **state)
{
	struct xs_tunnel_row rows[] = {
		{ .if_id = 7, .st = { 1, 100, 2, 200, 3, 4 } },
	};
	struct xs_dev_stats dev = { .dev = "ipsec0", .rows = rows, .nrows = 1, .whole = true };
	struct xs_stats_set set = { .devs = &dev, .ndevs = 1 };
	char *out;

	(void)state;
	dev.reasons[XS_DROP_NO_ROUTE] = 5;
	dev.reasons[XS_DROP_RPF] = 6;
	dev.reasons[XS_NOTE_NO_SECPATH] = 8;
	out = render(&set);
	assert_string_equal(out,
		"# HELP xfrm_steer_up 1 for each device whose programs are attached and whose counters were read.\n"
		"# TYPE xfrm_steer_up gauge\n"
		"xfrm_steer_up{dev=\"ipsec0\"} 1\n"
		"# HELP xfrm_steer_scrape_error 1 when the counters could not be read (the exporter's log says why), else 0.\n"
		"# TYPE xfrm_steer_scrape_error gauge\n"
		"xfrm_steer_scrape_error 0\n"
		"# HELP xfrm_steer_tunnels Tunnels (if_ids) with counters on the device.\n"
		"# TYPE xfrm_steer_tunnels gauge\n"
		"xfrm_steer_tunnels{dev=\"ipsec0\"} 1\n"
		"# HELP xfrm_steer_tunnel_packets_total Packets steered into (tx) or received from (rx) the tunnel, at L3.\n"
		"# TYPE xfrm_steer_tunnel_packets_total counter\n"
		"xfrm_steer_tunnel_packets_total{dev=\"ipsec0\",if_id=\"7\",direction=\"tx\"} 1\n"
		"xfrm_steer_tunnel_packets_total{dev=\"ipsec0\",if_id=\"7\",direction=\"rx\"} 2\n"
		"# HELP xfrm_steer_tunnel_bytes_total Bytes of the inner (L3) packets steered into (tx) or received from (rx) the tunnel.\n"
		"# TYPE xfrm_steer_tunnel_bytes_total counter\n"
		"xfrm_steer_tunnel_bytes_total{dev=\"ipsec0\",if_id=\"7\",direction=\"tx\"} 100\n"
		"xfrm_steer_tunnel_bytes_total{dev=\"ipsec0\",if_id=\"7\",direction=\"rx\"} 200\n"
		"# HELP xfrm_steer_tunnel_dropped_total Packets of the tunnel dropped: tx when the kernel refused the if_id, rx by the reverse-path check.\n"
		"# TYPE xfrm_steer_tunnel_dropped_total counter\n"
		"xfrm_steer_tunnel_dropped_total{dev=\"ipsec0\",if_id=\"7\",direction=\"tx\"} 3\n"
		"xfrm_steer_tunnel_dropped_total{dev=\"ipsec0\",if_id=\"7\",direction=\"rx\"} 4\n"
		"# HELP xfrm_steer_tunnel_up 1 while route groups steer to the if_id, 0 while it is down (no outbound SA, as the daemon saw, or set down by hand).\n"
		"# TYPE xfrm_steer_tunnel_up gauge\n"
		"xfrm_steer_tunnel_up{dev=\"ipsec0\",if_id=\"7\"} 1\n"
		"# HELP xfrm_steer_drops_total Packets dropped by the programs, by reason.\n"
		"# TYPE xfrm_steer_drops_total counter\n"
		"xfrm_steer_drops_total{dev=\"ipsec0\",reason=\"no_route\"} 5\n"
		"xfrm_steer_drops_total{dev=\"ipsec0\",reason=\"parse_error\"} 0\n"
		"xfrm_steer_drops_total{dev=\"ipsec0\",reason=\"not_ip\"} 0\n"
		"xfrm_steer_drops_total{dev=\"ipsec0\",reason=\"kfunc_failed\"} 0\n"
		"xfrm_steer_drops_total{dev=\"ipsec0\",reason=\"no_xfrm_info\"} 0\n"
		"xfrm_steer_drops_total{dev=\"ipsec0\",reason=\"v6_link_local\"} 0\n"
		"xfrm_steer_drops_total{dev=\"ipsec0\",reason=\"rpf\"} 6\n"
		"xfrm_steer_drops_total{dev=\"ipsec0\",reason=\"rx_parse_error\"} 0\n"
		"xfrm_steer_drops_total{dev=\"ipsec0\",reason=\"rx_v6_link_local\"} 0\n"
		"xfrm_steer_drops_total{dev=\"ipsec0\",reason=\"iif_unbound\"} 0\n"
		"xfrm_steer_drops_total{dev=\"ipsec0\",reason=\"group_down\"} 0\n"
		"# HELP xfrm_steer_notes_total Received packets passed on without full attribution, by reason.\n"
		"# TYPE xfrm_steer_notes_total counter\n"
		"xfrm_steer_notes_total{dev=\"ipsec0\",reason=\"rx_untracked\"} 0\n"
		"xfrm_steer_notes_total{dev=\"ipsec0\",reason=\"rx_no_secpath\"} 8\n");
	free(out);
}

/* Label values escape \, " and newline; HELP text \ and newline only. */
static void test_escaping(void **state)
{
	struct xs_prom_label l[] = { { "dev", "a\"b\\c\nd" }, { "x", "" } };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(f);
	xs_prom_sample(f, "m_total", l, 2, 1);
	xs_prom_family(f, "m_total", "counter", "back\\slash \"quoted\"\nnext");
	xs_prom_sample(f, "plain", NULL, 0, 2);
	assert_int_equal(fclose(f), 0);
	assert_string_equal(buf, "m_total{dev=\"a\\\"b\\\\c\\nd\",x=\"\"} 1\n"
				 "# HELP m_total back\\\\slash \"quoted\"\\nnext\n"
				 "# TYPE m_total counter\n"
				 "plain 2\n");
	free(buf);
}

/* Integers in full: a float64 would print 2^64-1 as 1.8446744073709552e+19
 * and lose the last digits. */
static void test_numbers(void **state)
{
	struct xs_prom_label l = { "dev", "d" };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(f);
	xs_prom_sample(f, "a", &l, 1, UINT64_MAX);
	xs_prom_sample(f, "b", &l, 1, 0);
	xs_prom_sample(f, "c", &l, 1, 1ull << 53 | 1);
	assert_int_equal(fclose(f), 0);
	assert_string_equal(buf, "a{dev=\"d\"} 18446744073709551615\n"
				 "b{dev=\"d\"} 0\n"
				 "c{dev=\"d\"} 9007199254740993\n");
	free(buf);
}

/* Count the lines of out that start with prefix. */
static int count_lines(const char *out, const char *prefix)
{
	size_t n = strlen(prefix);
	const char *p = out;
	int c = 0;

	while (p && *p) {
		if (!strncmp(p, prefix, n))
			c++;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return c;
}

/* Health: an if_id the daemon or the operator set down is 0, whatever
 * else its word says; a word of 0 (no daemon) is up. */
static void test_tunnel_up(void **state)
{
	struct xs_tunnel_row rows[] = {
		{ .if_id = 7 },
		{ .if_id = 8, .health = XS_HEALTH_AUTO_DOWN | XS_HEALTH_DOWN },
		{ .if_id = 9, .health = XS_HEALTH_ADMIN_DOWN | XS_HEALTH_DOWN },
		{ .if_id = 10, .health = XS_HEALTH_AUTO_DOWN | XS_HEALTH_ADMIN_UP },
	};
	struct xs_dev_stats dev = { .dev = "ipsec0", .rows = rows, .nrows = 4, .whole = true };
	struct xs_stats_set set = { .devs = &dev, .ndevs = 1 };
	char *out;

	(void)state;
	out = render(&set);
	assert_non_null(strstr(out, "\nxfrm_steer_tunnel_up{dev=\"ipsec0\",if_id=\"7\"} 1\n"
				    "xfrm_steer_tunnel_up{dev=\"ipsec0\",if_id=\"8\"} 0\n"
				    "xfrm_steer_tunnel_up{dev=\"ipsec0\",if_id=\"9\"} 0\n"
				    "xfrm_steer_tunnel_up{dev=\"ipsec0\",if_id=\"10\"} 1\n"));
	free(out);
}

/* Several devices and tunnels: each family's HELP and TYPE once, its
 * samples together right after them, every sample line well formed. */
static void test_families_once(void **state)
{
	static const char *const fams[] = {
		"xfrm_steer_up",		   "xfrm_steer_scrape_error",
		"xfrm_steer_tunnels",		   "xfrm_steer_tunnel_packets_total",
		"xfrm_steer_tunnel_bytes_total",   "xfrm_steer_tunnel_dropped_total",
		"xfrm_steer_drops_total",	   "xfrm_steer_notes_total",
		"xfrm_steer_tunnel_up",
	};
	struct xs_tunnel_row r0[] = { { .if_id = 1 }, { .if_id = 2 }, { .if_id = 300 } };
	struct xs_tunnel_row r1[] = { { .if_id = 1, .st = { 9, 9, 9, 9, 9, 9 } } };
	struct xs_dev_stats devs[] = {
		{ .dev = "ipsec0", .rows = r0, .nrows = 3, .whole = true },
		{ .dev = "ipsec1", .rows = r1, .nrows = 1, .whole = true },
	};
	struct xs_stats_set set = { .devs = devs, .ndevs = 2 };
	char *out = render(&set), *line, *save = NULL, cur[64] = "";
	size_t i;
	int seen_types = 0;

	(void)state;
	for (i = 0; i < sizeof(fams) / sizeof(fams[0]); i++) {
		char h[96], t[96];

		snprintf(h, sizeof(h), "# HELP %s ", fams[i]);
		snprintf(t, sizeof(t), "# TYPE %s ", fams[i]);
		assert_int_equal(count_lines(out, h), 1);
		assert_int_equal(count_lines(out, t), 1);
	}
	assert_int_equal(count_lines(out, "# HELP "), 9);
	assert_int_equal(count_lines(out, "xfrm_steer_up{"), 2);
	/* 4 tunnels x 2 directions per per-tunnel family. */
	assert_int_equal(count_lines(out, "xfrm_steer_tunnel_packets_total{"), 8);
	assert_int_equal(count_lines(out, "xfrm_steer_tunnels{"), 2);
	assert_int_equal(count_lines(out, "xfrm_steer_drops_total{dev=\"ipsec1\""), 11);

	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[64];
		unsigned long long v;
		int n = 0;

		if (!strncmp(line, "# TYPE ", 7)) {
			assert_int_equal(sscanf(line + 7, "%63s", cur), 1);
			seen_types++;
			continue;
		}
		if (line[0] == '#')
			continue;
		/* name{labels} value, or name value, in the family just announced */
		if (sscanf(line, "%63[a-z_]{%*[^}]} %llu%n", name, &v, &n) != 2)
			assert_int_equal(sscanf(line, "%63[a-z_] %llu%n", name, &v, &n), 2);
		assert_int_equal((size_t)n, strlen(line));
		assert_string_equal(name, cur);
	}
	assert_int_equal(seen_types, 9);
	free(out);
}

/* A query for one if_id leaves out the device-wide families' samples but
 * still announces every family. */
/* A scrape that could not read the counters says so, and that no device
 * is up, apart from one with nothing attached. */
static void test_scrape_error(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(f);
	xs_prom_render_error(f);
	assert_int_equal(fclose(f), 0);
	assert_string_equal(buf,
		"# HELP xfrm_steer_up 1 for each device whose programs are attached and whose counters were read.\n"
		"# TYPE xfrm_steer_up gauge\n"
		"# HELP xfrm_steer_scrape_error 1 when the counters could not be read (the exporter's log says why), else 0.\n"
		"# TYPE xfrm_steer_scrape_error gauge\n"
		"xfrm_steer_scrape_error 1\n");
	free(buf);
}

static void test_partial(void **state)
{
	struct xs_tunnel_row r[] = { { .if_id = 5 } };
	struct xs_dev_stats dev = { .dev = "x", .rows = r, .nrows = 1, .whole = false };
	struct xs_stats_set set = { .devs = &dev, .ndevs = 1 }, none = { 0 };
	char *out;

	(void)state;
	dev.reasons[0] = 77;
	out = render(&set);
	assert_int_equal(count_lines(out, "xfrm_steer_drops_total{"), 0);
	assert_int_equal(count_lines(out, "xfrm_steer_tunnels{"), 0);
	assert_int_equal(count_lines(out, "xfrm_steer_tunnel_bytes_total{"), 2);
	assert_int_equal(count_lines(out, "xfrm_steer_up{dev=\"x\"} 1"), 1);
	assert_int_equal(count_lines(out, "# TYPE "), 9);
	free(out);
	/* Nothing attached: no device up, and no scrape error either. */
	out = render(&none);
	assert_int_equal(count_lines(out, "# TYPE "), 9);
	assert_int_equal(count_lines(out, "xfrm_steer"), 1);
	assert_int_equal(count_lines(out, "xfrm_steer_scrape_error 0\n"), 1);
	free(out);
}

static void test_reason_names(void **state)
{
	uint32_t r, s;

	(void)state;
	for (r = 0; r < XS_REASON_MAX; r++) {
		assert_string_not_equal(xs_reason_name(r), "unnamed");
		for (s = 0; s < r; s++)
			assert_string_not_equal(xs_reason_name(r), xs_reason_name(s));
	}
	assert_string_equal(xs_reason_name(XS_REASON_MAX), "unnamed");
	assert_true(xs_reason_is_note(XS_NOTE_RX_UNTRACKED));
	assert_true(xs_reason_is_note(XS_NOTE_NO_SECPATH));
	assert_false(xs_reason_is_note(XS_DROP_NO_ROUTE));
}

static void test_listen_addr(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	socklen_t len = 0;

	(void)state;
	assert_int_equal(parse_listen_addr("127.0.0.1:9469", &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(len, sizeof(*a4));
	assert_int_equal(ntohs(a4->sin_port), 9469);
	assert_int_equal(ntohl(a4->sin_addr.s_addr), 0x7f000001);
	assert_int_equal(parse_listen_addr("0.0.0.0:1", &ss, &len), 0);
	assert_int_equal(parse_listen_addr("[::1]:9469", &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(len, sizeof(*a6));
	assert_int_equal(ntohs(a6->sin6_port), 9469);
	assert_true(IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr));
	assert_int_equal(parse_listen_addr("[::]:65535", &ss, &len), 0);

	assert_int_equal(parse_listen_addr("::1:9469", &ss, &len), -EINVAL);
	assert_int_equal(parse_listen_addr("[::1]9469", &ss, &len), -EINVAL);
	assert_int_equal(parse_listen_addr("[::1]", &ss, &len), -EINVAL);
	assert_int_equal(parse_listen_addr("[127.0.0.1]:80", &ss, &len), -EINVAL);
	assert_int_equal(parse_listen_addr("127.0.0.1", &ss, &len), -EINVAL);
	assert_int_equal(parse_listen_addr("127.0.0.1:", &ss, &len), -EINVAL);
	assert_int_equal(parse_listen_addr(":9469", &ss, &len), -EINVAL);
	assert_int_equal(parse_listen_addr("localhost:9469", &ss, &len), -EINVAL);
	assert_int_equal(parse_listen_addr("127.0.0.1:0", &ss, &len), -ERANGE);
	assert_int_equal(parse_listen_addr("127.0.0.1:65536", &ss, &len), -ERANGE);
	assert_int_equal(parse_listen_addr("127.0.0.1:+80", &ss, &len), -EINVAL);
	assert_int_equal(parse_listen_addr("127.0.0.1:0x50", &ss, &len), -EINVAL);
	assert_int_equal(parse_listen_addr("127.0.0.1:123456", &ss, &len), -EINVAL);
	assert_int_equal(parse_listen_addr(NULL, &ss, &len), -EINVAL);
}

static int parse_stats(struct stats_args *a, ...)
{
	struct xs_ctx ctx = { 0 };
	char *argv[16];
	int argc = 0;
	va_list ap;

	va_start(ap, a);
	while (argc < 16 && (argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	return parse_stats_args(&ctx, argc, argv, a);
}

static void test_stats_args(void **state)
{
	struct stats_args a;

	(void)state;
	assert_int_equal(parse_stats(&a, NULL), 0);
	assert_false(a.prometheus);
	assert_int_equal(a.watch_ms, 0);
	assert_int_equal(parse_stats(&a, "dev", "ipsec0", "if_id", "7", "prometheus", NULL), 0);
	assert_string_equal(a.dev, "ipsec0");
	assert_true(a.f.have_if_id);
	assert_int_equal(a.f.if_id, 7);
	assert_true(a.prometheus);
	assert_int_equal(parse_stats(&a, "--prometheus", NULL), 0);
	assert_true(a.prometheus);
	assert_int_equal(parse_stats(&a, "watch", "1", "count", "2", "-j", NULL), 0);
	assert_int_equal(a.watch_ms, 1000);
	assert_int_equal(a.count, 2);
	assert_true(a.json);
	assert_int_equal(parse_stats(&a, "--watch", "0.25", NULL), 0);
	assert_int_equal(a.watch_ms, 250);
	assert_int_equal(a.count, 0);
	assert_int_equal(parse_stats(&a, "w", "2.5", "c", "1", NULL), 0);
	assert_int_equal(a.watch_ms, 2500);
	assert_int_equal(parse_stats(&a, "watch", "86400", NULL), 0);

	assert_int_equal(parse_stats(&a, "watch", "0.05", NULL), -EINVAL);
	assert_int_equal(parse_stats(&a, "watch", "86400.001", NULL), -EINVAL);
	assert_int_equal(parse_stats(&a, "watch", "1.2345", NULL), -EINVAL);
	assert_int_equal(parse_stats(&a, "watch", "1.", NULL), -EINVAL);
	assert_int_equal(parse_stats(&a, "watch", ".5", NULL), -EINVAL);
	assert_int_equal(parse_stats(&a, "watch", "-1", NULL), -EINVAL);
	assert_int_equal(parse_stats(&a, "watch", "1s", NULL), -EINVAL);
	assert_int_equal(parse_stats(&a, "watch", NULL), -EINVAL);
	assert_int_equal(parse_stats(&a, "count", "2", NULL), -EINVAL);
	assert_int_equal(parse_stats(&a, "watch", "1", "count", "0", NULL), -EINVAL);
	assert_int_equal(parse_stats(&a, "prometheus", "watch", "1", NULL), -EINVAL);
	assert_int_equal(parse_stats(&a, "prometheus", "-j", NULL), -EINVAL);
	assert_int_equal(parse_stats(&a, "bogus", NULL), -EINVAL);
}

static void test_exporter_args(void **state)
{
	struct xs_ctx ctx = { 0 };
	struct exporter_args a;
	char *ok[] = { "listen", "[::1]:9999" };
	char *ok2[] = { "--listen", "10.1.2.3:80" };
	char *bad[] = { "listen", "[::1]" };
	char *bad2[] = { "bogus" };

	(void)state;
	assert_int_equal(parse_exporter_args(&ctx, 0, NULL, &a), 0);
	assert_string_equal(a.listen, "127.0.0.1:9469");
	assert_int_equal(a.addr.ss_family, AF_INET);
	assert_int_equal(parse_exporter_args(&ctx, 2, ok, &a), 0);
	assert_int_equal(a.addr.ss_family, AF_INET6);
	assert_int_equal(parse_exporter_args(&ctx, 2, ok2, &a), 0);
	assert_string_equal(a.listen, "10.1.2.3:80");
	assert_int_equal(parse_exporter_args(&ctx, 2, bad, &a), -EINVAL);
	assert_int_equal(parse_exporter_args(&ctx, 1, bad, &a), -EINVAL);
	assert_int_equal(parse_exporter_args(&ctx, 1, bad2, &a), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_tunnel_up),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_families_once),
		cmocka_unit_test(test_partial),
		cmocka_unit_test(test_scrape_error),
		cmocka_unit_test(test_reason_names),
		cmocka_unit_test(test_listen_addr),
		cmocka_unit_test(test_stats_args),
		cmocka_unit_test(test_exporter_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

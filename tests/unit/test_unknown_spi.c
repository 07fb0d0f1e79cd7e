// SPDX-License-Identifier: GPL-2.0
/* The unknown-SPI hook's rate limit (lib/unknown_spi.c): once per peer
 * per interval, peers apart, families apart, a full table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "unknown_spi.h"

static struct xs_uspi_limit *new_limit(long long interval_ms)
{
	struct xs_uspi_limit *l = calloc(1, sizeof(*l));

	assert_non_null(l);
	l->interval_ms = interval_ms;
	return l;
}

static void v4(const char *s, uint8_t *a)
{
	assert_int_equal(inet_pton(AF_INET, s, a), 1);
}

static void test_once_per_interval(void **state)
{
	struct xs_uspi_limit *l = new_limit(10000);
	uint8_t a[16] = { 0 };

	(void)state;
	v4("10.0.1.2", a);
	assert_true(xs_uspi_allow(l, AF_INET, a, 1000));
	assert_false(xs_uspi_allow(l, AF_INET, a, 1001));
	assert_false(xs_uspi_allow(l, AF_INET, a, 10999));
	assert_true(xs_uspi_allow(l, AF_INET, a, 11000));
	/* Denied events do not push the window on. */
	assert_false(xs_uspi_allow(l, AF_INET, a, 20999));
	assert_true(xs_uspi_allow(l, AF_INET, a, 21000));
	free(l);
}

static void test_peers_apart(void **state)
{
	struct xs_uspi_limit *l = new_limit(10000);
	uint8_t a[16] = { 0 }, b[16] = { 0 }, a6[16];

	(void)state;
	v4("10.0.1.2", a);
	v4("10.0.1.3", b);
	/* An IPv6 address whose first four bytes are a's. */
	memcpy(a6, a, 4);
	memset(a6 + 4, 0, 12);
	assert_true(xs_uspi_allow(l, AF_INET, a, 0));
	assert_true(xs_uspi_allow(l, AF_INET, b, 1));
	assert_true(xs_uspi_allow(l, AF_INET6, a6, 2));
	assert_false(xs_uspi_allow(l, AF_INET, a, 3));
	assert_false(xs_uspi_allow(l, AF_INET, b, 4));
	assert_false(xs_uspi_allow(l, AF_INET6, a6, 5));
	free(l);
}

static void test_zero_interval(void **state)
{
	struct xs_uspi_limit *l = new_limit(0);
	uint8_t a[16] = { 10, 0, 1, 2 };

	(void)state;
	assert_true(xs_uspi_allow(l, AF_INET, a, 5));
	assert_true(xs_uspi_allow(l, AF_INET, a, 5));
	free(l);
}

static void test_clock_back(void **state)
{
	struct xs_uspi_limit *l = new_limit(10000);
	uint8_t a[16] = { 10, 0, 1, 2 };

	(void)state;
	assert_true(xs_uspi_allow(l, AF_INET, a, 50000));
	/* Earlier than the last run: not a reason to wait for ever. */
	assert_true(xs_uspi_allow(l, AF_INET, a, 100));
	assert_false(xs_uspi_allow(l, AF_INET, a, 200));
	free(l);
}

/* would_allow answers as allow would and changes nothing. */
static void test_would_allow(void **state)
{
	struct xs_uspi_limit *l = new_limit(10000);
	uint8_t a[16] = { 0 };

	(void)state;
	v4("10.0.1.2", a);
	assert_true(xs_uspi_would_allow(l, AF_INET, a, 0));
	assert_true(xs_uspi_would_allow(l, AF_INET, a, 1));
	assert_true(xs_uspi_allow(l, AF_INET, a, 2));
	assert_false(xs_uspi_would_allow(l, AF_INET, a, 3));
	assert_false(xs_uspi_would_allow(l, AF_INET, a, 10001));
	assert_true(xs_uspi_would_allow(l, AF_INET, a, 10002));
	assert_true(xs_uspi_would_allow(l, AF_INET, a, 1)); /* clock went back */
	/* Still limited: nothing was recorded by asking. */
	assert_false(xs_uspi_allow(l, AF_INET, a, 5000));
	free(l);
}

/* A hook that said "not now" (exit 75): its peer is forgotten, the next
 * event runs it again; other peers keep their limit. */
static void test_forget(void **state)
{
	struct xs_uspi_limit *l = new_limit(10000);
	uint8_t a[16] = { 0 }, b[16] = { 0 };

	(void)state;
	v4("10.0.1.2", a);
	v4("10.0.1.3", b);
	assert_true(xs_uspi_allow(l, AF_INET, a, 0));
	assert_true(xs_uspi_allow(l, AF_INET, b, 0));
	xs_uspi_forget(l, AF_INET, a);
	assert_true(xs_uspi_allow(l, AF_INET, a, 1000));
	assert_false(xs_uspi_allow(l, AF_INET, a, 1001));
	assert_false(xs_uspi_allow(l, AF_INET, b, 1002));
	/* Forgetting a peer that is not there changes nothing. */
	xs_uspi_forget(l, AF_INET6, a);
	assert_false(xs_uspi_allow(l, AF_INET, a, 1003));
	free(l);
}

/* More peers than slots: the one whose interval ends first is forgotten,
 * everyone else still limited. */
static void test_full_table(void **state)
{
	struct xs_uspi_limit *l = new_limit(10000);
	uint8_t a[16] = { 0 };
	uint32_t i;

	(void)state;
	for (i = 0; i < XS_USPI_PEERS; i++) {
		uint32_t be = htonl(0x0a000000u + i);

		memcpy(a, &be, 4);
		assert_true(xs_uspi_allow(l, AF_INET, a, i));
	}
	/* One more peer takes the oldest slot (10.0.0.0, at 0). */
	v4("192.0.2.1", a);
	assert_true(xs_uspi_allow(l, AF_INET, a, 5000));
	assert_false(xs_uspi_allow(l, AF_INET, a, 5001));
	v4("10.0.0.1", a);
	assert_false(xs_uspi_allow(l, AF_INET, a, 5002));
	/* The forgotten one is new again, and takes 10.0.0.1's slot. */
	v4("10.0.0.0", a);
	assert_true(xs_uspi_allow(l, AF_INET, a, 5003));
	assert_false(xs_uspi_allow(l, AF_INET, a, 5004));
	/* An expired slot is reused before a live one is forgotten: at
	 * 10002 only 10.0.0.2 (at 2) is over its interval. */
	v4("192.0.2.2", a);
	assert_true(xs_uspi_allow(l, AF_INET, a, 10002));
	v4("10.0.0.3", a);
	assert_false(xs_uspi_allow(l, AF_INET, a, 10002));
	v4("192.0.2.1", a);
	assert_false(xs_uspi_allow(l, AF_INET, a, 10003));
	free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_once_per_interval), cmocka_unit_test(test_peers_apart),
		cmocka_unit_test(test_zero_interval),	  cmocka_unit_test(test_clock_back),
		cmocka_unit_test(test_full_table),	  cmocka_unit_test(test_forget),
		cmocka_unit_test(test_would_allow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

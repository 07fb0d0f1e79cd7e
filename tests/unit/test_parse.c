// SPDX-License-Identifier: GPL-2.0
/* Unit tests of the loader's parsers. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common.h"

static void test_u32(void **state)
{
	uint32_t v;

	(void)state;
	assert_int_equal(parse_u32("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse_u32("42", &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(parse_u32("0x2a", &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(parse_u32("0XFFFFFFFF", &v), 0);
	assert_int_equal(v, 0xffffffffu);
	assert_int_equal(parse_u32("4294967295", &v), 0);
	assert_int_equal(parse_u32("4294967296", &v), -EINVAL);
	assert_int_equal(parse_u32("0x100000000", &v), -EINVAL);
	assert_int_equal(parse_u32("-1", &v), -EINVAL);
	assert_int_equal(parse_u32("+1", &v), -EINVAL);
	assert_int_equal(parse_u32(" 1", &v), -EINVAL);
	assert_int_equal(parse_u32("1 ", &v), -EINVAL);
	assert_int_equal(parse_u32("12abc", &v), -EINVAL);
	assert_int_equal(parse_u32("0x", &v), -EINVAL);
	assert_int_equal(parse_u32("0x+5", &v), -EINVAL);
	assert_int_equal(parse_u32("0x-1", &v), -EINVAL);
	assert_int_equal(parse_u32("0x 5", &v), -EINVAL);
	assert_int_equal(parse_u32("0x0x5", &v), -EINVAL);
	assert_int_equal(parse_u32("\t5", &v), -EINVAL);
	assert_int_equal(parse_u32("", &v), -EINVAL);
	assert_int_equal(parse_u32(NULL, &v), -EINVAL);
}

static void test_prefix_v4(void **state)
{
	struct xs_prefix p;
	char buf[64];

	(void)state;
	assert_int_equal(parse_prefix("10.1.0.0/16", &p, false), 0);
	assert_int_equal(p.family, AF_INET);
	assert_int_equal(p.plen, 16);
	assert_string_equal(format_prefix(&p, buf, sizeof(buf)), "10.1.0.0/16");
	assert_int_equal(parse_prefix("192.0.2.7", &p, false), 0);
	assert_int_equal(p.plen, 32);
	assert_int_equal(parse_prefix("0.0.0.0/0", &p, false), 0);
	assert_int_equal(p.plen, 0);

	assert_int_equal(parse_prefix("10.1.2.3/16", &p, false), -ERANGE);
	assert_int_equal(parse_prefix("10.1.2.3/16", &p, true), 0);
	assert_string_equal(format_prefix(&p, buf, sizeof(buf)), "10.1.0.0/16");
	assert_int_equal(parse_prefix("10.0.0.0/33", &p, false), -EINVAL);
	assert_int_equal(parse_prefix("10.0.0.0/", &p, false), -EINVAL);
	assert_int_equal(parse_prefix("10.0.0.0/8x", &p, false), -EINVAL);
	assert_int_equal(parse_prefix("10.0.0.0/-1", &p, false), -EINVAL);
	assert_int_equal(parse_prefix("10.0.0/8", &p, false), -EINVAL);
	assert_int_equal(parse_prefix("/8", &p, false), -EINVAL);
	assert_int_equal(parse_prefix("256.0.0.0/8", &p, false), -EINVAL);
	assert_int_equal(parse_prefix("", &p, false), -EINVAL);
}

static void test_prefix_v6(void **state)
{
	struct xs_prefix p;
	char buf[64];

	(void)state;
	assert_int_equal(parse_prefix("2001:db8::/32", &p, false), 0);
	assert_int_equal(p.family, AF_INET6);
	assert_int_equal(p.plen, 32);
	assert_string_equal(format_prefix(&p, buf, sizeof(buf)), "2001:db8::/32");
	assert_int_equal(parse_prefix("2001:db8::1", &p, false), 0);
	assert_int_equal(p.plen, 128);
	assert_int_equal(parse_prefix("2001:db8::1/64", &p, false), -ERANGE);
	assert_int_equal(parse_prefix("2001:db8::/129", &p, false), -EINVAL);
	assert_int_equal(parse_prefix("2001:db8:::/64", &p, false), -EINVAL);
	/* a /65 keeps exactly one bit of the fifth 16-bit group */
	assert_int_equal(parse_prefix("2001:db8:0:0:8000::/65", &p, false), 0);
	assert_int_equal(parse_prefix("2001:db8:0:0:4000::/65", &p, false), -ERANGE);
}

static void test_matches(void **state)
{
	(void)state;
	assert_true(matches("r", "route"));
	assert_true(matches("route", "route"));
	assert_false(matches("routes", "route"));
	assert_false(matches("", "route"));
	assert_false(matches("x", "route"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_u32),
		cmocka_unit_test(test_prefix_v4),
		cmocka_unit_test(test_prefix_v6),
		cmocka_unit_test(test_matches),
	};

	return cmocka_run_group_tests_name("parse", tests, NULL, NULL);
}

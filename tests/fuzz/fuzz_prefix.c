// SPDX-License-Identifier: GPL-2.0
/*
 * The number and prefix parsers of loader/common.c on any string, checked
 * against what they promise:
 *  - parse_u64/parse_u32 accept exactly decimal digits or 0x/0X and hex
 *    digits, of a value that fits, and agree with a reference parser here;
 *  - a prefix that parses formats to a string that parses back to the same
 *    prefix, and that string is a fixed point of format(parse());
 *  - a prefix with host bits is refused with -ERANGE, or accepted with them
 *    cleared when asked to, never anything else;
 *  - parse_addr is parse_prefix without "/LEN";
 *  - format_prefix never writes past the length it is given.
 * The input is one string: its bytes up to the first NUL.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>

#include "common.h"
#include "fuzz.h"

#define MAX_INPUT 256

/* The grammar of parse_u64, written out: [0-9]+ | 0[xX][0-9a-fA-F]+,
 * no sign, no space, no second "0x", and at most UINT64_MAX. */
static bool ref_u64(const char *s, uint64_t *out)
{
	unsigned int base = 10;
	const char *c = s;
	uint64_t v = 0;

	if (c[0] == '0' && (c[1] == 'x' || c[1] == 'X')) {
		base = 16;
		c += 2;
	}
	if (!*c)
		return false;
	for (; *c; c++) {
		unsigned int d;

		if (*c >= '0' && *c <= '9')
			d = (unsigned int)(*c - '0');
		else if (base == 16 && *c >= 'a' && *c <= 'f')
			d = (unsigned int)(*c - 'a' + 10);
		else if (base == 16 && *c >= 'A' && *c <= 'F')
			d = (unsigned int)(*c - 'A' + 10);
		else
			return false;
		if (v > (UINT64_MAX - d) / base)
			return false;
		v = v * base + d;
	}
	*out = v;
	return true;
}

static void check_numbers(const char *s)
{
	uint64_t v64 = 0, ref = 0;
	uint32_t v32 = 0;
	bool ok64 = parse_u64(s, &v64) == 0;
	bool ok32 = parse_u32(s, &v32) == 0;
	bool ok_ref = ref_u64(s, &ref);
	char back[32];

	FUZZ_CHECK(ok64 == ok_ref);
	if (ok64)
		FUZZ_CHECK(v64 == ref);
	FUZZ_CHECK(ok32 == (ok64 && v64 <= UINT32_MAX));
	if (!ok32)
		return;
	FUZZ_CHECK(v32 == v64);
	/* Both ways of writing it read back. */
	snprintf(back, sizeof(back), "%u", v32);
	FUZZ_CHECK(parse_u32(back, &v32) == 0 && v32 == v64);
	snprintf(back, sizeof(back), "0x%x", v32);
	FUZZ_CHECK(parse_u32(back, &v32) == 0 && v32 == v64);
}

static bool same_prefix(const struct xs_prefix *a, const struct xs_prefix *b)
{
	return a->family == b->family && a->plen == b->plen &&
	       !memcmp(a->addr, b->addr, sizeof(a->addr));
}

static bool host_bits_clear(const struct xs_prefix *p)
{
	int i;

	for (i = p->plen; i < 128; i++)
		if (p->addr[i / 8] & (0x80 >> (i % 8)))
			return false;
	return true;
}

/* A valid prefix: family, length, no host bits, and the round trip. */
static void check_valid_prefix(const struct xs_prefix *p, size_t outlen)
{
	struct xs_prefix q;
	char text[64], again[64];
	char *small;

	FUZZ_CHECK(p->family == AF_INET || p->family == AF_INET6);
	FUZZ_CHECK(p->plen <= (p->family == AF_INET ? 32 : 128));
	FUZZ_CHECK(host_bits_clear(p));
	if (p->family == AF_INET) {
		static const uint8_t zero[12];

		FUZZ_CHECK(!memcmp(p->addr + 4, zero, sizeof(zero)));
	}

	format_prefix(p, text, sizeof(text));
	FUZZ_CHECK(parse_prefix(text, &q, false) == 0);
	FUZZ_CHECK(same_prefix(p, &q));
	FUZZ_CHECK(!strcmp(format_prefix(&q, again, sizeof(again)), text));

	/* A short buffer gets a cut-down, terminated copy, and no more. */
	small = malloc(outlen);
	FUZZ_CHECK(small);
	format_prefix(p, small, outlen);
	FUZZ_CHECK(strlen(small) < outlen);
	FUZZ_CHECK(!strncmp(small, text, strlen(small)));
	free(small);
}

static void check_prefix(const char *s, size_t outlen)
{
	struct xs_prefix strict, loose, addr;
	int es = parse_prefix(s, &strict, false);
	int el = parse_prefix(s, &loose, true);
	const char *slash = strchr(s, '/');

	FUZZ_CHECK(es == 0 || es == -EINVAL || es == -ERANGE);
	FUZZ_CHECK(el == 0 || el == -EINVAL);
	/* Lenient parsing differs from strict only on host bits. */
	FUZZ_CHECK((el == 0) == (es == 0 || es == -ERANGE));
	if (es == 0) {
		FUZZ_CHECK(same_prefix(&strict, &loose));
		check_valid_prefix(&strict, outlen);
	}
	if (el == 0)
		check_valid_prefix(&loose, outlen);

	if (slash) {
		/* "/LEN" is one to three decimal digits, nothing else. */
		size_t n = strlen(slash + 1);

		if (es == 0)
			FUZZ_CHECK(n >= 1 && n <= 3 &&
				   strspn(slash + 1, "0123456789") == n);
		return;
	}
	/* Without a length, a prefix is a host address. */
	FUZZ_CHECK((parse_addr(s, &addr) == 0) == (es == 0));
	if (es == 0) {
		FUZZ_CHECK(same_prefix(&strict, &addr));
		FUZZ_CHECK(strict.plen == (strict.family == AF_INET ? 32 : 128));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size > MAX_INPUT)
		return 0;
	s = fuzz_strndup(data, size);
	check_numbers(s);
	/* Room for 1..64 bytes of output, from the input's length. */
	check_prefix(s, 1 + size % 64);
	free(s);
	return 0;
}

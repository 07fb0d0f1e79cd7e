// SPDX-License-Identifier: GPL-2.0
/*
 * The key parser of loader/lib/keys.c on any argument and any key file.
 *
 * The input's first byte picks the case: bit 0 clear, the rest (up to a
 * NUL) is the command-line argument (but no "@PATH": the fuzzer is not to
 * open files of its choosing); set, the rest is the content of the file
 * named by "@FILE" (a memfd, rewritten for each input). The other bits
 * pick the key's maximum size, 1..64 bytes.
 *
 * Checked against a reference decoder written here: the parser accepts
 * exactly "0x"/"0X" and an even number of hex digits, at most max bytes
 * (in a file: white space around it allowed, "0x" optional, at most 4096
 * bytes), decodes them to the same bytes, fails with a report otherwise,
 * and no report ever holds key material: no 8 hex digits in a row of the
 * input appear in it. xs_key_format() prints what parses back to the key,
 * or "?" when the buffer is too small, and never writes past it.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "common.h"
#include "keys.h"
#include "fuzz.h"

#define MAX_INPUT 4200
#define KEY_FILE_MAX 4096 /* as keys.c */
#define LEAK_RUN 8

static int key_fd = -1;
static char key_path[64];

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Digits (no prefix) as the parser must take them. */
static bool ref_decode(const char *s, size_t n, uint8_t *out, size_t max, size_t *len)
{
	size_t i;

	if (!n || n % 2 || n / 2 > max)
		return false;
	for (i = 0; i < n; i++)
		if (hexval((unsigned char)s[i]) < 0)
			return false;
	for (i = 0; i < n; i += 2)
		out[i / 2] = (uint8_t)(hexval((unsigned char)s[i]) << 4 |
				       hexval((unsigned char)s[i + 1]));
	*len = n / 2;
	return true;
}

static bool has_prefix(const char *s, size_t n)
{
	return n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
}

/* The argument "0x...". */
static bool ref_arg(const char *arg, uint8_t *out, size_t max, size_t *len)
{
	size_t n = strlen(arg);

	return has_prefix(arg, n) && ref_decode(arg + 2, n - 2, out, max, len);
}

/* A key file: raw bytes, NULs and all. */
static bool ref_file(const char *text, size_t n, uint8_t *out, size_t max, size_t *len)
{
	if (n > KEY_FILE_MAX)
		return false;
	while (n && isspace((unsigned char)*text)) {
		text++;
		n--;
	}
	while (n && isspace((unsigned char)text[n - 1]))
		n--;
	if (has_prefix(text, n)) {
		text += 2;
		n -= 2;
	}
	return ref_decode(text, n, out, max, len);
}

/* No LEAK_RUN hex digits in a row of the input show up in msg. */
static void check_no_key_in(const char *msg, const char *in, size_t n)
{
	size_t i, run = 0;

	for (i = 0; i < n; i++) {
		run = hexval((unsigned char)in[i]) >= 0 ? run + 1 : 0;
		if (run >= LEAK_RUN)
			FUZZ_CHECK(!memmem(msg, strlen(msg), in + i + 1 - LEAK_RUN, LEAK_RUN));
	}
}

static void check_format(const uint8_t *key, size_t len, size_t buflen, size_t max)
{
	uint8_t back[64];
	size_t blen;
	char *buf = malloc(buflen);

	FUZZ_CHECK(buf);
	xs_key_format(key, len, buf, buflen);
	FUZZ_CHECK(strlen(buf) < buflen);
	if (buflen < 2 * len + 3) {
		FUZZ_CHECK(!strcmp(buf, "?") || buflen == 1);
	} else {
		FUZZ_CHECK(ref_arg(buf, back, max, &blen));
		FUZZ_CHECK(blen == len && !memcmp(back, key, len));
	}
	free(buf);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	key_fd = memfd_create("fuzz-key", MFD_CLOEXEC);
	FUZZ_CHECK(key_fd >= 0);
	/* A memfd starts as 0777: the parser refuses key files others may
	 * read. */
	FUZZ_CHECK(!fchmod(key_fd, 0600));
	snprintf(key_path, sizeof(key_path), "@/proc/self/fd/%d", key_fd);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xs_ctx ctx = { .json = true };
	uint8_t key[64], ref[64];
	size_t len = 0, rlen = 0, max, msglen = 0;
	bool from_file, ok;
	char *arg, *msg = NULL;
	FILE *saved, *mem;
	int err;

	if (size < 1 || size > MAX_INPUT)
		return 0;
	from_file = data[0] & 1;
	max = 1 + (data[0] >> 1) % 64;
	data++;
	size--;
	if (from_file) {
		FUZZ_CHECK(ftruncate(key_fd, 0) == 0);
		FUZZ_CHECK(pwrite(key_fd, data, size, 0) == (ssize_t)size);
		arg = strdup(key_path);
		FUZZ_CHECK(arg);
		ok = ref_file((const char *)data, size, ref, max, &rlen);
	} else {
		arg = fuzz_strndup(data, size);
		/* "@PATH" would open any file, /dev/stdin too: files are the
		 * other case. A bare "@" (no file name) stays. */
		if (arg[0] == '@' && arg[1]) {
			free(arg);
			return 0;
		}
		ok = ref_arg(arg, ref, max, &rlen);
	}

	/* Catch what the parser reports (-j: on stdout). */
	mem = open_memstream(&msg, &msglen);
	FUZZ_CHECK(mem);
	saved = stdout;
	stdout = mem;
	memset(key, 0xa5, sizeof(key));
	err = xs_key_parse(&ctx, arg, "fuzz key", key, max, &len);
	stdout = saved;
	fclose(mem);

	FUZZ_CHECK(err <= 0);
	FUZZ_CHECK((err == 0) == ok);
	FUZZ_CHECK(ctx.err_printed == (err != 0) && (msglen > 0) == (err != 0));
	if (ok) {
		FUZZ_CHECK(len == rlen && len <= max && !memcmp(key, ref, len));
		/* Just big enough, then one byte short. */
		check_format(key, len, 2 * len + 3, max);
		check_format(key, len, 2 * len + 2, max);
	} else {
		FUZZ_CHECK(len == 0);
		check_no_key_in(msg, (const char *)data, size);
	}
	/* Any bytes as a key, any buffer size. */
	check_format(data, size < 64 ? size : 64, 1 + size % 140, 64);
	free(msg);
	free(arg);
	return 0;
}

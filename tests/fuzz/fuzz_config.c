// SPDX-License-Identifier: GPL-2.0
/*
 * The declarative configuration parser of loader/lib/config.c (xfrm-steer
 * apply) on any file content. The input is the file: any bytes, given with
 * their length and no terminating NUL, in a block of their own.
 *
 * Checked for every input:
 *  - it returns 0 or a negative errno, and the reason it gives fits its
 *    buffer and is not empty when it fails;
 *  - what parses serializes (xs_config_to_json) to a file that parses
 *    again to the same serialization: a fixed point;
 *  - no key material reaches the reason: for input that is JSON, the file
 *    is parsed once as it is and once with every hex digit of every inline
 *    key ("key"/"key_out": "0x...") changed to another, which keeps each
 *    key's length and validity; the two results and reasons must be equal.
 *  - and nothing leaks (LSan), whatever the outcome.
 */
#include <errno.h>
#include <stdbool.h>

#include "config.h"
#include "fuzz.h"

#define MAX_INPUT 16384
#define WHY_LEN 512

/* Parse text and serialize what came out; the reason goes to why. NULL
 * with *err set when it does not parse. */
static char *parse_to_text(const char *text, size_t len, char *why, int *err)
{
	struct xs_config_file cfg;
	json_object *o;
	char *out = NULL;

	*err = xs_config_parse(text, len, &cfg, why, WHY_LEN);
	FUZZ_CHECK(*err <= 0);
	FUZZ_CHECK(strlen(why) < WHY_LEN);
	if (*err) {
		FUZZ_CHECK(why[0]);
	} else {
		o = xs_config_to_json(&cfg);
		FUZZ_CHECK(o);
		out = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		FUZZ_CHECK(out);
		json_object_put(o);
	}
	xs_config_free(&cfg);
	return out;
}

static char rotate_hex(char c)
{
	static const char next[] = "123456789abcdef0";

	if (c >= '0' && c <= '9')
		return next[c - '0'];
	if (c >= 'a' && c <= 'f')
		return next[c - 'a' + 10];
	if (c >= 'A' && c <= 'F')
		return next[c - 'A' + 10];
	return c;
}

/* Change the hex digits of every inline key in the tree, anywhere in it.
 * Returns whether there was one. */
static bool rotate_keys(json_object *o)
{
	bool found = false;
	size_t i, n;

	if (json_object_is_type(o, json_type_array)) {
		n = json_object_array_length(o);
		for (i = 0; i < n; i++)
			found |= rotate_keys(json_object_array_get_idx(o, i));
		return found;
	}
	if (!json_object_is_type(o, json_type_object))
		return false;
	json_object_object_foreach(o, name, v) {
		const char *s;
		char *r;

		if (!json_object_is_type(v, json_type_string) ||
		    (strcmp(name, "key") && strcmp(name, "key_out"))) {
			found |= rotate_keys(v);
			continue;
		}
		s = json_object_get_string(v);
		if (strncmp(s, "0x", 2) && strncmp(s, "0X", 2))
			continue;
		n = (size_t)json_object_get_string_len(v);
		r = malloc(n + 1);
		FUZZ_CHECK(r);
		for (i = 0; i < n; i++)
			r[i] = i < 2 ? s[i] : rotate_hex(s[i]);
		r[n] = '\0';
		json_object_set_string_len(v, r, (int)n);
		free(r);
		found = true;
	}
	return found;
}

static void check_keys_unseen(const uint8_t *data, size_t size)
{
	char why_a[WHY_LEN], why_b[WHY_LEN];
	struct json_tokener *tok;
	json_object *root;
	char *plain, *a, *b;
	int err_a, err_b;

	tok = json_tokener_new();
	FUZZ_CHECK(tok);
	root = json_tokener_parse_ex(tok, (const char *)data, (int)size);
	json_tokener_free(tok);
	if (!root)
		return;
	plain = strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
	FUZZ_CHECK(plain);
	if (rotate_keys(root)) {
		const char *rotated =
			json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);

		a = parse_to_text(plain, strlen(plain), why_a, &err_a);
		b = parse_to_text(rotated, strlen(rotated), why_b, &err_b);
		FUZZ_CHECK(err_a == err_b);
		if (err_a) {
			if (strcmp(why_a, why_b))
				fprintf(stderr, "reasons differ by a key:\n  %s\n  %s\n",
					why_a, why_b);
			FUZZ_CHECK(!strcmp(why_a, why_b));
		}
		free(a);
		free(b);
	}
	free(plain);
	json_object_put(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[WHY_LEN], why2[WHY_LEN];
	char *copy, *text, *again;
	int err;

	if (size > MAX_INPUT)
		return 0;
	copy = malloc(size ? size : 1);
	FUZZ_CHECK(copy);
	memcpy(copy, data, size);
	text = parse_to_text(copy, size, why, &err);
	free(copy);
	if (text) {
		again = parse_to_text(text, strlen(text), why2, &err);
		if (!again)
			fprintf(stderr, "the serialization does not parse: %s\n", why2);
		FUZZ_CHECK(again);
		FUZZ_CHECK(!strcmp(again, text));
		free(again);
		free(text);
	}
	check_keys_unseen(data, size);
	return 0;
}

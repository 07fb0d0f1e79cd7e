/* SPDX-License-Identifier: GPL-2.0 */
/* Key arguments: "0x<hex>" on the command line, or "@FILE" holding the hex
 * text so that the key stays out of process listings and shell history.
 * No message ever shows key material, not even a part of it. */
#ifndef XS_KEYS_H
#define XS_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <json-c/json.h>

struct xs_ctx;

/* Decode n hex digits at s (no prefix) into out (max bytes). 0, -EINVAL
 * for a character that is not a hex digit, -EILSEQ for an odd number of
 * digits, -EMSGSIZE if it would be more than max bytes, -ENODATA if n is
 * 0. *len gets the length in bytes. */
int xs_hex_decode(const char *s, size_t n, uint8_t *out, size_t max,
		  size_t *len);

/* Parse a key argument into out (max bytes). what names the argument in
 * errors ("aead key"). Reports errors; returns 0 or a negative errno. */
int xs_key_parse(struct xs_ctx *ctx, const char *arg, const char *what,
		 uint8_t *out, size_t max, size_t *len);

/*
 * A word of the user's for an error message (messages reach the journal).
 * It is echoed, in double quotes, only if it looks like a name or a value
 * of the grammar: at most 64 characters, each a letter, a digit, a space
 * or one of ( ) - _ . , : /, and no run of 16 or more hex digits (64 bits:
 * no SPI, if_id, mark or port has that many; a run goes on across spaces
 * and : - . , as keys are written in groups). Anything else may be a key
 * typed in the wrong place and becomes XS_NOT_SHOWN, unquoted. buf needs
 * XS_QUOTE_LEN bytes; XS_QW() provides one for the duration of the call.
 */
#define XS_NOT_SHOWN "(value not shown: it looks like key material)"
#define XS_QUOTE_LEN 67
bool xs_word_shown(const char *word);
const char *xs_quote_word(const char *word, char *buf, size_t len);
#define XS_QW(word) xs_quote_word((word), (char[XS_QUOTE_LEN]){ 0 }, XS_QUOTE_LEN)

/* json-c frees its strings without wiping them. xs_json_wipe() zeroes every
 * string and every field name of o (which must be put right after: its
 * tables are no longer usable); xs_json_print_wiped() prints o with flags
 * and a newline to f, then zeroes the text json-c made for it. */
void xs_json_wipe(json_object *o);
void xs_json_print_wiped(FILE *f, json_object *o, int flags);

/* "0x" and lower-case hex of key into buf, which needs 2 * len + 3 bytes;
 * "?" if it is too small. */
const char *xs_key_format(const uint8_t *key, size_t len, char *buf,
			  size_t buflen);

#endif /* XS_KEYS_H */

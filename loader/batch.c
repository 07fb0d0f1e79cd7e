// SPDX-License-Identifier: GPL-2.0
/* xfrm-steer -batch FILE: many commands in one process, as ip -batch. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "state.h"

#define XS_BATCH_MAX_WORDS 256

/* Split line in place into words: blanks separate them, single or double
 * quotes keep blanks inside a word, a '#' starting a word ends the line.
 * Returns the word count, or -1 for an unterminated quote or too many. */
static int split_words(char *line, char **argv, int max)
{
	char *r = line, *w = line;
	int argc = 0;

	for (;;) {
		char quote = 0;

		while (*r == ' ' || *r == '\t' || *r == '\n' || *r == '\r')
			r++;
		if (!*r || *r == '#')
			return argc;
		if (argc == max)
			return -1;
		argv[argc++] = w;
		while (*r && (quote || (*r != ' ' && *r != '\t' && *r != '\n' && *r != '\r'))) {
			if (!quote && (*r == '"' || *r == '\'')) {
				quote = *r++;
				continue;
			}
			if (quote && *r == quote) {
				quote = 0;
				r++;
				continue;
			}
			*w++ = *r++;
		}
		if (quote)
			return -1;
		if (*r)
			r++;
		*w++ = '\0';
	}
}

int xs_run_batch(struct xs_ctx *ctx, const char *path, bool force, const struct xs_cmd *objects,
		 int (*help)(struct xs_ctx *, int, char **))
{
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	char *line = NULL, *argv[XS_BATCH_MAX_WORDS];
	unsigned long lineno = 0;
	size_t cap = 0;
	int failed = 0;

	if (!f)
		return p_err(ctx, -errno, "cannot open batch file \"%s\": %s", path, strerror(errno));
	/* Commands after the first reuse the maps of the device before. */
	ctx->state_cache = xs_state_cache_new();
	while (getline(&line, &cap, f) >= 0) {
		int argc;

		lineno++;
		ctx->nerr = 0; /* each command its own first error */
		argc = split_words(line, argv, XS_BATCH_MAX_WORDS);
		if (argc < 0) {
			p_err(ctx, -EINVAL, "%s:%lu: unterminated quote or too many words", path,
			      lineno);
		} else if (argc == 0 || !xs_cmd_select(ctx, objects, argc, argv, help)) {
			continue;
		} else {
			/* The command reported why; say where, as ip -batch does. */
			ctx->nerr = 0;
			p_err(ctx, -EINVAL, "%s:%lu: command failed", path, lineno);
		}
		failed++;
		if (!force)
			break;
	}
	/* Lines may hold keys (sa add ... 0xHEX). getline() grows the
	 * buffer with realloc() and cannot be asked to wipe the old one; a
	 * batch file of keys is better written with @FILE. */
	if (line)
		explicit_bzero(line, cap);
	free(line);
	xs_state_cache_free(ctx->state_cache);
	ctx->state_cache = NULL;
	if (f != stdin)
		fclose(f);
	return failed ? -EINVAL : 0;
}

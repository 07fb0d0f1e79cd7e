// SPDX-License-Identifier: GPL-2.0
/*
 * The argument parsers of the objects (loader/parse.h) on any command line,
 * without the commands: nothing here reaches the kernel or the file system.
 *
 * The input is the command line after the global options, one word per
 * NUL-terminated run of bytes ("route\0add\0010.0.0.0/8\0..."), so a word
 * may hold any byte but NUL, as in a real argv. The first words choose the
 * parser the way the command tables do (prefixes allowed: "ro a" is
 * "route add"); each word is a heap block of its own and argv has no
 * terminating NULL, so the sanitizers see any read past either.
 *
 * Checked for every input: a parser returns 0 or a negative errno, reports
 * exactly when it fails (with -j: ctx.err_printed), and what it returns on
 * success is what the grammar allows (the strings point into argv; sizes,
 * modes and flags are in range; a route's prefix is valid and canonical).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>

#include "parse.h"
#include "fuzz.h"

#define MAX_INPUT 1024
#define MAX_WORDS 64

struct cmdline {
	int argc;
	char **argv;
};

static void split(const uint8_t *data, size_t size, struct cmdline *cl)
{
	size_t i, start = 0;

	cl->argc = 0;
	cl->argv = malloc(MAX_WORDS * sizeof(*cl->argv));
	FUZZ_CHECK(cl->argv);
	for (i = 0; i <= size && cl->argc < MAX_WORDS; i++) {
		if (i < size && data[i])
			continue;
		/* A trailing NUL ends the last word; it starts none. */
		if (i == size && start == size && size > 0 && !data[size - 1])
			break;
		cl->argv[cl->argc++] = fuzz_strndup(data + start, i - start);
		start = i + 1;
	}
	/* Exactly argc pointers: argv[argc] is out of bounds. */
	cl->argv = realloc(cl->argv, (cl->argc ? cl->argc : 1) * sizeof(*cl->argv));
	FUZZ_CHECK(cl->argv);
}

static void release(struct cmdline *cl)
{
	int i;

	for (i = 0; i < cl->argc; i++)
		free(cl->argv[i]);
	free(cl->argv);
}

/* s is NULL or one of the words (not a copy, not a neighbour). */
static bool from_argv(const struct cmdline *cl, const char *s)
{
	int i;

	if (!s)
		return true;
	for (i = 0; i < cl->argc; i++)
		if (s == cl->argv[i])
			return true;
	return false;
}

/* Fails exactly when it says so, and says so once. */
static void check_outcome(const struct xs_ctx *ctx, int err)
{
	FUZZ_CHECK(err <= 0);
	FUZZ_CHECK(ctx->err_printed == (err != 0));
}

static bool same_prefix(const struct xs_prefix *a, const struct xs_prefix *b)
{
	return a->family == b->family && a->plen == b->plen &&
	       !memcmp(a->addr, b->addr, sizeof(a->addr));
}

static void route_args(struct xs_ctx *ctx, const struct cmdline *cl, int at, bool add)
{
	struct route_args a;
	struct xs_prefix again;
	char text[64];
	int err;

	err = parse_route_args(ctx, cl->argc - at, cl->argv + at, add, &a);
	check_outcome(ctx, err);
	if (err)
		return;
	FUZZ_CHECK(a.prefix_str == cl->argv[at]);
	FUZZ_CHECK(a.dev && from_argv(cl, a.dev));
	FUZZ_CHECK(from_argv(cl, a.tenant_str));
	FUZZ_CHECK(a.have_if_id == add);
	FUZZ_CHECK(!add || a.if_id != 0);
	/* The prefix is valid as given, with no host bits, and canonical
	 * once formatted. */
	FUZZ_CHECK(parse_prefix(a.prefix_str, &again, false) == 0);
	FUZZ_CHECK(same_prefix(&again, &a.prefix));
	format_prefix(&a.prefix, text, sizeof(text));
	FUZZ_CHECK(parse_prefix(text, &again, false) == 0);
	FUZZ_CHECK(same_prefix(&again, &a.prefix));
}

static void route_show_args(struct xs_ctx *ctx, const struct cmdline *cl, int at)
{
	const char *dev = (const char *)1;
	int err;

	err = parse_route_show_args(ctx, cl->argc - at, cl->argv + at, &dev);
	check_outcome(ctx, err);
	if (!err)
		FUZZ_CHECK(from_argv(cl, dev));
}

static void attach_args(struct xs_ctx *ctx, const struct cmdline *cl, int at)
{
	const uint32_t known = XS_CFG_RPF | XS_CFG_MARK_INGRESS;
	struct attach_args a;
	int err;

	err = parse_attach_args(ctx, cl->argc - at, cl->argv + at, &a);
	check_outcome(ctx, err);
	if (err)
		return;
	FUZZ_CHECK(a.dev && from_argv(cl, a.dev));
	FUZZ_CHECK(a.max_routes >= 1 && a.max_routes <= 1u << 24);
	FUZZ_CHECK(a.max_tunnels >= 1 && a.max_tunnels <= 1u << 24);
	FUZZ_CHECK(a.have_routes || a.max_routes == XS_DEFAULT_ROUTES);
	FUZZ_CHECK(a.have_tunnels || a.max_tunnels == XS_DEFAULT_TUNNELS);
	FUZZ_CHECK(a.tenant_mode == XS_TENANT_NONE || a.tenant_mode == XS_TENANT_MARK ||
		   a.tenant_mode == XS_TENANT_IIF);
	FUZZ_CHECK(a.have_tenant || a.tenant_mode == XS_TENANT_NONE);
	/* A mark mask exactly with tenant-key mark, and never 0. */
	FUZZ_CHECK((a.tenant_mode == XS_TENANT_MARK) == (a.mark_mask != 0));
	FUZZ_CHECK(!(a.flags & ~known) && !(a.flags_set & ~known));
	/* Options not given keep their defaults: rpf on, mark-ingress off. */
	FUZZ_CHECK((a.flags_set & XS_CFG_RPF) || (a.flags & XS_CFG_RPF));
	FUZZ_CHECK((a.flags_set & XS_CFG_MARK_INGRESS) || !(a.flags & XS_CFG_MARK_INGRESS));
	FUZZ_CHECK(!(a.flags & XS_CFG_MARK_INGRESS) || !a.have_tenant ||
		   a.tenant_mode == XS_TENANT_MARK);
}

/* stats drops [ dev NAME ], secpath [ show ] [ dev NAME ] [ if_id ID ] */
static void filter_args(struct xs_ctx *ctx, const struct cmdline *cl, int at, bool secpath)
{
	struct stats_filter f = { 0 };
	const char *dev = (const char *)1;
	int err;

	if (secpath)
		err = parse_secpath_args(ctx, cl->argc - at, cl->argv + at, &dev, &f);
	else
		err = parse_stats_filter(ctx, cl->argc - at, cl->argv + at, false, &dev, &f);
	check_outcome(ctx, err);
	if (err)
		return;
	FUZZ_CHECK(from_argv(cl, dev));
	FUZZ_CHECK(secpath || !f.have_if_id);
}

/* stats [ show ] [ dev NAME ] [ if_id ID ] [ prometheus ] [ watch S [ count N ] ] */
static void stats_args(struct xs_ctx *ctx, const struct cmdline *cl, int at)
{
	struct stats_args a;
	int err;

	err = parse_stats_args(ctx, cl->argc - at, cl->argv + at, &a);
	check_outcome(ctx, err);
	if (err)
		return;
	FUZZ_CHECK(from_argv(cl, a.dev));
	/* 0.1 s to a day, or no watching; frames only when watching. */
	FUZZ_CHECK(!a.watch_ms || (a.watch_ms >= 100 && a.watch_ms <= 86400000));
	FUZZ_CHECK(!a.count || a.watch_ms);
	FUZZ_CHECK(!a.prometheus || (!a.watch_ms && !a.json && !ctx->json));
}

/* exporter [ listen ADDR:PORT ]: the address is numeric, the port 1..65535,
 * and the parsed address written back the same way parses to itself. */
static void exporter_args(struct xs_ctx *ctx, const struct cmdline *cl, int at)
{
	struct sockaddr_storage again;
	struct exporter_args a;
	char host[INET6_ADDRSTRLEN], text[INET6_ADDRSTRLEN + 16];
	socklen_t len = 0;
	uint16_t port;
	int err;

	err = parse_exporter_args(ctx, cl->argc - at, cl->argv + at, &a);
	check_outcome(ctx, err);
	if (err)
		return;
	if (a.addr.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&a.addr;

		FUZZ_CHECK(a.addrlen == sizeof(*in));
		port = ntohs(in->sin_port);
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(text, sizeof(text), "%s:%u", host, port);
	} else {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a.addr;

		FUZZ_CHECK(a.addr.ss_family == AF_INET6 && a.addrlen == sizeof(*in6));
		port = ntohs(in6->sin6_port);
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(text, sizeof(text), "[%s]:%u", host, port);
	}
	FUZZ_CHECK(port >= 1);
	FUZZ_CHECK(parse_listen_addr(text, &again, &len) == 0);
	FUZZ_CHECK(len == a.addrlen && !memcmp(&again, &a.addr, len));
}

/* The objects' command tables, for the verbs that parse arguments. */
static void dispatch(struct xs_ctx *ctx, const struct cmdline *cl)
{
	const char *obj = cl->argc > 0 ? cl->argv[0] : "";
	const char *verb = cl->argc > 1 ? cl->argv[1] : NULL;

	if (matches(obj, "route")) {
		if (!verb || matches(verb, "show") || matches(verb, "list"))
			route_show_args(ctx, cl, verb ? 2 : 1);
		else if (matches(verb, "add"))
			route_args(ctx, cl, 2, true);
		else if (matches(verb, "delete"))
			route_args(ctx, cl, 2, false);
	} else if (matches(obj, "attach")) {
		if (!verb || !matches(verb, "help"))
			attach_args(ctx, cl, 1);
	} else if (matches(obj, "stats")) {
		/* Without a verb, the words are show's: "stats dev X". */
		if (verb && matches(verb, "drops"))
			filter_args(ctx, cl, 2, false);
		else if (verb && (matches(verb, "show") || matches(verb, "list")))
			stats_args(ctx, cl, 2);
		else if (!verb || !matches(verb, "help"))
			stats_args(ctx, cl, 1);
	} else if (matches(obj, "secpath")) {
		if (verb && (matches(verb, "show") || matches(verb, "list")))
			filter_args(ctx, cl, 2, true);
		else if (!verb || !matches(verb, "help"))
			filter_args(ctx, cl, 1, true);
	} else if (matches(obj, "exporter")) {
		if (!verb || !matches(verb, "help"))
			exporter_args(ctx, cl, 1);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_stdout();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xs_ctx ctx = { .json = true };
	struct cmdline cl;

	if (size > MAX_INPUT)
		return 0;
	split(data, size, &cl);
	dispatch(&ctx, &cl);
	release(&cl);
	return 0;
}

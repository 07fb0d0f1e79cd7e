/* SPDX-License-Identifier: GPL-2.0 */
/* Shared plumbing of the xfrm-steer command: context, errors, output,
 * argument parsing. */
#ifndef XS_COMMON_H
#define XS_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <netinet/in.h>
#include <json-c/json.h>

#include "xfrm_steer.h"

struct xs_state_cache;

struct xs_ctx {
	bool json; /* -j */
	bool pretty; /* -p */
	int verbose; /* -v, repeatable */
	bool stats; /* -s: show more detail, never keys */
	/* --show-keys: SA keys in show output. Apart from -s, so that asking
	 * for more numbers never puts a key on the screen or in a log. */
	bool show_keys;
	bool human; /* -h: human-readable numbers */
	const char *netns; /* -n NETNS, already entered */
	bool err_printed; /* an error was reported in JSON already */
	struct xs_state_cache *state_cache; /* -batch: maps kept between commands */
	char bpffs[64]; /* where the pinned state's BPF file system is, once known */
	/* Where errors go: when errbuf is set, p_err() keeps the first
	 * message there and prints nothing (a caller of the library that
	 * shows errors its own way, e.g. the unit tests); else stderr, or
	 * stdout as JSON with -j. */
	char *errbuf;
	size_t errlen;
	/* One line per error: a command reports the first error it meets
	 * (the cause); what callers add on their way out is shown with -v
	 * only. err_prefix, when set, starts that line: where the error is
	 * (a file's entry), for a callee that does not know it. */
	unsigned int nerr;
	const char *err_prefix;
	/* Help asked for ("help", --help) goes to stdout and exits 0; the
	 * usage shown for a usage error goes to stderr with it. */
	bool help_to_stderr;
};

/* One entry of a command table, bpftool style. */
struct xs_cmd {
	const char *name;
	int (*fn)(struct xs_ctx *ctx, int argc, char **argv);
};

int xs_cmd_select(struct xs_ctx *ctx, const struct xs_cmd *cmds, int argc,
		  char **argv, int (*help)(struct xs_ctx *, int, char **));
/* Run every line of path ("-": stdin) as a command against objects; stop
 * at the first failure unless force. */
int xs_run_batch(struct xs_ctx *ctx, const char *path, bool force, const struct xs_cmd *objects,
		 int (*help)(struct xs_ctx *, int, char **));

/* "Error: <what>" on stderr, or {"error": "..."} with -j. Always returns a
 * negative errno-style value so callers can `return p_err(...)`. */
int p_err(struct xs_ctx *ctx, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void p_info(struct xs_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* "Warning: <what>" on stderr, also with -j: what the command did besides
 * its answer (stale state it removed), which a script must not miss. */
void p_warn(struct xs_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Where help texts go: stdout when asked for, stderr after a usage error. */
#include <stdio.h>
static inline FILE *xs_help_out(const struct xs_ctx *ctx)
{
	return ctx && ctx->help_to_stderr ? stderr : stdout;
}

/* Prefix matching of keywords, iproute2 style: "ro" matches "route". */
bool matches(const char *arg, const char *keyword);

#define NEXT_ARG()                                                          \
	do {                                                                \
		argc--;                                                     \
		argv++;                                                     \
	} while (0)

/* Consume the value of keyword argv[0]; error if there is none. */
#define NEXT_ARG_VALUE(ctx)                                                 \
	do {                                                                \
		if (argc < 2)                                               \
			return p_err(ctx, -EINVAL,                          \
				     "\"%s\" needs a value", argv[0]);      \
		NEXT_ARG();                                                 \
	} while (0)

/* Parsers: 0 on success, -EINVAL on bad input (no message printed). */
int parse_u32(const char *s, uint32_t *out); /* decimal or 0x-hex */
int parse_u64(const char *s, uint64_t *out);

struct xs_prefix {
	int family; /* AF_INET or AF_INET6 */
	uint8_t plen;
	uint8_t addr[16]; /* network order; IPv4 in the first 4 bytes */
};
/* "ADDR/LEN" or a bare address (host prefix). Host bits beyond the prefix
 * must be zero unless allow_host_bits. */
int parse_prefix(const char *s, struct xs_prefix *p, bool allow_host_bits);
int parse_addr(const char *s, struct xs_prefix *p);
/* Format a prefix "ADDR/LEN" into buf (at least 64 bytes). */
const char *format_prefix(const struct xs_prefix *p, char *buf, size_t len);
const char *format_addr(int family, const void *addr, char *buf, size_t len);

/* Fails with a clear message unless the process may manage BPF and netlink. */
int xs_check_caps(struct xs_ctx *ctx);

/* Enter /run/netns/NAME (ip -n). */
int xs_enter_netns(struct xs_ctx *ctx, const char *name);
/* Inode of the current network namespace: identifies it in pin paths. */
int xs_netns_id(uint64_t *ino);

/* Output: commands build json-c records; show_records prints them either as
 * a JSON array (-j) or as an aligned text table with these columns. */
struct xs_column {
	const char *key; /* JSON key */
	const char *title; /* text header */
	bool right; /* right-align (numbers) */
	bool human; /* scale with -h (counters) */
};
void show_records(struct xs_ctx *ctx, json_object *arr,
		  const struct xs_column *cols, size_t ncols);
void print_json(struct xs_ctx *ctx, json_object *obj);

/* Objects */
int do_link(struct xs_ctx *ctx, int argc, char **argv);
int do_attach(struct xs_ctx *ctx, int argc, char **argv);
int do_detach(struct xs_ctx *ctx, int argc, char **argv);
int do_route(struct xs_ctx *ctx, int argc, char **argv);
int do_stats(struct xs_ctx *ctx, int argc, char **argv);
int do_secpath(struct xs_ctx *ctx, int argc, char **argv);
int do_exporter(struct xs_ctx *ctx, int argc, char **argv);
int do_daemon(struct xs_ctx *ctx, int argc, char **argv);
int do_sa(struct xs_ctx *ctx, int argc, char **argv);
int do_policy(struct xs_ctx *ctx, int argc, char **argv);
int do_underlay(struct xs_ctx *ctx, int argc, char **argv);
int do_monitor(struct xs_ctx *ctx, int argc, char **argv);
int do_tunnel(struct xs_ctx *ctx, int argc, char **argv);
int do_apply(struct xs_ctx *ctx, int argc, char **argv);
int do_show_config(struct xs_ctx *ctx, int argc, char **argv);

#endif /* XS_COMMON_H */

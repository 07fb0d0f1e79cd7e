// SPDX-License-Identifier: GPL-2.0
/* Shared plumbing of the xfrm-steer command. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include <unistd.h>

#include "common.h"
#include "keys.h"

int p_err(struct xs_ctx *ctx, int err, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	size_t n = 0;

	if (ctx && ctx->err_prefix)
		n = (size_t)snprintf(msg, sizeof(msg), "%s", ctx->err_prefix);
	va_start(ap, fmt);
	vsnprintf(msg + (n < sizeof(msg) ? n : sizeof(msg) - 1),
		  sizeof(msg) - (n < sizeof(msg) ? n : sizeof(msg) - 1), fmt, ap);
	va_end(ap);

	if (ctx && ctx->nerr++ && !ctx->verbose && !ctx->errbuf) {
		/* The cause was said already: one line per error. */
	} else if (ctx && ctx->errbuf) {
		if (!ctx->errbuf[0])
			snprintf(ctx->errbuf, ctx->errlen, "%s", msg);
	} else if (ctx && ctx->json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "error", json_object_new_string(msg));
		fprintf(stdout, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
		ctx->err_printed = true;
	} else {
		fprintf(stderr, "Error: %s\n", msg);
	}
	return err < 0 ? err : -EINVAL;
}

void p_info(struct xs_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	if (ctx && ctx->json)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void p_warn(struct xs_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	(void)ctx;
	fputs("Warning: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

bool matches(const char *arg, const char *keyword)
{
	size_t len = strlen(arg);

	return len > 0 && len <= strlen(keyword) && !strncmp(arg, keyword, len);
}

int xs_cmd_select(struct xs_ctx *ctx, const struct xs_cmd *cmds, int argc,
		  char **argv, int (*help)(struct xs_ctx *, int, char **))
{
	const struct xs_cmd *c;

	if (argc < 1) {
		/* The first entry is the default verb ("show"). */
		if (cmds[0].fn)
			return cmds[0].fn(ctx, argc, argv);
		return help(ctx, argc, argv);
	}
	/* An exact name wins; else the prefix must be unique (names of one
	 * handler, "del" and "delete", count once): "s" could be stats,
	 * secpath, sa or show, and a script's abbreviation must not change
	 * meaning when a command is added. */
	const struct xs_cmd *found = NULL;
	char cands[256];
	size_t n = 0;
	bool ambiguous = false;

	cands[0] = '\0';
	for (c = cmds; c->name; c++) {
		if (!strcmp(argv[0], c->name)) {
			found = c;
			ambiguous = false;
			break;
		}
		if (!matches(argv[0], c->name))
			continue;
		if (found && found->fn != c->fn)
			ambiguous = true;
		if (!found || found->fn != c->fn)
			n += (size_t)snprintf(cands + n, n < sizeof(cands) ? sizeof(cands) - n : 0,
					      "%s%s", n ? ", " : "", c->name);
		if (!found)
			found = c;
	}
	(void)help;
	if (ambiguous)
		return p_err(ctx, -EINVAL, "%s is ambiguous: %s", XS_QW(argv[0]), cands);
	if (found)
		return found->fn(ctx, argc - 1, argv + 1);
	return p_err(ctx, -EINVAL, "unknown command %s (\"help\" lists them)", XS_QW(argv[0]));
}

int parse_u64(const char *s, uint64_t *out)
{
	unsigned long long v;
	int base = 10;
	size_t n;
	char *end;

	if (!s)
		return -EINVAL;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	/* Digits and nothing else: strtoull() alone would also take leading
	 * white space, a sign, and after "0x" a second "0x". */
	n = strlen(s);
	if (!n || strspn(s, base == 16 ? "0123456789abcdefABCDEF" : "0123456789") != n)
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

int parse_u32(const char *s, uint32_t *out)
{
	uint64_t v;

	if (parse_u64(s, &v) || v > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

int parse_addr(const char *s, struct xs_prefix *p)
{
	memset(p, 0, sizeof(*p));
	if (!s)
		return -EINVAL;
	if (inet_pton(AF_INET, s, p->addr) == 1) {
		p->family = AF_INET;
		p->plen = 32;
		return 0;
	}
	if (inet_pton(AF_INET6, s, p->addr) == 1) {
		p->family = AF_INET6;
		p->plen = 128;
		return 0;
	}
	return -EINVAL;
}

int parse_prefix(const char *s, struct xs_prefix *p, bool allow_host_bits)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash;
	uint32_t plen;
	size_t alen;
	int i;

	if (!s)
		return -EINVAL;
	slash = strchr(s, '/');
	alen = slash ? (size_t)(slash - s) : strlen(s);
	if (alen == 0 || alen >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	if (parse_addr(buf, p))
		return -EINVAL;
	if (slash) {
		/* Decimal only: "10.0.0.0/0x8" is not a prefix anyone means. */
		const char *d = slash + 1;

		if (!*d || strspn(d, "0123456789") != strlen(d) || strlen(d) > 3)
			return -EINVAL;
		plen = (uint32_t)atoi(d);
		if (plen > (p->family == AF_INET ? 32u : 128u))
			return -EINVAL;
		p->plen = (uint8_t)plen;
	}
	for (i = 0; i < 16; i++) {
		int bit0 = i * 8;
		uint8_t mask;

		if (bit0 + 8 <= p->plen)
			continue;
		mask = bit0 >= p->plen ? 0 : (uint8_t)(0xff << (8 - (p->plen - bit0)));
		if (p->addr[i] & ~mask) {
			if (!allow_host_bits)
				return -ERANGE;
			p->addr[i] &= mask;
		}
	}
	return 0;
}

const char *format_addr(int family, const void *addr, char *buf, size_t len)
{
	if (!inet_ntop(family, addr, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

const char *format_prefix(const struct xs_prefix *p, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	snprintf(buf, len, "%s/%u", format_addr(p->family, p->addr, a, sizeof(a)),
		 p->plen);
	return buf;
}

int xs_enter_netns(struct xs_ctx *ctx, const char *name)
{
	char path[PATH_MAX];
	int fd, err;

	if (!*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return p_err(ctx, -EINVAL, "invalid network namespace name \"%s\"", name);
	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return p_err(ctx, -errno, "cannot open network namespace \"%s\": %s",
			     name, strerror(errno));
	err = setns(fd, CLONE_NEWNET);
	close(fd);
	if (err)
		return p_err(ctx, -errno, "cannot enter network namespace \"%s\": %s",
			     name, strerror(errno));
	ctx->netns = name;
	return 0;
}

int xs_netns_id(uint64_t *ino)
{
	struct stat st;

	if (stat("/proc/self/ns/net", &st))
		return -errno;
	*ino = (uint64_t)st.st_ino;
	return 0;
}

void print_json(struct xs_ctx *ctx, json_object *obj)
{
	int flags = ctx->pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED :
				  JSON_C_TO_STRING_PLAIN;

	/* The records may hold keys (--show-keys). */
	xs_json_print_wiped(stdout, obj, flags | JSON_C_TO_STRING_NOSLASHESCAPE);
}

static void cell_text(struct xs_ctx *ctx, json_object *v, const struct xs_column *c,
		      char *buf, size_t len)
{
	static const char units[] = "KMGTPE";

	if (!v) {
		snprintf(buf, len, "-");
		return;
	}
	if (c->human && ctx->human && json_object_is_type(v, json_type_int)) {
		double d = (double)json_object_get_uint64(v);
		int u = -1;

		while (d >= 1000.0 && u < 5) {
			d /= 1000.0;
			u++;
		}
		if (u < 0)
			snprintf(buf, len, "%.0f", d);
		else
			snprintf(buf, len, "%.1f%c", d, units[u]);
		return;
	}
	if (json_object_is_type(v, json_type_int))
		snprintf(buf, len, "%llu", (unsigned long long)json_object_get_uint64(v));
	else
		snprintf(buf, len, "%s", json_object_get_string(v));
}

void show_records(struct xs_ctx *ctx, json_object *arr,
		  const struct xs_column *cols, size_t ncols)
{
	size_t n = json_object_array_length(arr), i, c;
	int *width;
	char buf[128];

	if (ctx->json) {
		print_json(ctx, arr);
		return;
	}
	width = calloc(ncols, sizeof(*width));
	if (!width)
		return;
	for (c = 0; c < ncols; c++)
		width[c] = (int)strlen(cols[c].title);
	for (i = 0; i < n; i++) {
		json_object *r = json_object_array_get_idx(arr, i);

		for (c = 0; c < ncols; c++) {
			json_object *v = NULL;

			json_object_object_get_ex(r, cols[c].key, &v);
			cell_text(ctx, v, &cols[c], buf, sizeof(buf));
			if ((int)strlen(buf) > width[c])
				width[c] = (int)strlen(buf);
		}
	}
	/* Headers in one case everywhere: the JSON key, upper-cased. */
	for (c = 0; c < ncols; c++) {
		char title[64];
		size_t k;

		for (k = 0; cols[c].title[k] && k + 1 < sizeof(title); k++)
			title[k] = (char)toupper((unsigned char)cols[c].title[k]);
		title[k] = '\0';
		printf("%s%*s", c ? "  " : "", cols[c].right ? width[c] : -width[c], title);
	}
	putchar('\n');
	for (i = 0; i < n; i++) {
		json_object *r = json_object_array_get_idx(arr, i);

		for (c = 0; c < ncols; c++) {
			json_object *v = NULL;
			bool last = c + 1 == ncols;

			json_object_object_get_ex(r, cols[c].key, &v);
			cell_text(ctx, v, &cols[c], buf, sizeof(buf));
			if (last && !cols[c].right)
				printf("%s%s", c ? "  " : "", buf);
			else
				printf("%s%*s", c ? "  " : "",
				       cols[c].right ? width[c] : -width[c], buf);
		}
		putchar('\n');
	}
	free(width);
}

static bool cap_effective(const struct __user_cap_data_struct *d, int cap)
{
	return d[cap / 32].effective & (1u << (cap % 32));
}

int xs_check_caps(struct xs_ctx *ctx)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = { 0 };

	/* Without these, libbpf and netlink fail deep inside with EPERM;
	 * say what is missing up front instead. CAP_SYS_ADMIN stands in for
	 * CAP_BPF on kernels before 5.8. */
	if (syscall(SYS_capget, &hdr, data))
		return 0; /* cannot tell: let the kernel decide */
	if (cap_effective(data, CAP_NET_ADMIN) &&
	    (cap_effective(data, 39 /* CAP_BPF */) || cap_effective(data, CAP_SYS_ADMIN)))
		return 0;
	return p_err(ctx, -EPERM,
		     "xfrm-steer needs CAP_NET_ADMIN and CAP_BPF (or CAP_SYS_ADMIN): run it as root");
}

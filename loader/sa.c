// SPDX-License-Identifier: GPL-2.0
/* xfrm-steer sa: ESP security associations, bound to an if_id. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/udp.h>

#include "common.h"
#include "keys.h"
#include "xfrm.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static void print_alg_lines(FILE *out, enum xs_alg_kind kind)
{
	const struct xs_alg_desc *t;
	size_t n, i, k;

	t = xs_alg_table(&n);
	for (i = 0; i < n; i++) {
		if (t[i].kind != kind)
			continue;
		fprintf(out, "         %-30s", t[i].name);
		for (k = 0; k < ARRAY_SIZE(t[i].aliases) && t[i].aliases[k]; k++)
			fprintf(out, "%s%s", k ? ", " : " or ", t[i].aliases[k]);
		fprintf(out, "\n             KEY: %s", t[i].key_hint);
		if (kind == XS_ALG_AEAD) {
			fprintf(out, "; ICV_BITS:");
			for (k = 0; k < ARRAY_SIZE(t[i].icv_bits) && t[i].icv_bits[k]; k++)
				fprintf(out, " %u", t[i].icv_bits[k]);
		} else if (kind == XS_ALG_AUTH) {
			fprintf(out, "; ICV truncated to %u bits", t[i].icv_bits[0]);
		}
		fputc('\n', out);
	}
}

static int sa_help(struct xs_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	fprintf(xs_help_out(ctx),
		"Usage: xfrm-steer sa add src ADDR dst ADDR spi SPI [ if_id ID ] [ mode MODE ]\n"
		"                         [ reqid N ] [ replay-window N ] [ flag FLAG ]...\n"
		"                         [ dir { in | out } [ pcpu CPU ] ]\n"
		"                         ALGO [ encap espinudp SPORT DPORT ]\n"
		"       xfrm-steer sa del src ADDR dst ADDR spi SPI [ if_id ID ]\n"
		"       xfrm-steer sa { show | list } [ if_id ID ]\n"
		"       xfrm-steer sa flush [ if_id ID ]\n"
		"where  ADDR := IPv4 or IPv6 address of a tunnel end; src and dst of one family\n"
		"       SPI  := 256..4294967295, decimal or 0x-hex; always shown as 0x%%08x\n"
		"       ID   := if_id of the xfrm interface's traffic, decimal or 0x-hex;\n"
		"               always shown in decimal; omitted or 0: not bound to an\n"
		"               xfrm interface (plain policy-based IPsec)\n"
		"       MODE := { tunnel | transport }   (default tunnel)\n"
		"       FLAG := { esn | af-unspec }\n"
		"       ALGO := { aead NAME KEY ICV_BITS | enc NAME KEY auth NAME KEY }\n"
		"       KEY  := { 0xHEX | @FILE }   FILE holds the hex digits (0x optional,\n"
		"               surrounding whitespace ignored), which keeps the key out of\n"
		"               process listings and shell history; @/dev/stdin reads a pipe;\n"
		"               FILE must be mode 0600 (or stricter) and owned by root\n"
		"       aead NAME:\n");
	print_alg_lines(xs_help_out(ctx), XS_ALG_AEAD);
	fprintf(xs_help_out(ctx), "       enc NAME:\n");
	print_alg_lines(xs_help_out(ctx), XS_ALG_ENC);
	fprintf(xs_help_out(ctx), "       auth NAME:\n");
	print_alg_lines(xs_help_out(ctx), XS_ALG_AUTH);
	fprintf(xs_help_out(ctx),
		"Notes: A tunnel-mode SA gets flag af-unspec, so that one SA carries inner\n"
		"       IPv4 and IPv6 alike. replay-window (0..%u packets) defaults to 0,\n"
		"       no anti-replay, as for \"ip xfrm\" and as RFC 4303 assumes for\n"
		"       manual keys: a restarted sender starts again at sequence number 1,\n"
		"       and with a window the receiver drops everything until its counter\n"
		"       passes the old top. replay-window N turns anti-replay on. flag esn\n"
		"       needs a window (the kernel refuses 0) and defaults to 32; such an\n"
		"       SA does not survive a restart of its sender unless both sides'\n"
		"       SAs are made again with new keys. With flag esn, or above 32, the\n"
		"       kernel's ESN replay state holds the window.\n"
		"       The SA's selector is the wildcard: policies and the if_id decide\n"
		"       what it carries. Keys are shown only with --show-keys.\n"
		"       del checks src (and if_id if given) before deleting: the kernel\n"
		"       itself finds an SA by dst and spi only.\n"
		"       flush without if_id removes EVERY SA of the network namespace,\n"
		"       whoever made it (like \"ip xfrm state flush\"); with if_id, only\n"
		"       the ESP SAs bound to that if_id.\n"
		"       dir in|out makes an SA of one direction (Linux 6.10 or later): the\n"
		"       kernel uses it only to receive, or only to send (then without a\n"
		"       replay window). pcpu CPU (with dir; Linux 6.13 or later, RFC 9611)\n"
		"       makes a per-CPU SA: the kernel sends through it what CPU CPU\n"
		"       transmits of the tunnel, and what other CPUs do through their own\n"
		"       SA or one without pcpu. A kernel that would ignore dir or pcpu\n"
		"       makes the SA refused (and not left behind).\n"
		"       Receiving espinudp takes a UDP socket with the UDP_ENCAP option on\n"
		"       the local port (an IKE daemon has one); sending does not.\n",
		XS_REPLAY_MAX);
	return 0;
}

static int parse_sa_addr(struct xs_ctx *ctx, const char *word, const char *s,
			 struct xs_prefix *p)
{
	if (parse_addr(s, p))
		return p_err(ctx, -EINVAL, "invalid %s address %s", word,
			     XS_QW(s));
	return 0;
}

static int parse_spi(struct xs_ctx *ctx, const char *s, uint32_t *spi)
{
	if (parse_u32(s, spi))
		return p_err(ctx, -EINVAL,
			     "invalid spi %s (256..4294967295, decimal or 0x-hex)",
			     XS_QW(s));
	return 0;
}

static int parse_if_id(struct xs_ctx *ctx, const char *s, uint32_t *if_id)
{
	if (parse_u32(s, if_id))
		return p_err(ctx, -EINVAL,
			     "invalid if_id %s (0..4294967295, decimal or 0x-hex)",
			     XS_QW(s));
	return 0;
}

/* The argument words of one algorithm: "aead NAME KEY ICV_BITS",
 * "enc NAME KEY" or "auth NAME KEY". Consumes them from *argcp and *argvp
 * (which point at the keyword) and leaves the last one current. */
static int parse_alg(struct xs_ctx *ctx, enum xs_alg_kind kind, int *argcp,
		     char ***argvp, struct xs_alg *a)
{
	const char *kn = xs_alg_kind_name(kind);
	int need = kind == XS_ALG_AEAD ? 4 : 3;
	const struct xs_alg_desc *d;
	char what[48], why[256];
	char **argv = *argvp;
	size_t len;
	int err;

	if (a->name[0])
		return p_err(ctx, -EINVAL, "\"%s\" given twice", kn);
	if (*argcp < need)
		return p_err(ctx, -EINVAL, "\"%s\" needs %s", kn,
			     kind == XS_ALG_AEAD ? "NAME KEY ICV_BITS" : "NAME KEY");
	if (!xs_word_shown(argv[1]))
		return p_err(ctx, -EINVAL,
			     "\"%s\" needs %s: the NAME is missing", kn,
			     kind == XS_ALG_AEAD ? "NAME KEY ICV_BITS" : "NAME KEY");
	d = xs_alg_find(kind, argv[1]);
	if (!d) {
		/* Same words as the library's check, before the key is read. */
		snprintf(a->name, sizeof(a->name), "%s", argv[1]);
		xs_alg_check(kind, a, why, sizeof(why));
		a->name[0] = '\0';
		return p_err(ctx, -EINVAL, "%s (see \"xfrm-steer sa help\")", why);
	}
	snprintf(a->name, sizeof(a->name), "%s", d->name);
	snprintf(what, sizeof(what), "%s key", kn);
	err = xs_key_parse(ctx, argv[2], what, a->key, sizeof(a->key), &len);
	if (err)
		return err;
	a->key_len = (uint32_t)len;
	if (kind == XS_ALG_AEAD && parse_u32(argv[3], &a->icv_bits))
		return p_err(ctx, -EINVAL, "invalid ICV_BITS %s of aead",
			     XS_QW(argv[3]));
	if (xs_alg_check(kind, a, why, sizeof(why)))
		return p_err(ctx, -EINVAL, "%s", why);
	*argcp -= need - 1;
	*argvp += need - 1;
	return 0;
}

static int parse_sa_add(struct xs_ctx *ctx, int argc, char **argv,
			struct xs_sa *sa)
{
	bool have_src = false, have_dst = false, have_spi = false;
	bool have_replay = false;
	uint8_t flags = 0;
	uint32_t v;
	char why[256];
	int err;

	xs_sa_init(sa);
	while (argc > 0) {
		if (!strcmp(argv[0], "src")) {
			NEXT_ARG_VALUE(ctx);
			err = parse_sa_addr(ctx, "src", argv[0], &sa->src);
			if (err)
				return err;
			have_src = true;
		} else if (!strcmp(argv[0], "dst")) {
			NEXT_ARG_VALUE(ctx);
			err = parse_sa_addr(ctx, "dst", argv[0], &sa->dst);
			if (err)
				return err;
			have_dst = true;
		} else if (!strcmp(argv[0], "spi")) {
			NEXT_ARG_VALUE(ctx);
			err = parse_spi(ctx, argv[0], &sa->spi);
			if (err)
				return err;
			have_spi = true;
		} else if (!strcmp(argv[0], "if_id")) {
			NEXT_ARG_VALUE(ctx);
			err = parse_if_id(ctx, argv[0], &sa->if_id);
			if (err)
				return err;
		} else if (matches(argv[0], "mode")) {
			NEXT_ARG_VALUE(ctx);
			if (matches(argv[0], "tunnel"))
				sa->mode = XFRM_MODE_TUNNEL;
			else if (matches(argv[0], "transport"))
				sa->mode = XFRM_MODE_TRANSPORT;
			else
				return p_err(ctx, -EINVAL,
					     "invalid mode %s (tunnel or transport)",
					     XS_QW(argv[0]));
		} else if (!strcmp(argv[0], "dir")) {
			NEXT_ARG_VALUE(ctx);
			if (!strcmp(argv[0], "in"))
				sa->dir = XFRM_SA_DIR_IN;
			else if (!strcmp(argv[0], "out"))
				sa->dir = XFRM_SA_DIR_OUT;
			else
				return p_err(ctx, -EINVAL, "invalid dir %s (in or out)",
					     XS_QW(argv[0]));
		} else if (!strcmp(argv[0], "pcpu")) {
			NEXT_ARG_VALUE(ctx);
			if (parse_u32(argv[0], &sa->pcpu) || sa->pcpu == UINT32_MAX)
				return p_err(ctx, -EINVAL,
					     "invalid pcpu %s (a CPU number, 0..4294967294)",
					     XS_QW(argv[0]));
			sa->has_pcpu = true;
		} else if (matches(argv[0], "reqid")) {
			NEXT_ARG_VALUE(ctx);
			if (parse_u32(argv[0], &sa->reqid))
				return p_err(ctx, -EINVAL, "invalid reqid %s",
					     XS_QW(argv[0]));
		} else if (matches(argv[0], "replay-window")) {
			NEXT_ARG_VALUE(ctx);
			if (parse_u32(argv[0], &v) || v > XS_REPLAY_MAX)
				return p_err(ctx, -EINVAL,
					     "invalid replay-window %s (0..%u packets)",
					     XS_QW(argv[0]), XS_REPLAY_MAX);
			sa->replay_window = v;
			have_replay = true;
		} else if (matches(argv[0], "flag")) {
			NEXT_ARG_VALUE(ctx);
			if (!strcmp(argv[0], "esn"))
				flags |= XFRM_STATE_ESN;
			else if (!strcmp(argv[0], "af-unspec"))
				flags |= XFRM_STATE_AF_UNSPEC;
			else
				return p_err(ctx, -EINVAL,
					     "invalid flag %s (esn or af-unspec)",
					     XS_QW(argv[0]));
		} else if (!strcmp(argv[0], "aead")) {
			err = parse_alg(ctx, XS_ALG_AEAD, &argc, &argv, &sa->aead);
			if (err)
				return err;
		} else if (!strcmp(argv[0], "enc")) {
			err = parse_alg(ctx, XS_ALG_ENC, &argc, &argv, &sa->enc);
			if (err)
				return err;
		} else if (!strcmp(argv[0], "auth")) {
			err = parse_alg(ctx, XS_ALG_AUTH, &argc, &argv, &sa->auth);
			if (err)
				return err;
		} else if (!strcmp(argv[0], "encap")) {
			uint32_t sport, dport;

			if (argc < 4)
				return p_err(ctx, -EINVAL,
					     "\"encap\" needs espinudp SPORT DPORT");
			if (strcmp(argv[1], "espinudp"))
				return p_err(ctx, -EINVAL,
					     "invalid encap type %s (espinudp)",
					     XS_QW(argv[1]));
			if (parse_u32(argv[2], &sport) || !sport || sport > 65535)
				return p_err(ctx, -EINVAL,
					     "invalid encap source port %s (1..65535)",
					     XS_QW(argv[2]));
			if (parse_u32(argv[3], &dport) || !dport || dport > 65535)
				return p_err(ctx, -EINVAL,
					     "invalid encap destination port %s (1..65535)",
					     XS_QW(argv[3]));
			sa->encap.type = UDP_ENCAP_ESPINUDP;
			sa->encap.sport = (uint16_t)sport;
			sa->encap.dport = (uint16_t)dport;
			argc -= 3;
			argv += 3;
		} else {
			return p_err(ctx, -EINVAL, "sa add: unknown argument %s",
				     XS_QW(argv[0]));
		}
		NEXT_ARG();
	}
	if (!have_src || !have_dst || !have_spi)
		return p_err(ctx, -EINVAL, "sa add: missing \"%s\"",
			     !have_src ? "src ADDR" :
			     !have_dst ? "dst ADDR" :
					 "spi SPI");
	/* Both inner families through one tunnel SA; a transport SA has
	 * no inner family of its own, so there it is only on request. */
	sa->flags = flags;
	if (sa->mode == XFRM_MODE_TUNNEL)
		sa->flags |= XFRM_STATE_AF_UNSPEC;
	/* No anti-replay unless asked for (see XS_REPLAY_DEFAULT); ESN
	 * cannot do without. */
	if ((flags & XFRM_STATE_ESN) && !have_replay && sa->dir != XFRM_SA_DIR_OUT)
		sa->replay_window = XS_REPLAY_ESN_DEFAULT;
	if (xs_sa_check(sa, why, sizeof(why)))
		return p_err(ctx, -EINVAL, "%s", why);
	return 0;
}

static int sa_add(struct xs_ctx *ctx, int argc, char **argv)
{
	struct xs_nl nl;
	struct xs_sa sa;
	int err;

	err = parse_sa_add(ctx, argc, argv, &sa);
	if (!err)
		err = xs_nl_open(ctx, &nl, NETLINK_XFRM);
	if (!err) {
		err = xs_sa_add(ctx, &nl, &sa);
		xs_nl_close(&nl);
	}
	explicit_bzero(&sa, sizeof(sa));
	return err;
}

static int sa_del(struct xs_ctx *ctx, int argc, char **argv)
{
	bool have_src = false, have_dst = false, have_spi = false;
	struct xs_nl nl;
	struct xs_sa sa;
	int err;

	xs_sa_init(&sa);
	while (argc > 0) {
		if (!strcmp(argv[0], "src")) {
			NEXT_ARG_VALUE(ctx);
			err = parse_sa_addr(ctx, "src", argv[0], &sa.src);
			if (err)
				return err;
			have_src = true;
		} else if (!strcmp(argv[0], "dst")) {
			NEXT_ARG_VALUE(ctx);
			err = parse_sa_addr(ctx, "dst", argv[0], &sa.dst);
			if (err)
				return err;
			have_dst = true;
		} else if (!strcmp(argv[0], "spi")) {
			NEXT_ARG_VALUE(ctx);
			err = parse_spi(ctx, argv[0], &sa.spi);
			if (err)
				return err;
			have_spi = true;
		} else if (!strcmp(argv[0], "if_id")) {
			NEXT_ARG_VALUE(ctx);
			err = parse_if_id(ctx, argv[0], &sa.if_id);
			if (err)
				return err;
		} else {
			return p_err(ctx, -EINVAL, "sa del: unknown argument %s",
				     XS_QW(argv[0]));
		}
		NEXT_ARG();
	}
	if (!have_src || !have_dst || !have_spi)
		return p_err(ctx, -EINVAL, "sa del: missing \"%s\"",
			     !have_src ? "src ADDR" :
			     !have_dst ? "dst ADDR" :
					 "spi SPI");
	if (sa.src.family != sa.dst.family)
		return p_err(ctx, -EINVAL,
			     "src and dst are of different families: no SA has such ends");
	err = xs_nl_open(ctx, &nl, NETLINK_XFRM);
	if (err)
		return err;
	err = xs_sa_del(ctx, &nl, &sa);
	xs_nl_close(&nl);
	return err;
}

/* --show-keys: the key goes into the record as well. */
static json_object *alg_json(const struct xs_alg *a, enum xs_alg_kind kind,
			     bool keys)
{
	json_object *o = json_object_new_object();
	char hex[2 * XS_KEY_MAX + 3];

	if (!o)
		return NULL;
	json_object_object_add(o, "name", json_object_new_string(a->name));
	json_object_object_add(o, "key_bits", json_object_new_int64(a->key_len * 8));
	if (kind == XS_ALG_AEAD)
		json_object_object_add(o, "icv_bits",
				       json_object_new_int64(a->icv_bits));
	else if (kind == XS_ALG_AUTH)
		json_object_object_add(o, "trunc_bits",
				       json_object_new_int64(a->icv_bits));
	if (keys) {
		if (a->key_len <= XS_KEY_MAX)
			xs_key_format(a->key, a->key_len, hex, sizeof(hex));
		else
			snprintf(hex, sizeof(hex), "?");
		json_object_object_add(o, "key", json_object_new_string(hex));
		explicit_bzero(hex, sizeof(hex));
	}
	return o;
}

struct sa_show {
	struct xs_ctx *ctx;
	json_object *arr;
	bool filter;
	uint32_t if_id;
};

static json_object *sa_record(struct xs_ctx *ctx, const struct xs_sa *sa)
{
	char a[INET6_ADDRSTRLEN], buf[256], hex[2 * XS_KEY_MAX + 3];
	json_object *o = json_object_new_object(), *flags;
	bool keys = ctx->show_keys;

	if (!o)
		return NULL;
	json_object_object_add(o, "src", json_object_new_string(
		format_addr(sa->src.family, sa->src.addr, a, sizeof(a))));
	json_object_object_add(o, "dst", json_object_new_string(
		format_addr(sa->dst.family, sa->dst.addr, a, sizeof(a))));
	snprintf(buf, sizeof(buf), "0x%08x", sa->spi);
	json_object_object_add(o, "spi", json_object_new_string(buf));
	json_object_object_add(o, "if_id", json_object_new_int64(sa->if_id));
	json_object_object_add(o, "reqid", json_object_new_int64(sa->reqid));
	json_object_object_add(o, "mode",
			       json_object_new_string(xs_mode_name(sa->mode)));
	flags = json_object_new_array();
	if (sa->flags & XFRM_STATE_AF_UNSPEC)
		json_object_array_add(flags, json_object_new_string("af-unspec"));
	if (sa->flags & XFRM_STATE_ESN)
		json_object_array_add(flags, json_object_new_string("esn"));
	json_object_object_add(o, "flags", flags);
	json_object_object_add(o, "replay_window",
			       json_object_new_int64(sa->replay_window));
	if (sa->aead.name[0])
		json_object_object_add(o, "aead", alg_json(&sa->aead, XS_ALG_AEAD, keys));
	if (sa->enc.name[0])
		json_object_object_add(o, "enc", alg_json(&sa->enc, XS_ALG_ENC, keys));
	if (sa->auth.name[0])
		json_object_object_add(o, "auth", alg_json(&sa->auth, XS_ALG_AUTH, keys));
	if (sa->encap.type) {
		json_object *e = json_object_new_object();

		json_object_object_add(e, "type", json_object_new_string(
			sa->encap.type == UDP_ENCAP_ESPINUDP ? "espinudp" : "other"));
		json_object_object_add(e, "sport", json_object_new_int(sa->encap.sport));
		json_object_object_add(e, "dport", json_object_new_int(sa->encap.dport));
		json_object_object_add(o, "encap", e);
	}
	/* null: an SA of both directions, as before Linux 6.10. */
	json_object_object_add(o, "dir",
			       sa->dir ? json_object_new_string(
						 sa->dir == XFRM_SA_DIR_IN ? "in" : "out") :
					 NULL);
	/* null: the SA serves every CPU. */
	json_object_object_add(o, "pcpu",
			       sa->has_pcpu ? json_object_new_int64(sa->pcpu) : NULL);
	json_object_object_add(o, "packets", json_object_new_uint64(sa->packets));
	json_object_object_add(o, "bytes", json_object_new_uint64(sa->bytes));
	json_object_object_add(o, "replay_drops",
			       json_object_new_int64(sa->replay_drops));
	json_object_object_add(o, "integrity_failures",
			       json_object_new_int64(sa->integrity_failures));
	if (ctx->json)
		return o;

	/* Text only: one cell each for the algorithms, the encapsulation
	 * and the keys. */
	if (sa->aead.name[0]) {
		snprintf(buf, sizeof(buf), "%s/%u", sa->aead.name, sa->aead.icv_bits);
		json_object_object_add(o, "algo", json_object_new_string(buf));
	} else if (sa->enc.name[0] || sa->auth.name[0]) {
		/* enc+auth/truncation; a larval SA (ACQUIRE) has neither. */
		snprintf(buf, sizeof(buf), "%s+%s/%u", sa->enc.name,
			 sa->auth.name, sa->auth.icv_bits);
		json_object_object_add(o, "algo", json_object_new_string(buf));
	}
	if (sa->encap.type) {
		snprintf(buf, sizeof(buf), "%s %u:%u",
			 sa->encap.type == UDP_ENCAP_ESPINUDP ? "espinudp" : "other",
			 sa->encap.sport, sa->encap.dport);
		json_object_object_add(o, "encap_text", json_object_new_string(buf));
	}
	if (keys) {
		const struct xs_alg *k = sa->aead.name[0] ? &sa->aead : &sa->enc;

		if (k->key_len <= XS_KEY_MAX) {
			xs_key_format(k->key, k->key_len, hex, sizeof(hex));
			json_object_object_add(o, "key_text", json_object_new_string(hex));
		}
		if (sa->auth.name[0] && sa->auth.key_len <= XS_KEY_MAX) {
			xs_key_format(sa->auth.key, sa->auth.key_len, hex, sizeof(hex));
			json_object_object_add(o, "auth_key_text",
					       json_object_new_string(hex));
		}
		explicit_bzero(hex, sizeof(hex));
	}
	return o;
}

static int sa_show_cb(const struct xs_sa *sa, void *data)
{
	struct sa_show *st = data;
	json_object *o;

	if (st->filter && sa->if_id != st->if_id)
		return 0;
	o = sa_record(st->ctx, sa);
	if (!o || json_object_array_add(st->arr, o)) {
		json_object_put(o);
		return -ENOMEM;
	}
	return 0;
}

static uint32_t rec_u32(json_object *o, const char *key)
{
	json_object *v = NULL;

	json_object_object_get_ex(o, key, &v);
	return (uint32_t)json_object_get_int64(v);
}

static const char *rec_str(json_object *o, const char *key)
{
	json_object *v = NULL;

	json_object_object_get_ex(o, key, &v);
	return v ? json_object_get_string(v) : "";
}

/* Stable output: by if_id, then dst, then spi (the kernel's order is
 * its hash table's). */
static int sa_cmp(const void *pa, const void *pb)
{
	json_object *a = *(json_object *const *)pa, *b = *(json_object *const *)pb;
	uint32_t x = rec_u32(a, "if_id"), y = rec_u32(b, "if_id");
	int c;

	if (x != y)
		return x < y ? -1 : 1;
	c = strcmp(rec_str(a, "dst"), rec_str(b, "dst"));
	if (c)
		return c;
	/* Fixed-width hex: string order is numeric order. */
	return strcmp(rec_str(a, "spi"), rec_str(b, "spi"));
}

static int sa_show(struct xs_ctx *ctx, int argc, char **argv)
{
	static const struct xs_column cols[] = {
		{ .key = "src", .title = "SRC" },
		{ .key = "dst", .title = "DST" },
		{ .key = "spi", .title = "SPI" },
		{ .key = "if_id", .title = "IF_ID", .right = true },
		{ .key = "reqid", .title = "REQID", .right = true },
		{ .key = "mode", .title = "MODE" },
		{ .key = "algo", .title = "ALGO" },
		{ .key = "encap_text", .title = "ENCAP" },
		{ .key = "dir", .title = "DIR" },
		{ .key = "pcpu", .title = "PCPU", .right = true },
		{ .key = "packets", .title = "PACKETS", .right = true, .human = true },
		{ .key = "bytes", .title = "BYTES", .right = true, .human = true },
		/* Shown only with --show-keys: see below. */
		{ .key = "key_text", .title = "KEY" },
		{ .key = "auth_key_text", .title = "AUTH_KEY" },
	};
	struct sa_show st = { .ctx = ctx };
	struct xs_nl nl;
	int err;

	while (argc > 0) {
		if (!strcmp(argv[0], "if_id")) {
			NEXT_ARG_VALUE(ctx);
			err = parse_if_id(ctx, argv[0], &st.if_id);
			if (err)
				return err;
			st.filter = true;
		} else {
			return p_err(ctx, -EINVAL, "sa show: unknown argument %s",
				     XS_QW(argv[0]));
		}
		NEXT_ARG();
	}
	st.arr = json_object_new_array();
	if (!st.arr)
		return p_err(ctx, -ENOMEM, "out of memory");
	err = xs_nl_open(ctx, &nl, NETLINK_XFRM);
	if (!err) {
		err = xs_sa_dump(ctx, &nl, sa_show_cb, &st);
		if (err == -ENOMEM)
			p_err(ctx, err, "out of memory");
		xs_nl_close(&nl);
	}
	if (!err) {
		json_object_array_sort(st.arr, sa_cmp);
		show_records(ctx, st.arr, cols,
			     ctx->show_keys ? ARRAY_SIZE(cols) : ARRAY_SIZE(cols) - 2);
	}
	xs_json_wipe(st.arr); /* keys with --show-keys */
	json_object_put(st.arr);
	return err;
}

static int sa_flush(struct xs_ctx *ctx, int argc, char **argv)
{
	bool filter = false;
	unsigned int n;
	uint32_t if_id = 0;
	struct xs_nl nl;
	int err;

	while (argc > 0) {
		if (!strcmp(argv[0], "if_id")) {
			NEXT_ARG_VALUE(ctx);
			err = parse_if_id(ctx, argv[0], &if_id);
			if (err)
				return err;
			filter = true;
		} else {
			return p_err(ctx, -EINVAL, "sa flush: unknown argument %s",
				     XS_QW(argv[0]));
		}
		NEXT_ARG();
	}
	err = xs_nl_open(ctx, &nl, NETLINK_XFRM);
	if (err)
		return err;
	if (filter)
		err = xs_sa_flush_if_id(ctx, &nl, if_id, &n);
	else
		err = xs_sa_flush(ctx, &nl);
	xs_nl_close(&nl);
	if (!err && filter && ctx->verbose)
		p_info(ctx, "deleted %u SAs with if_id %u", n, if_id);
	return err;
}

int do_sa(struct xs_ctx *ctx, int argc, char **argv)
{
	static const struct xs_cmd cmds[] = {
		{ "show", sa_show },   { "list", sa_show },
		{ "add", sa_add },     { "delete", sa_del },
		{ "flush", sa_flush }, { "help", sa_help },
		{ NULL, NULL },
	};

	return xs_cmd_select(ctx, cmds, argc, argv, sa_help);
}

// SPDX-License-Identifier: GPL-2.0
/* xfrm-steer policy: IPsec policies (which traffic needs which SA). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/netlink.h>

#include "common.h"
#include "xfrm.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static int policy_help(struct xs_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	fprintf(xs_help_out(ctx),
		"Usage: xfrm-steer policy add dir DIR [ src PREFIX ] [ dst PREFIX ] [ if_id ID ]\n"
		"                             [ priority N ] tmpl src ADDR dst ADDR\n"
		"                             [ mode MODE ] [ reqid N ]\n"
		"       xfrm-steer policy del dir DIR [ src PREFIX ] [ dst PREFIX ] [ if_id ID ]\n"
		"       xfrm-steer policy { show | list } [ dir DIR ] [ if_id ID ]\n"
		"       xfrm-steer policy flush [ if_id ID ]\n"
		"where  DIR    := { in | out | fwd }\n"
		"       PREFIX := { IPV4ADDR[/LEN] | IPV6ADDR[/LEN] }: the selector, of one family\n"
		"       ID     := if_id, decimal or 0x-hex; always shown in decimal; omitted\n"
		"                 or 0: a policy for traffic outside any xfrm interface\n"
		"       ADDR   := tunnel end (the SA's src and dst); may differ in family\n"
		"                 from the selector in tunnel mode\n"
		"       MODE   := { tunnel | transport }   (default tunnel)\n"
		"Notes: The selector's missing half is the wildcard of the given half's\n"
		"       family. With neither src nor dst, a tunnel-mode policy is added for\n"
		"       IPv4 (0.0.0.0/0) and IPv6 (::/0) alike, as the SAs carry both (flag\n"
		"       af-unspec); give a prefix to cover one family only. A transport-mode\n"
		"       policy is of its template's family. Either all are added or none.\n"
		"       del names a policy by dir, selector and if_id, as the kernel does;\n"
		"       with neither src nor dst it deletes the IPv4 and IPv6 wildcard\n"
		"       policies of that dir and if_id, whichever exist.\n"
		"       flush without if_id removes EVERY policy of the network namespace,\n"
		"       whoever made it (like \"ip xfrm policy flush\"); with if_id, only\n"
		"       the policies bound to that if_id.\n");
	return 0;
}

struct policy_args {
	uint8_t dir;
	bool have_dir;
	struct xs_prefix src, dst; /* selector */
	bool have_src, have_dst;
	uint32_t if_id;
	uint32_t priority;
	bool have_tmpl, have_tmpl_src, have_tmpl_dst;
	struct xs_tmpl tmpl;
};

static int parse_dir(struct xs_ctx *ctx, const char *s, uint8_t *dir)
{
	if (!strcmp(s, "in"))
		*dir = XFRM_POLICY_IN;
	else if (!strcmp(s, "out"))
		*dir = XFRM_POLICY_OUT;
	else if (!strcmp(s, "fwd"))
		*dir = XFRM_POLICY_FWD;
	else
		return p_err(ctx, -EINVAL, "invalid dir \"%s\" (in, out or fwd)", s);
	return 0;
}

static int parse_if_id(struct xs_ctx *ctx, const char *s, uint32_t *if_id)
{
	if (parse_u32(s, if_id))
		return p_err(ctx, -EINVAL,
			     "invalid if_id \"%s\" (0..4294967295, decimal or 0x-hex)",
			     s);
	return 0;
}

static int parse_sel(struct xs_ctx *ctx, const char *word, const char *s,
		     struct xs_prefix *p)
{
	int err = parse_prefix(s, p, false);

	if (err == -ERANGE)
		return p_err(ctx, err,
			     "%s prefix \"%s\" has host bits set beyond its length",
			     word, s);
	if (err)
		return p_err(ctx, err, "invalid %s prefix \"%s\"", word, s);
	return 0;
}

static int parse_policy_args(struct xs_ctx *ctx, int argc, char **argv,
			     bool add, struct policy_args *a)
{
	const char *verb = add ? "add" : "del";
	bool in_tmpl = false;
	int err;

	memset(a, 0, sizeof(*a));
	a->tmpl.mode = XFRM_MODE_TUNNEL;
	while (argc > 0) {
		if (matches(argv[0], "dir")) {
			NEXT_ARG_VALUE(ctx);
			err = parse_dir(ctx, argv[0], &a->dir);
			if (err)
				return err;
			a->have_dir = true;
		} else if (!strcmp(argv[0], "src") || !strcmp(argv[0], "dst")) {
			bool src = argv[0][0] == 's';

			NEXT_ARG_VALUE(ctx);
			/* After "tmpl", src and dst are the tunnel's ends. */
			if (in_tmpl) {
				struct xs_prefix *p = src ? &a->tmpl.src : &a->tmpl.dst;

				if (parse_addr(argv[0], p))
					return p_err(ctx, -EINVAL,
						     "invalid tmpl %s address \"%s\"",
						     src ? "src" : "dst", argv[0]);
				if (src)
					a->have_tmpl_src = true;
				else
					a->have_tmpl_dst = true;
			} else {
				err = parse_sel(ctx, src ? "src" : "dst", argv[0],
						src ? &a->src : &a->dst);
				if (err)
					return err;
				if (src)
					a->have_src = true;
				else
					a->have_dst = true;
			}
		} else if (!strcmp(argv[0], "if_id")) {
			NEXT_ARG_VALUE(ctx);
			err = parse_if_id(ctx, argv[0], &a->if_id);
			if (err)
				return err;
		} else if (add && matches(argv[0], "priority")) {
			NEXT_ARG_VALUE(ctx);
			if (parse_u32(argv[0], &a->priority))
				return p_err(ctx, -EINVAL, "invalid priority \"%s\"",
					     argv[0]);
		} else if (add && !strcmp(argv[0], "tmpl")) {
			if (a->have_tmpl)
				return p_err(ctx, -EINVAL,
					     "\"tmpl\" given twice: one template per policy");
			a->have_tmpl = in_tmpl = true;
		} else if (add && (matches(argv[0], "mode") ||
				   matches(argv[0], "reqid"))) {
			bool mode = argv[0][0] == 'm';

			if (!in_tmpl)
				return p_err(ctx, -EINVAL,
					     "\"%s\" belongs to the template: put it after \"tmpl\"",
					     argv[0]);
			NEXT_ARG_VALUE(ctx);
			if (!mode) {
				if (parse_u32(argv[0], &a->tmpl.reqid))
					return p_err(ctx, -EINVAL,
						     "invalid reqid \"%s\"", argv[0]);
			} else if (matches(argv[0], "tunnel")) {
				a->tmpl.mode = XFRM_MODE_TUNNEL;
			} else if (matches(argv[0], "transport")) {
				a->tmpl.mode = XFRM_MODE_TRANSPORT;
			} else {
				return p_err(ctx, -EINVAL,
					     "invalid mode \"%s\" (tunnel or transport)",
					     argv[0]);
			}
		} else {
			return p_err(ctx, -EINVAL, "policy %s: unknown argument \"%s\"",
				     verb, argv[0]);
		}
		NEXT_ARG();
	}
	if (!a->have_dir)
		return p_err(ctx, -EINVAL, "policy %s: missing \"dir DIR\"", verb);
	if (a->have_src && a->have_dst && a->src.family != a->dst.family)
		return p_err(ctx, -EINVAL,
			     "src and dst prefixes are of different families: a policy's selector is of one family");
	if (!add)
		return 0;
	if (!a->have_tmpl)
		return p_err(ctx, -EINVAL,
			     "policy add: missing \"tmpl src ADDR dst ADDR\"");
	if (!a->have_tmpl_src || !a->have_tmpl_dst)
		return p_err(ctx, -EINVAL, "policy add: tmpl needs \"%s ADDR\"",
			     a->have_tmpl_src ? "dst" : "src");
	if (a->tmpl.src.family != a->tmpl.dst.family)
		return p_err(ctx, -EINVAL,
			     "tmpl src and dst are of different families: both ends of a tunnel are of one family");
	return 0;
}

/* The policies a command names: one per selector family. */
static unsigned int build_policies(const struct policy_args *a, bool add,
				   struct xs_policy pol[2])
{
	int families[2];
	unsigned int n = 0, i;

	if (a->have_src || a->have_dst)
		families[n++] = a->have_src ? a->src.family : a->dst.family;
	else if (add && a->tmpl.mode == XFRM_MODE_TRANSPORT)
		families[n++] = a->tmpl.src.family;
	else {
		families[n++] = AF_INET;
		families[n++] = AF_INET6;
	}
	for (i = 0; i < n; i++) {
		/* The wildcard of the family, then whatever was given. */
		xs_policy_init(&pol[i], a->dir, families[i]);
		if (a->have_src)
			pol[i].sel_src = a->src;
		if (a->have_dst)
			pol[i].sel_dst = a->dst;
		pol[i].if_id = a->if_id;
		pol[i].priority = a->priority;
		if (add) {
			pol[i].ntmpl = 1;
			pol[i].tmpl[0] = a->tmpl;
		}
	}
	return n;
}

static int policy_add(struct xs_ctx *ctx, int argc, char **argv)
{
	struct policy_args a;
	struct xs_policy pol[2];
	char why[256], name[200];
	unsigned int n, i, j;
	struct xs_nl nl;
	int err;

	err = parse_policy_args(ctx, argc, argv, true, &a);
	if (err)
		return err;
	n = build_policies(&a, true, pol);
	for (i = 0; i < n; i++)
		if (xs_policy_check(&pol[i], why, sizeof(why)))
			return p_err(ctx, -EINVAL, "%s", why);
	err = xs_nl_open(ctx, &nl, NETLINK_XFRM);
	if (err)
		return err;
	for (i = 0; i < n; i++) {
		err = xs_policy_add(ctx, &nl, &pol[i]);
		if (!err)
			continue;
		/* All or nothing: take back the ones added before. */
		for (j = 0; j < i; j++)
			if (xs_policy_del(ctx, &nl, &pol[j], true))
				p_err(ctx, -EIO,
				      "%s was added and cannot be removed again: delete it by hand",
				      xs_policy_name(&pol[j], name, sizeof(name)));
		break;
	}
	xs_nl_close(&nl);
	return err;
}

static int policy_del(struct xs_ctx *ctx, int argc, char **argv)
{
	struct policy_args a;
	struct xs_policy pol[2];
	char name[200];
	bool exists[2] = { false, false };
	unsigned int n, i, found = 0;
	struct xs_nl nl;
	int err;

	err = parse_policy_args(ctx, argc, argv, false, &a);
	if (err)
		return err;
	n = build_policies(&a, false, pol);
	err = xs_nl_open(ctx, &nl, NETLINK_XFRM);
	if (err)
		return err;
	if (n == 1) {
		err = xs_policy_del(ctx, &nl, &pol[0], false);
		goto out;
	}
	/* The two wildcard policies: look before deleting, so that a
	 * failure leaves both in place. */
	for (i = 0; i < n; i++) {
		err = xs_policy_exists(ctx, &nl, &pol[i]);
		if (err < 0)
			goto out;
		exists[i] = err;
		found += exists[i];
	}
	err = 0;
	if (!found) {
		err = p_err(ctx, -ENOENT, "no %s, nor one for ::/0",
			    xs_policy_name(&pol[0], name, sizeof(name)));
		goto out;
	}
	for (i = 0; i < n && !err; i++)
		if (exists[i])
			err = xs_policy_del(ctx, &nl, &pol[i], false);
out:
	xs_nl_close(&nl);
	return err;
}

struct policy_show {
	struct xs_ctx *ctx;
	json_object *arr;
	bool by_if_id, by_dir;
	uint32_t if_id;
	uint8_t dir;
};

static const char *proto_name(uint8_t proto, char *buf, size_t len)
{
	switch (proto) {
	case IPPROTO_ESP:
		return "esp";
	case IPPROTO_AH:
		return "ah";
	case IPPROTO_COMP:
		return "comp";
	}
	snprintf(buf, len, "%u", proto);
	return buf;
}

static json_object *policy_record(struct xs_ctx *ctx, const struct xs_policy *pol)
{
	char a[64], pbuf[8];
	json_object *o = json_object_new_object(), *tmpls;
	unsigned int i;

	if (!o)
		return NULL;
	json_object_object_add(o, "dir", json_object_new_string(xs_dir_name(pol->dir)));
	json_object_object_add(o, "src", json_object_new_string(
		format_prefix(&pol->sel_src, a, sizeof(a))));
	json_object_object_add(o, "dst", json_object_new_string(
		format_prefix(&pol->sel_dst, a, sizeof(a))));
	json_object_object_add(o, "if_id", json_object_new_int64(pol->if_id));
	json_object_object_add(o, "priority", json_object_new_int64(pol->priority));
	json_object_object_add(o, "action", json_object_new_string(
		pol->action == XFRM_POLICY_ALLOW ? "allow" : "block"));
	tmpls = json_object_new_array();
	for (i = 0; i < pol->ntmpl; i++) {
		const struct xs_tmpl *t = &pol->tmpl[i];
		json_object *to = json_object_new_object();

		json_object_object_add(to, "src", json_object_new_string(
			format_addr(t->src.family, t->src.addr, a, sizeof(a))));
		json_object_object_add(to, "dst", json_object_new_string(
			format_addr(t->dst.family, t->dst.addr, a, sizeof(a))));
		json_object_object_add(to, "proto", json_object_new_string(
			proto_name(t->proto, pbuf, sizeof(pbuf))));
		json_object_object_add(to, "mode",
				       json_object_new_string(xs_mode_name(t->mode)));
		json_object_object_add(to, "reqid", json_object_new_int64(t->reqid));
		if (t->spi) {
			snprintf(a, sizeof(a), "0x%08x", t->spi);
			json_object_object_add(to, "spi", json_object_new_string(a));
		}
		json_object_array_add(tmpls, to);
	}
	json_object_object_add(o, "tmpl", tmpls);
	if (ctx->json || !pol->ntmpl)
		return o;

	/* Text only: the first template in cells of its own. */
	json_object_object_add(o, "tmpl_src", json_object_new_string(format_addr(
		pol->tmpl[0].src.family, pol->tmpl[0].src.addr, a, sizeof(a))));
	json_object_object_add(o, "tmpl_dst", json_object_new_string(format_addr(
		pol->tmpl[0].dst.family, pol->tmpl[0].dst.addr, a, sizeof(a))));
	json_object_object_add(o, "tmpl_mode",
			       json_object_new_string(xs_mode_name(pol->tmpl[0].mode)));
	json_object_object_add(o, "tmpl_reqid",
			       json_object_new_int64(pol->tmpl[0].reqid));
	if (pol->ntmpl > 1)
		json_object_object_add(o, "more",
				       json_object_new_int64(pol->ntmpl - 1));
	return o;
}

static int policy_show_cb(const struct xs_policy *pol, void *data)
{
	struct policy_show *st = data;
	json_object *o;

	if ((st->by_if_id && pol->if_id != st->if_id) ||
	    (st->by_dir && pol->dir != st->dir))
		return 0;
	o = policy_record(st->ctx, pol);
	if (!o || json_object_array_add(st->arr, o)) {
		json_object_put(o);
		return -ENOMEM;
	}
	return 0;
}

static int64_t rec_int(json_object *o, const char *key)
{
	json_object *v = NULL;

	json_object_object_get_ex(o, key, &v);
	return json_object_get_int64(v);
}

static const char *rec_str(json_object *o, const char *key)
{
	json_object *v = NULL;

	json_object_object_get_ex(o, key, &v);
	return v ? json_object_get_string(v) : "";
}

/* Stable output: by if_id, direction, then selector. */
static int policy_cmp(const void *pa, const void *pb)
{
	json_object *a = *(json_object *const *)pa, *b = *(json_object *const *)pb;
	int64_t x = rec_int(a, "if_id"), y = rec_int(b, "if_id");
	int c;

	if (x != y)
		return x < y ? -1 : 1;
	c = strcmp(rec_str(a, "dir"), rec_str(b, "dir"));
	if (!c)
		c = strcmp(rec_str(a, "src"), rec_str(b, "src"));
	if (!c)
		c = strcmp(rec_str(a, "dst"), rec_str(b, "dst"));
	return c;
}

static int policy_show(struct xs_ctx *ctx, int argc, char **argv)
{
	static const struct xs_column cols[] = {
		{ .key = "dir", .title = "DIR" },
		{ .key = "src", .title = "SRC" },
		{ .key = "dst", .title = "DST" },
		{ .key = "if_id", .title = "IF_ID", .right = true },
		{ .key = "priority", .title = "PRIORITY", .right = true },
		{ .key = "action", .title = "ACTION" },
		{ .key = "tmpl_src", .title = "TMPL_SRC" },
		{ .key = "tmpl_dst", .title = "TMPL_DST" },
		{ .key = "tmpl_mode", .title = "TMPL_MODE" },
		{ .key = "tmpl_reqid", .title = "TMPL_REQID", .right = true },
	};
	struct policy_show st = { .ctx = ctx };
	struct xs_nl nl;
	int err;

	while (argc > 0) {
		if (!strcmp(argv[0], "if_id")) {
			NEXT_ARG_VALUE(ctx);
			err = parse_if_id(ctx, argv[0], &st.if_id);
			if (err)
				return err;
			st.by_if_id = true;
		} else if (matches(argv[0], "dir")) {
			NEXT_ARG_VALUE(ctx);
			err = parse_dir(ctx, argv[0], &st.dir);
			if (err)
				return err;
			st.by_dir = true;
		} else {
			return p_err(ctx, -EINVAL,
				     "policy show: unknown argument \"%s\"", argv[0]);
		}
		NEXT_ARG();
	}
	st.arr = json_object_new_array();
	if (!st.arr)
		return p_err(ctx, -ENOMEM, "out of memory");
	err = xs_nl_open(ctx, &nl, NETLINK_XFRM);
	if (!err) {
		err = xs_policy_dump(ctx, &nl, policy_show_cb, &st);
		if (err == -ENOMEM)
			p_err(ctx, err, "out of memory");
		xs_nl_close(&nl);
	}
	if (!err) {
		json_object_array_sort(st.arr, policy_cmp);
		show_records(ctx, st.arr, cols, ARRAY_SIZE(cols));
	}
	json_object_put(st.arr);
	return err;
}

static int policy_flush(struct xs_ctx *ctx, int argc, char **argv)
{
	bool filter = false;
	uint32_t if_id = 0;
	unsigned int n;
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
			return p_err(ctx, -EINVAL,
				     "policy flush: unknown argument \"%s\"", argv[0]);
		}
		NEXT_ARG();
	}
	err = xs_nl_open(ctx, &nl, NETLINK_XFRM);
	if (err)
		return err;
	if (filter)
		err = xs_policy_flush_if_id(ctx, &nl, if_id, &n);
	else
		err = xs_policy_flush(ctx, &nl);
	xs_nl_close(&nl);
	if (!err && filter && ctx->verbose)
		p_info(ctx, "deleted %u policies with if_id %u", n, if_id);
	return err;
}

int do_policy(struct xs_ctx *ctx, int argc, char **argv)
{
	static const struct xs_cmd cmds[] = {
		{ "show", policy_show },   { "list", policy_show },
		{ "add", policy_add },     { "delete", policy_del },
		{ "flush", policy_flush }, { "help", policy_help },
		{ NULL, NULL },
	};

	return xs_cmd_select(ctx, cmds, argc, argv, policy_help);
}

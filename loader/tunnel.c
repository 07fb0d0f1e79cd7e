// SPDX-License-Identifier: GPL-2.0
/*
 * xfrm-steer tunnel: a named tunnel is an SA pair, the in/out/fwd policies
 * of its if_id and the routes of its prefixes, made and removed as one
 * (the engine in apply.c does the work, with its undo log).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/udp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "config.h"
#include "iifbind.h"
#include "report.h"
#include "keys.h"
#include "netlink.h"
#include "plan.h"
#include "state.h"
#include "tunnel.h"
#include "xfrm.h"
#include "xfrm_steer.skel.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static int tunnel_help(struct xs_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	fprintf(xs_help_out(ctx),
		"Usage: xfrm-steer tunnel add NAME if_id ID local ADDR remote ADDR\n"
		"                             spi-in SPI spi-out SPI ALGO [ out-key KEY ]\n"
		"                             [ out-auth-key KEY ] [ reqid N ] [ mode MODE ]\n"
		"                             [ replay-window N ] [ flag FLAG ]...\n"
		"                             [ encap espinudp SPORT DPORT ]\n"
		"                             [ prefix PREFIX ]... [ tenant TENANT ] dev IFNAME\n"
		"       xfrm-steer tunnel del NAME [ dev IFNAME ]\n"
		"       xfrm-steer tunnel { show | list } [ NAME ] [ dev IFNAME ]\n"
		"where  NAME   := 1..31 letters, digits, '.', '_' or '-'\n"
		"       ADDR   := the tunnel's outer addresses, local (this host) and remote,\n"
		"                 of one family\n"
		"       SPI    := 256..4294967295; spi-in is the SA remote -> local, spi-out\n"
		"                 the SA local -> remote\n"
		"       ALGO   := { aead ANAME KEY ICV_BITS | enc ENAME KEY auth HNAME KEY }\n"
		"                 as for \"xfrm-steer sa\" (see \"xfrm-steer sa help\")\n"
		"       KEY    := { 0xHEX | @FILE }: serves both SAs; out-key (and for enc,\n"
		"                 out-auth-key) gives the outbound SA a key of its own\n"
		"       MODE   := { tunnel | transport }   (default tunnel)\n"
		"       FLAG   := { esn | same-spi }\n"
		"       PREFIX := a destination routed into the tunnel (IPv4 or IPv6)\n"
		"       TENANT := the tenant of its routes, as for \"xfrm-steer route\"\n"
		"       SPORT, DPORT := UDP ports of the outbound packets: ours, the peer's\n"
		"Notes: add makes the SA pair, the out, in and fwd policies of the if_id\n"
		"       (IPv4 and IPv6 in tunnel mode) and the routes, or nothing: a part\n"
		"       that fails takes back what was made. The tunnel is kept with the\n"
		"       device's pinned state; del removes exactly what it is made of.\n"
		"       show lists its SAs with their counters, its policies, prefixes and\n"
		"       per-tunnel counters; keys only with --show-keys.\n"
		"       replay-window defaults to 0, no anti-replay (as for \"ip xfrm\"): a\n"
		"       restarted side starts again at sequence number 1, and with a window\n"
		"       its peer drops everything until its counter passes the old top, so\n"
		"       a manually keyed tunnel with one dies when either side restarts.\n"
		"       replay-window N turns anti-replay on. flag esn needs a window (the\n"
		"       kernel refuses 0) and defaults to 32: a manual ESN tunnel survives a\n"
		"       restart only if both sides are made again with new keys.\n"
		"       spi-in equal to spi-out with one key for both SAs (no out-key) is\n"
		"       refused: a packet reflected back to its sender would authenticate.\n"
		"       Use distinct SPIs or out-key; flag same-spi allows it anyway.\n");
	return 0;
}

static int dup_key(struct xs_ctx *ctx, const char *what, const char *arg, char **out)
{
	if (!((arg[0] == '@' && arg[1]) || (arg[0] == '0' && (arg[1] == 'x' || arg[1] == 'X'))))
		return p_err(ctx, -EINVAL, "%s: expected 0x followed by hex digits, or @FILE",
			     what);
	if (*out) /* given twice: the first one goes */
		explicit_bzero(*out, strlen(*out));
	free(*out);
	*out = strdup(arg);
	return *out ? 0 : p_err(ctx, -ENOMEM, "out of memory");
}

/* "aead NAME KEY ICV_BITS", "enc NAME KEY", "auth NAME KEY": consumes the
 * words after the keyword from *argcp and *argvp, leaving the last current. */
static int parse_alg_words(struct xs_ctx *ctx, enum xs_alg_kind kind, int *argcp, char ***argvp,
			   struct xs_cfg_alg *a)
{
	const char *kn = xs_alg_kind_name(kind);
	int need = kind == XS_ALG_AEAD ? 4 : 3;
	const struct xs_alg_desc *d;
	char what[32];
	char **argv = *argvp;
	int err;

	if (a->name[0])
		return p_err(ctx, -EINVAL, "\"%s\" given twice", kn);
	if (*argcp < need || !xs_word_shown(argv[1]))
		return p_err(ctx, -EINVAL, "\"%s\" needs %s", kn,
			     kind == XS_ALG_AEAD ? "NAME KEY ICV_BITS" : "NAME KEY");
	d = xs_alg_find(kind, argv[1]);
	if (!d) {
		d = xs_alg_find_any(argv[1]);
		if (d)
			return p_err(ctx, -EINVAL, "%s %s is an %s algorithm, not %s", kn,
				     XS_QW(argv[1]), xs_alg_kind_name(d->kind), kn);
		return p_err(ctx, -EINVAL, "unknown %s algorithm %s (see \"xfrm-steer sa help\")",
			     kn, XS_QW(argv[1]));
	}
	snprintf(a->name, sizeof(a->name), "%s", d->name);
	snprintf(what, sizeof(what), "%s key", kn);
	err = dup_key(ctx, what, argv[2], &a->key);
	if (err)
		return err;
	if (kind == XS_ALG_AEAD && parse_u32(argv[3], &a->bits))
		return p_err(ctx, -EINVAL, "invalid ICV_BITS %s of aead", XS_QW(argv[3]));
	if (kind == XS_ALG_AUTH)
		a->bits = d->icv_bits[0];
	*argcp -= need - 1;
	*argvp += need - 1;
	return 0;
}

static int parse_addr_word(struct xs_ctx *ctx, const char *word, const char *s,
			   struct xs_prefix *p, bool *have)
{
	if (parse_addr(s, p))
		return p_err(ctx, -EINVAL, "invalid %s address %s", word, XS_QW(s));
	*have = true;
	return 0;
}

static int parse_u32_word(struct xs_ctx *ctx, const char *word, const char *s, uint32_t *v,
			  bool *have)
{
	if (parse_u32(s, v))
		return p_err(ctx, -EINVAL, "invalid %s %s (decimal or 0x-hex)", word, XS_QW(s));
	if (have)
		*have = true;
	return 0;
}

static void free_key(char **k)
{
	if (*k) {
		explicit_bzero(*k, strlen(*k));
		free(*k);
	}
	*k = NULL;
}

/* The words of tunnel add. Returns early on many paths (NEXT_ARG_VALUE
 * among them): the keys it holds for a while are the caller's, in *okp and
 * *oakp, which wipes them whatever happens. */
static int parse_tunnel_words(struct xs_ctx *ctx, int argc, char **argv, struct xs_cfg_tunnel *t,
			      char **okp, char **oakp)
{
	bool have_if_id = false, have_local = false, have_remote = false;
	bool have_in = false, have_out = false, have_replay = false;
	const char *dev = NULL;
	char why[384];
	int err = 0;

	memset(t, 0, sizeof(*t));
	t->mode = XFRM_MODE_TUNNEL;
	t->replay_window = XS_REPLAY_DEFAULT;
	if (argc < 1)
		return p_err(ctx, -EINVAL, "tunnel add: missing NAME");
	if (xs_cfg_tunnel_name_ok(argv[0]))
		return p_err(ctx, -EINVAL,
			     "invalid tunnel name %s (1..31 letters, digits, '.', '_' or '-', not starting with '-')",
			     XS_QW(argv[0]));
	snprintf(t->name, sizeof(t->name), "%s", argv[0]);
	NEXT_ARG();
	t->prefixes = calloc((size_t)argc + 1, sizeof(*t->prefixes));
	if (!t->prefixes)
		return p_err(ctx, -ENOMEM, "out of memory");
	while (argc > 0 && !err) {
		if (!strcmp(argv[0], "if_id")) {
			NEXT_ARG_VALUE(ctx);
			err = parse_u32_word(ctx, "if_id", argv[0], &t->if_id, &have_if_id);
			if (!err && !t->if_id)
				err = p_err(ctx, -EINVAL, "invalid if_id 0 (1..4294967295)");
		} else if (!strcmp(argv[0], "local")) {
			NEXT_ARG_VALUE(ctx);
			err = parse_addr_word(ctx, "local", argv[0], &t->local, &have_local);
		} else if (!strcmp(argv[0], "remote")) {
			NEXT_ARG_VALUE(ctx);
			err = parse_addr_word(ctx, "remote", argv[0], &t->remote, &have_remote);
		} else if (!strcmp(argv[0], "spi-in")) {
			NEXT_ARG_VALUE(ctx);
			err = parse_u32_word(ctx, "spi-in", argv[0], &t->spi_in, &have_in);
		} else if (!strcmp(argv[0], "spi-out")) {
			NEXT_ARG_VALUE(ctx);
			err = parse_u32_word(ctx, "spi-out", argv[0], &t->spi_out, &have_out);
		} else if (!strcmp(argv[0], "aead")) {
			err = parse_alg_words(ctx, XS_ALG_AEAD, &argc, &argv, &t->aead);
		} else if (!strcmp(argv[0], "enc")) {
			err = parse_alg_words(ctx, XS_ALG_ENC, &argc, &argv, &t->enc);
		} else if (!strcmp(argv[0], "auth")) {
			err = parse_alg_words(ctx, XS_ALG_AUTH, &argc, &argv, &t->auth);
		} else if (!strcmp(argv[0], "out-key")) {
			NEXT_ARG_VALUE(ctx);
			err = dup_key(ctx, "out-key", argv[0], okp);
		} else if (!strcmp(argv[0], "out-auth-key")) {
			NEXT_ARG_VALUE(ctx);
			err = dup_key(ctx, "out-auth-key", argv[0], oakp);
		} else if (!strcmp(argv[0], "reqid")) {
			NEXT_ARG_VALUE(ctx);
			err = parse_u32_word(ctx, "reqid", argv[0], &t->reqid, NULL);
		} else if (!strcmp(argv[0], "mode")) {
			NEXT_ARG_VALUE(ctx);
			if (!strcmp(argv[0], "tunnel"))
				t->mode = XFRM_MODE_TUNNEL;
			else if (!strcmp(argv[0], "transport"))
				t->mode = XFRM_MODE_TRANSPORT;
			else
				err = p_err(ctx, -EINVAL, "invalid mode %s (tunnel or transport)",
					    XS_QW(argv[0]));
		} else if (!strcmp(argv[0], "replay-window")) {
			NEXT_ARG_VALUE(ctx);
			err = parse_u32_word(ctx, "replay-window", argv[0], &t->replay_window,
					     &have_replay);
			if (!err && t->replay_window > XS_REPLAY_MAX)
				err = p_err(ctx, -EINVAL, "invalid replay-window %u (0..%u packets)",
					    t->replay_window, XS_REPLAY_MAX);
		} else if (!strcmp(argv[0], "flag")) {
			NEXT_ARG_VALUE(ctx);
			if (!strcmp(argv[0], "esn"))
				t->esn = true;
			else if (!strcmp(argv[0], "same-spi"))
				t->allow_same_spi = true;
			else
				err = p_err(ctx, -EINVAL, "invalid flag %s (esn or same-spi)",
					    XS_QW(argv[0]));
		} else if (!strcmp(argv[0], "encap")) {
			uint32_t sport, dport;

			if (argc < 4)
				return p_err(ctx, -EINVAL, "\"encap\" needs espinudp SPORT DPORT");
			if (strcmp(argv[1], "espinudp"))
				return p_err(ctx, -EINVAL, "invalid encap type %s (espinudp)",
					     XS_QW(argv[1]));
			if (parse_u32(argv[2], &sport) || !sport || sport > 65535 ||
			    parse_u32(argv[3], &dport) || !dport || dport > 65535)
				return p_err(ctx, -EINVAL, "invalid encap ports %s %s (1..65535)",
					     XS_QW(argv[2]), XS_QW(argv[3]));
			t->encap.type = UDP_ENCAP_ESPINUDP;
			t->encap.sport = (uint16_t)sport;
			t->encap.dport = (uint16_t)dport;
			argc -= 3;
			argv += 3;
		} else if (!strcmp(argv[0], "prefix")) {
			NEXT_ARG_VALUE(ctx);
			err = parse_prefix(argv[0], &t->prefixes[t->nprefixes], false);
			if (err == -ERANGE)
				err = p_err(ctx, err, "prefix %s has host bits set beyond its length",
					    XS_QW(argv[0]));
			else if (err)
				err = p_err(ctx, err, "invalid prefix %s", XS_QW(argv[0]));
			else
				t->nprefixes++;
		} else if (!strcmp(argv[0], "tenant")) {
			NEXT_ARG_VALUE(ctx);
			if (xs_cfg_parse_tenant(argv[0], &t->tenant))
				err = p_err(ctx, -EINVAL,
					    "invalid tenant %s (a number, or an interface name)",
					    XS_QW(argv[0]));
		} else if (!strcmp(argv[0], "dev")) {
			NEXT_ARG_VALUE(ctx);
			dev = argv[0];
		} else {
			err = p_err(ctx, -EINVAL, "tunnel add: unknown argument %s",
				    XS_QW(argv[0]));
		}
		if (!err)
			NEXT_ARG();
	}
	if (err)
		return err;
	/* No anti-replay unless asked for (see XS_REPLAY_DEFAULT); ESN
	 * cannot do without. */
	if (t->esn && !have_replay)
		t->replay_window = XS_REPLAY_ESN_DEFAULT;
	if (t->esn && !t->replay_window) {
		err = p_err(ctx, -EINVAL,
			    "flag esn needs a replay-window of 1..%u, the kernel refuses an ESN SA without one (leave replay-window out for %u, or drop flag esn)",
			    XS_REPLAY_MAX, XS_REPLAY_ESN_DEFAULT);
		return err;
	}
	if (!have_if_id || !have_local || !have_remote || !have_in || !have_out || !dev) {
		err = p_err(ctx, -EINVAL, "tunnel add: missing \"%s\"",
			    !have_if_id ? "if_id ID" :
			    !have_local ? "local ADDR" :
			    !have_remote ? "remote ADDR" :
			    !have_in ? "spi-in SPI" :
			    !have_out ? "spi-out SPI" : "dev IFNAME");
		return err;
	}
	if (!*dev || strlen(dev) >= sizeof(t->dev) || strchr(dev, '/')) {
		err = p_err(ctx, -EINVAL, "invalid device name %s", XS_QW(dev));
		return err;
	}
	snprintf(t->dev, sizeof(t->dev), "%s", dev);
	if (*okp) {
		struct xs_cfg_alg *a = t->aead.name[0] ? &t->aead : &t->enc;

		if (!a->name[0])
			return p_err(ctx, -EINVAL, "out-key: the tunnel has no algorithm yet");
		a->key_out = *okp;
		*okp = NULL;
	}
	if (*oakp) {
		if (!t->auth.name[0])
			return p_err(ctx, -EINVAL, "out-auth-key: only with \"auth NAME KEY\"");
		t->auth.key_out = *oakp;
		*oakp = NULL;
	}
	/* The same checks as a file's tunnel, same-spi among them. */
	if (xs_cfg_tunnel_check(t, why, sizeof(why)))
		return p_err(ctx, -EINVAL, "tunnel \"%s\": %s", t->name, why);
	return 0;
}

/* t's own keys are freed (wiped) with it by xs_config_free(). */
static int parse_tunnel_add(struct xs_ctx *ctx, int argc, char **argv, struct xs_cfg_tunnel *t)
{
	char *out_key = NULL, *out_auth_key = NULL;
	int err = parse_tunnel_words(ctx, argc, argv, t, &out_key, &out_auth_key);

	free_key(&out_key);
	free_key(&out_auth_key);
	return err;
}

/* Where a tunnel name is recorded; "" if nowhere. */
struct find_name {
	const char *name;
	const char *skip; /* a device not to look at (locked by the caller) */
	char dev[IF_NAMESIZE];
};

static int find_name_cb(struct xs_ctx *ctx, const char *ifname, void *data)
{
	struct find_name *fn = data;
	struct tunnel_name_key key;
	struct tunnel_rec rec;
	struct xs_state st;
	int err;

	if (fn->skip && !strcmp(ifname, fn->skip))
		return 0;
	err = xs_state_open(ctx, ifname, XS_LOCK_SHARED, &st);
	if (err)
		return err;
	memset(&key, 0, sizeof(key));
	snprintf(key.name, sizeof(key.name), "%s", fn->name);
	if (!bpf_map_lookup_elem(bpf_map__fd(st.skel->maps.tunnel_names), &key, &rec))
		snprintf(fn->dev, sizeof(fn->dev), "%s", ifname);
	xs_state_close(&st);
	return 0;
}

static int tunnel_add(struct xs_ctx *ctx, int argc, char **argv)
{
	struct xs_run_opts o = { .scope = XS_SCOPE_ADD };
	struct xs_config_file cfg = { 0 };
	struct xs_run_result res;
	int err;

	cfg.tunnels = calloc(1, sizeof(*cfg.tunnels));
	if (!cfg.tunnels)
		return p_err(ctx, -ENOMEM, "out of memory");
	cfg.ntunnels = 1;
	err = parse_tunnel_add(ctx, argc, argv, &cfg.tunnels[0]);
	if (err)
		goto out;
	/* The rules (a name is the namespace's, ...) are the planner's. */
	err = xs_show_run(ctx, &o, &res, xs_converge(ctx, &cfg, &o, &res));
out:
	xs_config_free(&cfg);
	return err;
}

static int tunnel_del(struct xs_ctx *ctx, int argc, char **argv)
{
	struct xs_run_opts o = { .scope = XS_SCOPE_DEL };
	struct xs_config_file cfg = { 0 };
	struct xs_run_result res;
	struct find_name fn = { 0 };
	const char *dev = NULL;
	int err;

	if (argc < 1)
		return p_err(ctx, -EINVAL, "tunnel del: missing NAME");
	if (xs_cfg_tunnel_name_ok(argv[0]))
		return p_err(ctx, -EINVAL, "invalid tunnel name %s", XS_QW(argv[0]));
	o.name = argv[0];
	NEXT_ARG();
	while (argc > 0) {
		if (!strcmp(argv[0], "dev")) {
			NEXT_ARG_VALUE(ctx);
			dev = argv[0];
		} else {
			return p_err(ctx, -EINVAL, "tunnel del: unknown argument %s",
				     XS_QW(argv[0]));
		}
		NEXT_ARG();
	}
	if (!dev) {
		fn.name = o.name;
		err = xs_for_each_attached(ctx, find_name_cb, &fn);
		if (err)
			return err;
		if (!fn.dev[0])
			return p_err(ctx, -ENOENT, "no tunnel \"%s\"", o.name);
		dev = fn.dev;
	}
	o.dev = dev;
	err = xs_show_run(ctx, &o, &res, xs_converge(ctx, &cfg, &o, &res));
	xs_config_free(&cfg);
	return err;
}

/* ---- show ---- */

struct tshow {
	struct xs_ctx *ctx;
	const char *name; /* NULL: every tunnel */
	struct xs_sa *ksa;
	size_t nksa;
	struct xs_policy *kpol;
	size_t nkpol;
	uint32_t *cpus; /* online */
	size_t ncpus;
	json_object *arr;
};

static const struct xs_sa *find_sa(const struct tshow *ts, const struct xs_prefix *dst,
				   uint32_t spi, uint32_t if_id)
{
	size_t i;

	for (i = 0; i < ts->nksa; i++)
		if (ts->ksa[i].spi == spi && ts->ksa[i].if_id == if_id &&
		    ts->ksa[i].dst.family == dst->family &&
		    !memcmp(ts->ksa[i].dst.addr, dst->addr, 16))
			return &ts->ksa[i];
	return NULL;
}

static bool addr_is(const struct xs_prefix *a, const struct xs_prefix *b)
{
	return a->family == b->family && !memcmp(a->addr, b->addr, 16);
}

/* Outbound SAs of one tunnel looked at for its CPUs: one per CPU of a big
 * machine and a rekey's; more are listed, not counted. */
#define XS_OUT_SAS_MAX 1024

static const char *jstr(json_object *o, const char *key);

/* Stable output: outbound first (as sa_in, sa_out read), then by SPI
 * (fixed-width hex: string order is numeric order). */
static int other_sa_cmp(const void *a, const void *b)
{
	json_object *x = *(json_object *const *)a, *y = *(json_object *const *)b;
	int c = -strcmp(jstr(x, "dir"), jstr(y, "dir"));

	return c ? c : strcmp(jstr(x, "spi"), jstr(y, "spi"));
}

static json_object *sa_json(const struct tshow *ts, const struct xs_sa *sa, uint32_t spi)
{
	json_object *o = json_object_new_object();
	char buf[2 * XS_KEY_MAX + 3];

	snprintf(buf, sizeof(buf), "0x%08x", spi);
	json_object_object_add(o, "spi", json_object_new_string(buf));
	json_object_object_add(o, "present", json_object_new_boolean(sa != NULL));
	if (!sa)
		return o;
	json_object_object_add(o, "pcpu", sa->has_pcpu ? json_object_new_int64(sa->pcpu) : NULL);
	json_object_object_add(o, "packets", json_object_new_uint64(sa->packets));
	json_object_object_add(o, "bytes", json_object_new_uint64(sa->bytes));
	json_object_object_add(o, "replay_drops", json_object_new_uint64(sa->replay_drops));
	json_object_object_add(o, "integrity_failures",
			       json_object_new_uint64(sa->integrity_failures));
	if (ts->ctx->show_keys) {
		const struct xs_alg *k = sa->aead.name[0] ? &sa->aead : &sa->enc;

		if (k->key_len <= XS_KEY_MAX) {
			xs_key_format(k->key, k->key_len, buf, sizeof(buf));
			json_object_object_add(o, "key", json_object_new_string(buf));
		}
		if (sa->auth.name[0] && sa->auth.key_len <= XS_KEY_MAX) {
			xs_key_format(sa->auth.key, sa->auth.key_len, buf, sizeof(buf));
			json_object_object_add(o, "auth_key", json_object_new_string(buf));
		}
		explicit_bzero(buf, sizeof(buf));
	}
	return o;
}

static void stats_json(json_object *o, struct xs_state *st, uint32_t if_id)
{
	struct tunnel_value tv;
	struct tunnel_stats *per, sum = { 0 };
	int i, ncpu = xs_num_cpus();

	if (bpf_map_lookup_elem(bpf_map__fd(st->skel->maps.tunnel_by_ifid), &if_id, &tv))
		return;
	per = calloc((size_t)ncpu, sizeof(*per));
	if (!per)
		return;
	if (!bpf_map_lookup_elem(bpf_map__fd(st->skel->maps.tunnel_stats), &tv.tunnel_idx, per)) {
		for (i = 0; i < ncpu; i++) {
			sum.tx_packets += per[i].tx_packets;
			sum.tx_bytes += per[i].tx_bytes;
			sum.rx_packets += per[i].rx_packets;
			sum.rx_bytes += per[i].rx_bytes;
			sum.tx_dropped += per[i].tx_dropped;
			sum.rx_dropped += per[i].rx_dropped;
		}
		json_object_object_add(o, "tx_packets", json_object_new_uint64(sum.tx_packets));
		json_object_object_add(o, "tx_bytes", json_object_new_uint64(sum.tx_bytes));
		json_object_object_add(o, "rx_packets", json_object_new_uint64(sum.rx_packets));
		json_object_object_add(o, "rx_bytes", json_object_new_uint64(sum.rx_bytes));
		json_object_object_add(o, "tx_dropped", json_object_new_uint64(sum.tx_dropped));
		json_object_object_add(o, "rx_dropped", json_object_new_uint64(sum.rx_dropped));
	}
	free(per);
}

static json_object *tunnel_json(struct tshow *ts, struct xs_state *st,
				const struct xs_rec_ent *re, const struct xs_route_ent *routes,
				size_t nroutes)
{
	const struct tunnel_rec *rec = &re->rec;
	json_object *o = json_object_new_object(), *arr, *missing = json_object_new_array();
	const struct xs_sa *sa_in, *sa_out;
	uint32_t out_pcpu[XS_OUT_SAS_MAX], gap;
	size_t nout = 0;
	bool out_ok;
	struct xs_prefix in, out;
	size_t npol = 0, npfx = 0;
	struct xs_cfg_tenant t;
	static const uint8_t dirs[] = { XFRM_POLICY_OUT, XFRM_POLICY_IN, XFRM_POLICY_FWD };
	static const int fams[] = { AF_INET, AF_INET6 };
	char buf[64];
	size_t i, fam, d;

	xs_rec_sas(rec, &in, &out);
	json_object_object_add(o, "name", json_object_new_string(re->key.name));
	json_object_object_add(o, "dev", json_object_new_string(st->ifname));
	/* The state is what the kernel has now, filled in below. */
	json_object_object_add(o, "state", NULL);
	json_object_object_add(o, "if_id", json_object_new_int64(rec->if_id));
	json_object_object_add(o, "owner", json_object_new_string(xs_tunnel_owner(rec)));
	xs_iif_tenant_to_cfg(st, rec->tenant, &t);
	if (t.is_name) {
		json_object_object_add(o, "tenant", json_object_new_string(t.name));
	} else {
		snprintf(buf, sizeof(buf), "0x%x", rec->tenant);
		json_object_object_add(o, "tenant", json_object_new_string(buf));
	}
	json_object_object_add(o, "local", json_object_new_string(
		format_addr(in.family, in.addr, buf, sizeof(buf))));
	json_object_object_add(o, "remote", json_object_new_string(
		format_addr(out.family, out.addr, buf, sizeof(buf))));
	json_object_object_add(o, "mode", json_object_new_string(xs_mode_name(rec->mode)));
	json_object_object_add(o, "reqid", json_object_new_int64(rec->reqid));
	/* Flat: a nested "name" would read as a tunnel's to simple tools. */
	if (rec->aead[0]) {
		json_object_object_add(o, "aead", json_object_new_string(rec->aead));
		json_object_object_add(o, "icv_bits", json_object_new_int64(rec->icv_bits));
	} else {
		json_object_object_add(o, "enc", json_object_new_string(rec->enc));
		json_object_object_add(o, "auth", json_object_new_string(rec->auth));
		json_object_object_add(o, "trunc_bits", json_object_new_int64(rec->trunc_bits));
	}
	if (rec->encap_type) {
		snprintf(buf, sizeof(buf), "espinudp %u %u", rec->encap_sport, rec->encap_dport);
		json_object_object_add(o, "encap", json_object_new_string(buf));
	}
	sa_in = find_sa(ts, &in, rec->spi_in, rec->if_id);
	sa_out = find_sa(ts, &out, rec->spi_out, rec->if_id);
	json_object_object_add(o, "sa_in", sa_json(ts, sa_in, rec->spi_in));
	json_object_object_add(o, "sa_out", sa_json(ts, sa_out, rec->spi_out));
	/* The tunnel's other SAs: per-CPU ones (RFC 9611), or a rekey's
	 * made by hand. Sending works from every CPU while its outbound SAs
	 * cover them all. */
	arr = json_object_new_array();
	for (i = 0; i < ts->nksa; i++) {
		const struct xs_sa *k = &ts->ksa[i];
		bool is_out = addr_is(&k->src, &in) && addr_is(&k->dst, &out);
		json_object *so;

		if (k->if_id != rec->if_id || k == sa_in || k == sa_out ||
		    !(is_out || (addr_is(&k->src, &out) && addr_is(&k->dst, &in))))
			continue;
		if (is_out && nout < XS_OUT_SAS_MAX)
			out_pcpu[nout++] = k->has_pcpu ? k->pcpu : XS_PCPU_ANY;
		so = sa_json(ts, k, k->spi);
		json_object_object_add(so, "dir", json_object_new_string(is_out ? "out" : "in"));
		json_object_array_add(arr, so);
	}
	json_object_array_sort(arr, other_sa_cmp);
	json_object_object_add(o, "other_sas", arr);
	if (sa_out && nout < XS_OUT_SAS_MAX)
		out_pcpu[nout++] = sa_out->has_pcpu ? sa_out->pcpu : XS_PCPU_ANY;
	out_ok = xs_plan_sa_cpus_covered(out_pcpu, nout, ts->cpus, ts->ncpus, &gap);
	arr = json_object_new_array();
	/* In a fixed order: IPv4 first, then out, in, fwd. */
	for (fam = 0; fam < 2; fam++) {
		for (d = 0; d < 3; d++) {
			for (i = 0; i < ts->nkpol; i++) {
				const struct xs_policy *p = &ts->kpol[i];

				if (!xs_pol_is_tunnels(p, rec->if_id) || p->dir != dirs[d] ||
				    p->sel_src.family != fams[fam])
					continue;
				snprintf(buf, sizeof(buf), "%s %s", xs_dir_name(p->dir),
					 fams[fam] == AF_INET ? "ipv4" : "ipv6");
				json_object_array_add(arr, json_object_new_string(buf));
				npol++;
			}
		}
	}
	json_object_object_add(o, "policies", arr);
	json_object_object_add(o, "policies_expected",
			       json_object_new_int64(xs_rec_npolicies(rec)));
	arr = json_object_new_array();
	for (i = 0; i < nroutes; i++) {
		struct xs_prefix p = { .family = (int)routes[i].key.family,
				       .plen = (uint8_t)routes[i].key.plen };

		if (routes[i].val.if_id != rec->if_id)
			continue;
		memcpy(p.addr, routes[i].key.addr, 16);
		json_object_array_add(arr, json_object_new_string(
			format_prefix(&p, buf, sizeof(buf))));
		npfx++;
	}
	json_object_object_add(o, "prefixes", arr);

	/* Ready means the kernel has every part now (a hand rekey, sa flush
	 * or policy flush may have taken some away since the tunnel was
	 * made), not what was recorded then. */
	if (!sa_in)
		json_object_array_add(missing, json_object_new_string("sa_in"));
	if (!out_ok && gap == XS_PCPU_ANY) {
		json_object_array_add(missing, json_object_new_string("sa_out"));
	} else if (!out_ok) {
		snprintf(buf, sizeof(buf), "sa_out cpu %u", gap);
		json_object_array_add(missing, json_object_new_string(buf));
	}
	if (npol < xs_rec_npolicies(rec))
		json_object_array_add(missing, json_object_new_string("policies"));
	if (!npfx)
		json_object_array_add(missing, json_object_new_string("prefixes"));
	json_object_object_add(o, "state", json_object_new_string(
		rec->state != XS_TUN_READY ? "incomplete" :
		json_object_array_length(missing) ? "broken" : "ready"));
	json_object_object_add(o, "missing", missing);
	stats_json(o, st, rec->if_id);
	return o;
}

static int tshow_dev(struct xs_ctx *ctx, const char *ifname, void *data)
{
	struct tshow *ts = data;
	struct xs_rec_ent *recs = NULL;
	struct xs_route_ent *routes = NULL;
	size_t nrecs = 0, nroutes = 0, i;
	struct xs_state st;
	int err;

	err = xs_state_open(ctx, ifname, XS_LOCK_SHARED, &st);
	if (err)
		return err;
	err = xs_recs_read(&st, &recs, &nrecs);
	if (!err)
		err = xs_routes_read(&st, &routes, &nroutes, NULL);
	if (err) {
		p_err(ctx, err, "cannot read the state of \"%s\": %s", ifname, strerror(-err));
		goto out;
	}
	for (i = 0; i < nrecs; i++) {
		if (ts->name && strcmp(ts->name, recs[i].key.name))
			continue;
		json_object_array_add(ts->arr, tunnel_json(ts, &st, &recs[i], routes, nroutes));
	}
out:
	free(recs);
	free(routes);
	xs_state_close(&st);
	return err;
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v = NULL;

	json_object_object_get_ex(o, key, &v);
	return v ? json_object_get_string(v) : "";
}

static uint64_t jnum(json_object *o, const char *key)
{
	json_object *v = NULL;

	json_object_object_get_ex(o, key, &v);
	return v ? json_object_get_uint64(v) : 0;
}

static void print_sa_line(const char *dir, json_object *sa)
{
	json_object *v = NULL;

	json_object_object_get_ex(sa, "present", &v);
	if (!json_object_get_boolean(v)) {
		printf("  sa %-3s spi %s  MISSING\n", dir, jstr(sa, "spi"));
		return;
	}
	printf("  sa %-3s spi %s", dir, jstr(sa, "spi"));
	json_object_object_get_ex(sa, "pcpu", &v);
	if (v)
		printf("  pcpu %llu", (unsigned long long)json_object_get_uint64(v));
	printf("  packets %llu  bytes %llu", (unsigned long long)jnum(sa, "packets"),
	       (unsigned long long)jnum(sa, "bytes"));
	if (jnum(sa, "replay_drops") || jnum(sa, "integrity_failures"))
		printf("  replay drops %llu  integrity failures %llu",
		       (unsigned long long)jnum(sa, "replay_drops"),
		       (unsigned long long)jnum(sa, "integrity_failures"));
	putchar('\n');
	if (*jstr(sa, "key"))
		printf("         key %s%s%s\n", jstr(sa, "key"), *jstr(sa, "auth_key") ? "  auth key " : "",
		       jstr(sa, "auth_key"));
}

static void print_text(json_object *arr)
{
	size_t i, j, n = json_object_array_length(arr);

	for (i = 0; i < n; i++) {
		json_object *t = json_object_array_get_idx(arr, i), *v = NULL;

		printf("%s%s  dev %s  if_id %llu  tenant %s  %s", i ? "\n" : "", jstr(t, "name"),
		       jstr(t, "dev"), (unsigned long long)jnum(t, "if_id"), jstr(t, "tenant"),
		       jstr(t, "state"));
		json_object_object_get_ex(t, "missing", &v);
		for (j = 0; j < json_object_array_length(v); j++)
			printf("%s%s", j ? ", " : " (missing: ",
			       json_object_get_string(json_object_array_get_idx(v, j)));
		printf("%s\n", json_object_array_length(v) ? ")" : "");
		printf("  local %s  remote %s  mode %s  reqid %llu  ", jstr(t, "local"),
		       jstr(t, "remote"), jstr(t, "mode"), (unsigned long long)jnum(t, "reqid"));
		if (*jstr(t, "aead"))
			printf("aead %s/%llu", jstr(t, "aead"),
			       (unsigned long long)jnum(t, "icv_bits"));
		else
			printf("enc %s auth %s/%llu", jstr(t, "enc"), jstr(t, "auth"),
			       (unsigned long long)jnum(t, "trunc_bits"));
		if (*jstr(t, "encap"))
			printf("  encap %s", jstr(t, "encap"));
		putchar('\n');
		json_object_object_get_ex(t, "sa_in", &v);
		print_sa_line("in", v);
		json_object_object_get_ex(t, "sa_out", &v);
		print_sa_line("out", v);
		json_object_object_get_ex(t, "other_sas", &v);
		for (j = 0; j < json_object_array_length(v); j++) {
			json_object *so = json_object_array_get_idx(v, j);

			print_sa_line(jstr(so, "dir"), so);
		}
		json_object_object_get_ex(t, "policies", &v);
		printf("  policies %zu of %llu:", json_object_array_length(v),
		       (unsigned long long)jnum(t, "policies_expected"));
		for (j = 0; j < json_object_array_length(v); j++)
			printf("%s %s", j ? "," : "",
			       json_object_get_string(json_object_array_get_idx(v, j)));
		putchar('\n');
		json_object_object_get_ex(t, "prefixes", &v);
		printf("  prefixes");
		for (j = 0; j < json_object_array_length(v); j++)
			printf(" %s", json_object_get_string(json_object_array_get_idx(v, j)));
		if (!json_object_array_length(v))
			printf(" (none)");
		putchar('\n');
		if (json_object_object_get_ex(t, "tx_packets", &v))
			printf("  counters tx %llu packets %llu bytes, rx %llu packets %llu bytes, dropped tx %llu rx %llu\n",
			       (unsigned long long)jnum(t, "tx_packets"),
			       (unsigned long long)jnum(t, "tx_bytes"),
			       (unsigned long long)jnum(t, "rx_packets"),
			       (unsigned long long)jnum(t, "rx_bytes"),
			       (unsigned long long)jnum(t, "tx_dropped"),
			       (unsigned long long)jnum(t, "rx_dropped"));
	}
}

static int tshow_cmp(const void *a, const void *b)
{
	json_object *x = *(json_object *const *)a, *y = *(json_object *const *)b;
	int c = strcmp(jstr(x, "dev"), jstr(y, "dev"));

	return c ? c : strcmp(jstr(x, "name"), jstr(y, "name"));
}

static int tunnel_show(struct xs_ctx *ctx, int argc, char **argv)
{
	struct tshow ts = { .ctx = ctx };
	const char *dev = NULL;
	struct xs_nl nl;
	int err;

	while (argc > 0) {
		if (!strcmp(argv[0], "dev")) {
			NEXT_ARG_VALUE(ctx);
			dev = argv[0];
		} else if (!ts.name && !xs_cfg_tunnel_name_ok(argv[0])) {
			ts.name = argv[0];
		} else {
			return p_err(ctx, -EINVAL, "tunnel show: unknown argument %s",
				     XS_QW(argv[0]));
		}
		NEXT_ARG();
	}
	err = xs_nl_open(ctx, &nl, NETLINK_XFRM);
	if (err)
		return err;
	err = xs_sas_read(ctx, &nl, &ts.ksa, &ts.nksa);
	if (!err)
		err = xs_pols_read(ctx, &nl, &ts.kpol, &ts.nkpol);
	xs_nl_close(&nl);
	if (!err) {
		err = xs_online_cpus(&ts.cpus, &ts.ncpus);
		if (err)
			p_err(ctx, err, "cannot read the online CPUs (/sys/devices/system/cpu/online): %s",
			      strerror(-err));
	}
	ts.arr = json_object_new_array();
	if (!err && !ts.arr)
		err = p_err(ctx, -ENOMEM, "out of memory");
	if (!err)
		err = dev ? tshow_dev(ctx, dev, &ts) : xs_for_each_attached(ctx, tshow_dev, &ts);
	if (!err && ts.name && !json_object_array_length(ts.arr))
		err = p_err(ctx, -ENOENT, "no tunnel \"%s\"", ts.name);
	if (!err) {
		json_object_array_sort(ts.arr, tshow_cmp);
		if (ctx->json)
			print_json(ctx, ts.arr);
		else
			print_text(ts.arr);
	}
	/* A tunnel of a tenant bound to no interface gets nothing: said. */
	if (!err && xs_iif_check_dev(ctx, dev) > 0)
		err = -ESTALE;
	xs_json_wipe(ts.arr); /* keys with --show-keys */
	json_object_put(ts.arr);
	xs_sas_free(ts.ksa, ts.nksa);
	free(ts.kpol);
	free(ts.cpus);
	return err;
}

int do_tunnel(struct xs_ctx *ctx, int argc, char **argv)
{
	static const struct xs_cmd cmds[] = {
		{ "show", tunnel_show }, { "list", tunnel_show }, { "add", tunnel_add },
		{ "delete", tunnel_del }, { "help", tunnel_help }, { NULL, NULL },
	};

	return xs_cmd_select(ctx, cmds, argc, argv, tunnel_help);
}

// SPDX-License-Identifier: GPL-2.0
/* IPsec SAs over NETLINK_XFRM, and the algorithms: encoding, decoding,
 * requests (xfrm.h; the policies are lib/xfrm_policy.c). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/udp.h>

#include "keys.h"
#include "xfrm.h"
#include "xfrm_int.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * What we offer. Key lengths follow the RFCs that define each algorithm
 * for ESP, which is stricter than the kernel (it takes any HMAC key
 * length): a key of the wrong length is a configuration mistake that
 * would otherwise only show as a tunnel that never comes up.
 */
static const struct xs_alg_desc algs[] = {
	{
		/* RFC 4106: the key ends with a 4-byte salt. */
		.name = "rfc4106(gcm(aes))",
		.kind = XS_ALG_AEAD,
		.aliases = { "aes-gcm", "gcm(aes)" },
		.key_bytes = { 20, 28, 36 },
		.icv_bits = { 128, 96, 64 },
		.key_hint = "an AES-128, -192 or -256 key followed by a 4-byte salt",
	},
	{
		/* RFC 7634: 256-bit key, then a 4-byte salt. */
		.name = "rfc7539esp(chacha20,poly1305)",
		.kind = XS_ALG_AEAD,
		.aliases = { "chacha20-poly1305", "chacha20poly1305" },
		.key_bytes = { 36 },
		.icv_bits = { 128 },
		.key_hint = "a 32-byte key followed by a 4-byte salt",
	},
	{
		.name = "cbc(aes)",
		.kind = XS_ALG_ENC,
		.aliases = { "aes-cbc", "aes" },
		.key_bytes = { 16, 24, 32 },
		.key_hint = "an AES-128, -192 or -256 key",
	},
	{
		/* RFC 4868: key as long as the hash, ICV half of it. */
		.name = "hmac(sha256)",
		.kind = XS_ALG_AUTH,
		.aliases = { "sha256", "hmac-sha256" },
		.key_bytes = { 32 },
		.icv_bits = { 128 },
		.key_hint = "a 32-byte key (RFC 4868)",
	},
	{
		.name = "hmac(sha384)",
		.kind = XS_ALG_AUTH,
		.aliases = { "sha384", "hmac-sha384" },
		.key_bytes = { 48 },
		.icv_bits = { 192 },
		.key_hint = "a 48-byte key (RFC 4868)",
	},
	{
		/* RFC 2404: 160-bit key, 96-bit ICV. */
		.name = "hmac(sha1)",
		.kind = XS_ALG_AUTH,
		.aliases = { "sha1", "hmac-sha1" },
		.key_bytes = { 20 },
		.icv_bits = { 96 },
		.key_hint = "a 20-byte key (RFC 2404)",
	},
};

const struct xs_alg_desc *xs_alg_table(size_t *n)
{
	*n = ARRAY_SIZE(algs);
	return algs;
}

const char *xs_alg_kind_name(enum xs_alg_kind kind)
{
	switch (kind) {
	case XS_ALG_AEAD:
		return "aead";
	case XS_ALG_ENC:
		return "enc";
	case XS_ALG_AUTH:
		return "auth";
	}
	return "?";
}

static bool alg_named(const struct xs_alg_desc *d, const char *name)
{
	size_t i;

	if (!strcmp(d->name, name))
		return true;
	for (i = 0; i < ARRAY_SIZE(d->aliases) && d->aliases[i]; i++)
		if (!strcmp(d->aliases[i], name))
			return true;
	return false;
}

const struct xs_alg_desc *xs_alg_find_any(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(algs); i++)
		if (alg_named(&algs[i], name))
			return &algs[i];
	return NULL;
}

const struct xs_alg_desc *xs_alg_find(enum xs_alg_kind kind, const char *name)
{
	const struct xs_alg_desc *d = xs_alg_find_any(name);

	return d && d->kind == kind ? d : NULL;
}

/* "20, 28 or 36" */
static void format_choices(const unsigned int *v, size_t n, char *buf,
			   size_t len)
{
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < n && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%u",
					!i ? "" : i + 1 == n ? " or " : ", ",
					v[i]);
}

static void key_choices(const struct xs_alg_desc *d, char *buf, size_t len)
{
	unsigned int v[ARRAY_SIZE(d->key_bytes)];
	size_t n;

	for (n = 0; n < ARRAY_SIZE(d->key_bytes) && d->key_bytes[n]; n++)
		v[n] = d->key_bytes[n];
	format_choices(v, n, buf, len);
}

static void icv_choices(const struct xs_alg_desc *d, char *buf, size_t len)
{
	unsigned int v[ARRAY_SIZE(d->icv_bits)];
	size_t n;

	for (n = 0; n < ARRAY_SIZE(d->icv_bits) && d->icv_bits[n]; n++)
		v[n] = d->icv_bits[n];
	format_choices(v, n, buf, len);
}

int xs_alg_check(enum xs_alg_kind kind, const struct xs_alg *a, char *why,
		 size_t len)
{
	const char *kn = xs_alg_kind_name(kind);
	const struct xs_alg_desc *d;
	char choices[64];
	size_t i;

	d = xs_alg_find(kind, a->name);
	if (!d) {
		d = xs_alg_find_any(a->name);
		if (d)
			snprintf(why, len, "%s %s is an %s algorithm, not %s",
				 kn, XS_QW(a->name), xs_alg_kind_name(d->kind), kn);
		else
			snprintf(why, len, "unknown %s algorithm %s", kn,
				 XS_QW(a->name));
		return -EINVAL;
	}
	for (i = 0; i < ARRAY_SIZE(d->key_bytes) && d->key_bytes[i]; i++)
		if (a->key_len == d->key_bytes[i])
			break;
	if (i == ARRAY_SIZE(d->key_bytes) || !d->key_bytes[i]) {
		key_choices(d, choices, sizeof(choices));
		snprintf(why, len,
			 "%s key for %s is %u bytes, needs %s bytes: %s", kn,
			 d->name, a->key_len, choices, d->key_hint);
		return -EINVAL;
	}
	/* An auth algorithm's truncation may be left to us (0). */
	if (kind == XS_ALG_ENC || (kind == XS_ALG_AUTH && !a->icv_bits))
		return 0;
	for (i = 0; i < ARRAY_SIZE(d->icv_bits) && d->icv_bits[i]; i++)
		if (a->icv_bits == d->icv_bits[i])
			return 0;
	icv_choices(d, choices, sizeof(choices));
	snprintf(why, len, "%s %s: %s length %u bits is not supported (%s)",
		 kn, d->name, kind == XS_ALG_AEAD ? "ICV" : "truncation",
		 a->icv_bits, choices);
	return -EINVAL;
}

const char *xs_dir_name(uint8_t dir)
{
	switch (dir) {
	case XFRM_POLICY_IN:
		return "in";
	case XFRM_POLICY_OUT:
		return "out";
	case XFRM_POLICY_FWD:
		return "fwd";
	}
	return "?";
}

const char *xs_mode_name(uint8_t mode)
{
	switch (mode) {
	case XFRM_MODE_TRANSPORT:
		return "transport";
	case XFRM_MODE_TUNNEL:
		return "tunnel";
	case XFRM_MODE_BEET:
		return "beet";
	}
	return "?";
}

bool xfrm_family_ok(int family)
{
	return family == AF_INET || family == AF_INET6;
}

const char *xfrm_family_name(int family)
{
	return family == AF_INET ? "IPv4" : family == AF_INET6 ? "IPv6" : "?";
}

static size_t addr_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

void xfrm_set_addr(struct xs_prefix *p, int family, const void *a)
{
	memset(p, 0, sizeof(*p));
	p->family = family;
	if (!xfrm_family_ok(family))
		return;
	p->plen = (uint8_t)(addr_len(family) * 8);
	memcpy(p->addr, a, addr_len(family));
}

void xfrm_put_addr(xfrm_address_t *x, const struct xs_prefix *p)
{
	memset(x, 0, sizeof(*x));
	if (xfrm_family_ok(p->family))
		memcpy(x, p->addr, addr_len(p->family));
}

static bool addr_equal(const struct xs_prefix *a, const struct xs_prefix *b)
{
	return a->family == b->family &&
	       !memcmp(a->addr, b->addr, addr_len(a->family));
}

/* No lifetime limits: expiry is for an IKE daemon to arrange. A zero in
 * the kernel's struct would mean "expire now", not "never". */
void xfrm_lifetime_unlimited(struct xfrm_lifetime_cfg *lft)
{
	lft->soft_byte_limit = XFRM_INF;
	lft->hard_byte_limit = XFRM_INF;
	lft->soft_packet_limit = XFRM_INF;
	lft->hard_packet_limit = XFRM_INF;
}

/* ---- SAs ---- */

void xs_sa_init(struct xs_sa *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->mode = XFRM_MODE_TUNNEL;
	sa->replay_window = XS_REPLAY_DEFAULT;
}

const char *xs_sa_name(const struct xs_sa *sa, char *buf, size_t len)
{
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];

	snprintf(buf, len, "SA src %s dst %s spi 0x%08x",
		 format_addr(sa->src.family, sa->src.addr, s, sizeof(s)),
		 format_addr(sa->dst.family, sa->dst.addr, d, sizeof(d)),
		 sa->spi);
	return buf;
}

static bool alg_set(const struct xs_alg *a)
{
	return a->name[0] != '\0';
}

int xs_sa_check(const struct xs_sa *sa, char *why, size_t len)
{
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
	int err;

	if (!xfrm_family_ok(sa->src.family) || !xfrm_family_ok(sa->dst.family)) {
		snprintf(why, len, "src and dst must be IPv4 or IPv6 addresses");
		return -EINVAL;
	}
	if (sa->src.family != sa->dst.family) {
		snprintf(why, len,
			 "src %s is %s but dst %s is %s: both ends of an SA are of one family",
			 format_addr(sa->src.family, sa->src.addr, a, sizeof(a)),
			 xfrm_family_name(sa->src.family),
			 format_addr(sa->dst.family, sa->dst.addr, b, sizeof(b)),
			 xfrm_family_name(sa->dst.family));
		return -EINVAL;
	}
	/* RFC 4303: 0 is reserved, 1..255 are for IANA to assign. */
	if (sa->spi < 256) {
		snprintf(why, len,
			 "spi 0x%08x is reserved (0..255 are), use 256 (0x100) or more",
			 sa->spi);
		return -EINVAL;
	}
	if (sa->mode != XFRM_MODE_TUNNEL && sa->mode != XFRM_MODE_TRANSPORT) {
		snprintf(why, len, "mode must be tunnel or transport");
		return -EINVAL;
	}
	if (sa->replay_window > XS_REPLAY_MAX) {
		snprintf(why, len, "replay-window %u is above the kernel's limit of %u",
			 sa->replay_window, XS_REPLAY_MAX);
		return -EINVAL;
	}
	if (sa->dir > XFRM_SA_DIR_OUT) {
		snprintf(why, len, "dir must be in or out");
		return -EINVAL;
	}
	if (sa->has_pcpu && !sa->dir) {
		snprintf(why, len,
			 "pcpu needs dir in or dir out: the kernel takes a CPU only of an SA with a direction");
		return -EINVAL;
	}
	if (sa->has_pcpu && sa->pcpu == UINT32_MAX) {
		snprintf(why, len, "pcpu %u is no CPU number", sa->pcpu);
		return -EINVAL;
	}
	/* The kernel's rule for an SA with a direction: only the receiver
	 * checks replays. */
	if (sa->dir == XFRM_SA_DIR_OUT && sa->replay_window) {
		snprintf(why, len,
			 "an outbound SA (dir out) has no replay-window: only the receiver checks replays (use replay-window 0)");
		return -EINVAL;
	}
	if ((sa->flags & XFRM_STATE_ESN) && !sa->replay_window && sa->dir != XFRM_SA_DIR_OUT) {
		snprintf(why, len,
			 "flag esn needs a replay-window of 1..%u, the kernel refuses an ESN SA without one (leave replay-window out for %u, or drop flag esn)",
			 XS_REPLAY_MAX, XS_REPLAY_ESN_DEFAULT);
		return -EINVAL;
	}
	if (sa->flags & ~(XFRM_STATE_AF_UNSPEC | XFRM_STATE_ESN)) {
		snprintf(why, len, "unsupported SA flags 0x%x", sa->flags);
		return -EINVAL;
	}
	if (sa->encap.type) {
		if (sa->encap.type != UDP_ENCAP_ESPINUDP) {
			snprintf(why, len, "unsupported encapsulation type %u",
				 sa->encap.type);
			return -EINVAL;
		}
		if (!sa->encap.sport || !sa->encap.dport) {
			snprintf(why, len, "encap ports must be 1..65535");
			return -EINVAL;
		}
	}
	if (alg_set(&sa->aead)) {
		if (alg_set(&sa->enc) || alg_set(&sa->auth)) {
			snprintf(why, len,
				 "aead already provides encryption and integrity: no enc or auth with it");
			return -EINVAL;
		}
		return xs_alg_check(XS_ALG_AEAD, &sa->aead, why, len);
	}
	if (!alg_set(&sa->enc) && !alg_set(&sa->auth)) {
		snprintf(why, len,
			 "an SA needs an algorithm: \"aead NAME KEY ICV_BITS\", or \"enc NAME KEY auth NAME KEY\"");
		return -EINVAL;
	}
	/* Encryption without integrity is open to active attacks (RFC 4303
	 * 3.2.2), and the kernel's ESP cannot do integrity alone. */
	if (!alg_set(&sa->auth)) {
		snprintf(why, len, "enc needs \"auth NAME KEY\" too");
		return -EINVAL;
	}
	if (!alg_set(&sa->enc)) {
		snprintf(why, len, "auth needs \"enc NAME KEY\" too");
		return -EINVAL;
	}
	err = xs_alg_check(XS_ALG_ENC, &sa->enc, why, len);
	if (!err)
		err = xs_alg_check(XS_ALG_AUTH, &sa->auth, why, len);
	return err;
}

/* The replay state travels in XFRMA_REPLAY_ESN_VAL for ESN, and for
 * windows wider than the 32 bits the legacy field allows (which the kernel
 * would silently cut to 32). */
static bool sa_needs_esn_attr(const struct xs_sa *sa)
{
	return (sa->flags & XFRM_STATE_ESN) || sa->replay_window > 32;
}

/* One algorithm attribute. The key is copied through a stack buffer that
 * is wiped before returning. */
static bool put_alg(struct nlmsghdr *nlh, uint16_t type, enum xs_alg_kind kind,
		    const struct xs_alg *a)
{
	union {
		struct xfrm_algo plain;
		struct xfrm_algo_auth auth;
		struct xfrm_algo_aead aead;
		uint8_t bytes[sizeof(struct xfrm_algo_aead) + XS_KEY_MAX];
	} u;
	const struct xs_alg_desc *d = xs_alg_find(kind, a->name);
	const char *name = d ? d->name : a->name;
	uint32_t klen = a->key_len > XS_KEY_MAX ? XS_KEY_MAX : a->key_len;
	size_t hdr;
	bool ok;

	memset(&u, 0, sizeof(u));
	switch (kind) {
	case XS_ALG_AEAD:
		snprintf(u.aead.alg_name, sizeof(u.aead.alg_name), "%s", name);
		u.aead.alg_key_len = klen * 8;
		u.aead.alg_icv_len = a->icv_bits;
		hdr = sizeof(u.aead);
		break;
	case XS_ALG_AUTH:
		snprintf(u.auth.alg_name, sizeof(u.auth.alg_name), "%s", name);
		u.auth.alg_key_len = klen * 8;
		/* 0 leaves the truncation to the algorithm's RFC. */
		u.auth.alg_trunc_len = a->icv_bits;
		if (!a->icv_bits && d)
			u.auth.alg_trunc_len = d->icv_bits[0];
		hdr = sizeof(u.auth);
		break;
	default:
		snprintf(u.plain.alg_name, sizeof(u.plain.alg_name), "%s", name);
		u.plain.alg_key_len = klen * 8;
		hdr = sizeof(u.plain);
		break;
	}
	memcpy(u.bytes + hdr, a->key, klen);
	ok = mnl_attr_put_check(nlh, XS_NL_REQ_SIZE, type, hdr + klen, &u);
	explicit_bzero(&u, sizeof(u));
	return ok;
}

struct nlmsghdr *xs_sa_encode(void *buf, const struct xs_sa *sa)
{
	struct nlmsghdr *nlh = xs_nl_msg_zeroed(buf, XFRM_MSG_NEWSA, 0);
	struct xfrm_usersa_info *info;
	bool ok = true;

	info = mnl_nlmsg_put_extra_header(nlh, sizeof(*info));
	/* The selector stays all-zero, family AF_UNSPEC included: with
	 * XFRM_STATE_AF_UNSPEC the kernel keeps it so, and the SA then
	 * serves inner packets of both families. */
	xfrm_put_addr(&info->id.daddr, &sa->dst);
	info->id.spi = htonl(sa->spi);
	info->id.proto = IPPROTO_ESP;
	xfrm_put_addr(&info->saddr, &sa->src);
	xfrm_lifetime_unlimited(&info->lft);
	info->reqid = sa->reqid;
	info->family = (uint16_t)sa->dst.family;
	info->mode = sa->mode;
	info->flags = sa->flags;
	if (!sa_needs_esn_attr(sa)) {
		info->replay_window = (uint8_t)sa->replay_window;
	} else {
		/* The kernel wants the legacy field 0 then, and a bitmap
		 * that holds the window. */
		struct {
			struct xfrm_replay_state_esn rs;
			uint32_t bmp[XS_REPLAY_MAX / 32];
		} esn;
		uint32_t words = (sa->replay_window + 31) / 32;

		if (words > ARRAY_SIZE(esn.bmp))
			return NULL;
		memset(&esn, 0, sizeof(esn));
		esn.rs.bmp_len = words;
		esn.rs.replay_window = sa->replay_window;
		ok = mnl_attr_put_check(nlh, XS_NL_REQ_SIZE,
					XFRMA_REPLAY_ESN_VAL,
					sizeof(esn.rs) + words * sizeof(uint32_t),
					&esn);
	}
	if (ok && alg_set(&sa->aead))
		ok = put_alg(nlh, XFRMA_ALG_AEAD, XS_ALG_AEAD, &sa->aead);
	if (ok && alg_set(&sa->enc))
		ok = put_alg(nlh, XFRMA_ALG_CRYPT, XS_ALG_ENC, &sa->enc);
	/* AUTH_TRUNC rather than AUTH: the truncation is ours to state,
	 * the kernel's default for the algorithm is not guaranteed. */
	if (ok && alg_set(&sa->auth))
		ok = put_alg(nlh, XFRMA_ALG_AUTH_TRUNC, XS_ALG_AUTH, &sa->auth);
	if (ok && sa->encap.type) {
		struct xfrm_encap_tmpl et;

		memset(&et, 0, sizeof(et));
		et.encap_type = sa->encap.type;
		et.encap_sport = htons(sa->encap.sport);
		et.encap_dport = htons(sa->encap.dport);
		ok = mnl_attr_put_check(nlh, XS_NL_REQ_SIZE, XFRMA_ENCAP,
					sizeof(et), &et);
	}
	if (ok && sa->if_id)
		ok = mnl_attr_put_u32_check(nlh, XS_NL_REQ_SIZE, XFRMA_IF_ID,
					    sa->if_id);
	if (ok && sa->dir)
		ok = mnl_attr_put_u8_check(nlh, XS_NL_REQ_SIZE, XFRMA_SA_DIR, sa->dir);
	if (ok && sa->has_pcpu)
		ok = mnl_attr_put_u32_check(nlh, XS_NL_REQ_SIZE, XFRMA_SA_PCPU,
					    sa->pcpu);
	return ok ? nlh : NULL;
}

static const enum mnl_attr_data_type sa_attr_policy[XFRMA_MAX + 1] = {
	[XFRMA_ALG_AUTH] = MNL_TYPE_BINARY,
	[XFRMA_ALG_CRYPT] = MNL_TYPE_BINARY,
	[XFRMA_ALG_AEAD] = MNL_TYPE_BINARY,
	[XFRMA_ALG_AUTH_TRUNC] = MNL_TYPE_BINARY,
	[XFRMA_ENCAP] = MNL_TYPE_BINARY,
	[XFRMA_REPLAY_ESN_VAL] = MNL_TYPE_BINARY,
	[XFRMA_IF_ID] = MNL_TYPE_U32,
	[XFRMA_SA_DIR] = MNL_TYPE_U8,
	[XFRMA_SA_PCPU] = MNL_TYPE_U32,
};

/* Copy an algorithm attribute: hdr is the size of its struct, whose
 * name comes first and key length (bits) right after; icv_off is where
 * the ICV or truncation length sits, 0 if there is none. */
static int get_alg(const struct nlattr *attr, size_t hdr, size_t icv_off,
		   struct xs_alg *a)
{
	const uint8_t *p = mnl_attr_get_payload(attr);
	size_t len = mnl_attr_get_payload_len(attr);
	uint32_t bits, bytes;

	if (len < hdr)
		return -EBADMSG;
	memcpy(&bits, p + sizeof(a->name), sizeof(bits));
	bytes = (bits + 7) / 8;
	if (len < hdr + bytes)
		return -EBADMSG;
	memcpy(a->name, p, sizeof(a->name));
	a->name[sizeof(a->name) - 1] = '\0';
	if (icv_off)
		memcpy(&a->icv_bits, p + icv_off, sizeof(a->icv_bits));
	a->key_len = bytes;
	memcpy(a->key, p + hdr, bytes > XS_KEY_MAX ? XS_KEY_MAX : bytes);
	return 0;
}

int xs_sa_decode(const struct nlmsghdr *nlh, struct xs_sa *sa)
{
	const struct nlattr *tb[XFRMA_MAX + 1];
	struct xfrm_usersa_info info;
	int err;

	memset(sa, 0, sizeof(*sa));
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(info))
		return -EBADMSG;
	/* A copy: the struct holds 64-bit counters, the payload is only
	 * 4-byte aligned. */
	memcpy(&info, mnl_nlmsg_get_payload(nlh), sizeof(info));
	if (!xfrm_family_ok(info.family))
		return -EAFNOSUPPORT;
	if (info.id.proto != IPPROTO_ESP)
		return -ENOENT;
	err = xs_nl_parse(nlh, sizeof(info), sa_attr_policy, XFRMA_MAX, tb);
	if (err)
		return err;

	xfrm_set_addr(&sa->src, info.family, &info.saddr);
	xfrm_set_addr(&sa->dst, info.family, &info.id.daddr);
	sa->spi = ntohl(info.id.spi);
	sa->reqid = info.reqid;
	sa->mode = info.mode;
	sa->flags = info.flags;
	sa->replay_window = info.replay_window;
	sa->packets = info.curlft.packets;
	sa->bytes = info.curlft.bytes;
	sa->replay_drops = info.stats.replay;
	sa->integrity_failures = info.stats.integrity_failed;

	if (tb[XFRMA_ALG_AEAD])
		err = get_alg(tb[XFRMA_ALG_AEAD], sizeof(struct xfrm_algo_aead),
			      offsetof(struct xfrm_algo_aead, alg_icv_len),
			      &sa->aead);
	if (!err && tb[XFRMA_ALG_CRYPT])
		err = get_alg(tb[XFRMA_ALG_CRYPT], sizeof(struct xfrm_algo), 0,
			      &sa->enc);
	/* The kernel sends both AUTH and AUTH_TRUNC; only the latter says
	 * how much of the ICV goes on the wire. */
	if (!err && tb[XFRMA_ALG_AUTH_TRUNC])
		err = get_alg(tb[XFRMA_ALG_AUTH_TRUNC],
			      sizeof(struct xfrm_algo_auth),
			      offsetof(struct xfrm_algo_auth, alg_trunc_len),
			      &sa->auth);
	else if (!err && tb[XFRMA_ALG_AUTH])
		err = get_alg(tb[XFRMA_ALG_AUTH], sizeof(struct xfrm_algo), 0,
			      &sa->auth);
	if (err)
		return err;
	if (tb[XFRMA_ENCAP]) {
		struct xfrm_encap_tmpl et;

		if (mnl_attr_get_payload_len(tb[XFRMA_ENCAP]) < sizeof(et))
			return -EBADMSG;
		memcpy(&et, mnl_attr_get_payload(tb[XFRMA_ENCAP]), sizeof(et));
		sa->encap.type = et.encap_type;
		sa->encap.sport = ntohs(et.encap_sport);
		sa->encap.dport = ntohs(et.encap_dport);
	}
	if (tb[XFRMA_REPLAY_ESN_VAL]) {
		struct xfrm_replay_state_esn rs;

		if (mnl_attr_get_payload_len(tb[XFRMA_REPLAY_ESN_VAL]) <
		    sizeof(rs))
			return -EBADMSG;
		memcpy(&rs, mnl_attr_get_payload(tb[XFRMA_REPLAY_ESN_VAL]),
		       sizeof(rs));
		sa->replay_window = rs.replay_window;
	}
	if (tb[XFRMA_IF_ID])
		sa->if_id = mnl_attr_get_u32(tb[XFRMA_IF_ID]);
	if (tb[XFRMA_SA_DIR])
		sa->dir = mnl_attr_get_u8(tb[XFRMA_SA_DIR]);
	/* The kernel sends it only for per-CPU SAs. */
	if (tb[XFRMA_SA_PCPU]) {
		sa->has_pcpu = true;
		sa->pcpu = mnl_attr_get_u32(tb[XFRMA_SA_PCPU]);
	}
	return 0;
}

/* The names of sa's algorithms, for an ENOSYS message. */
static const char *sa_alg_names(const struct xs_sa *sa, char *buf, size_t len)
{
	if (alg_set(&sa->aead))
		snprintf(buf, len, "\"%s\" (ICV %u bits)", sa->aead.name,
			 sa->aead.icv_bits);
	else
		snprintf(buf, len, "\"%s\" or \"%s\"", sa->enc.name,
			 sa->auth.name);
	return buf;
}

static int sa_del_raw(struct xs_ctx *ctx, struct xs_nl *nl,
		      const struct xs_prefix *src, const struct xs_prefix *dst,
		      uint32_t spi);

/* A kernel before 6.13 (6.10) parses XFRMA_SA_PCPU (XFRMA_SA_DIR) as an
 * attribute beyond its table, which it skips: the SA it made serves every
 * CPU (both directions). Read it back; if it lacks either, take it away
 * again. */
static int sa_confirm(struct xs_ctx *ctx, struct xs_nl *nl, const struct xs_sa *sa,
		      const char *name)
{
	struct xs_sa got;
	int err;

	err = xs_sa_get(ctx, nl, &sa->dst, sa->spi, &got);
	explicit_bzero(&got.aead, sizeof(got.aead));
	explicit_bzero(&got.enc, sizeof(got.enc));
	explicit_bzero(&got.auth, sizeof(got.auth));
	if (err == -ESRCH)
		return p_err(ctx, err, "cannot add %s: it was gone right after it was made",
			     name);
	if (err)
		return err;
	if (got.dir == sa->dir && got.has_pcpu == sa->has_pcpu &&
	    (!sa->has_pcpu || got.pcpu == sa->pcpu))
		return 0;
	sa_del_raw(ctx, nl, &sa->src, &sa->dst, sa->spi);
	if (got.dir != sa->dir)
		return p_err(ctx, -EOPNOTSUPP,
			     "cannot add %s: this kernel (before Linux 6.10) ignores dir (XFRMA_SA_DIR) and would use the SA both ways; leave out dir or run Linux 6.10 or later",
			     name);
	return p_err(ctx, -EOPNOTSUPP,
		     "cannot add %s: this kernel (before Linux 6.13) ignores pcpu (XFRMA_SA_PCPU) and would use the SA on every CPU; leave out pcpu or run Linux 6.13 or later",
		     name);
}

int xs_sa_add(struct xs_ctx *ctx, struct xs_nl *nl, const struct xs_sa *sa)
{
	char buf[XS_NL_REQ_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
	char name[128], what[160], algs_s[160], d[INET6_ADDRSTRLEN], why[256];
	struct nlmsghdr *nlh;
	int err;

	xs_sa_name(sa, name, sizeof(name));
	/* Callers building SAs from other sources than the command line
	 * get the same checks. */
	if (xs_sa_check(sa, why, sizeof(why)))
		return p_err(ctx, -EINVAL, "cannot add %s: %s", name, why);
	memset(buf, 0, sizeof(buf));
	nlh = xs_sa_encode(buf, sa);
	if (!nlh) {
		explicit_bzero(buf, sizeof(buf));
		return p_err(ctx, -EMSGSIZE, "cannot add %s: request too large",
			     name);
	}
	err = xs_nl_talk(ctx, nl, nlh, NULL, NULL, NULL);
	explicit_bzero(buf, sizeof(buf));
	if (!err)
		return sa->has_pcpu || sa->dir ? sa_confirm(ctx, nl, sa, name) : 0;
	if (nl->errmsg[0]) {
		snprintf(what, sizeof(what), "add %s", name);
		return xs_nl_perror(ctx, nl, err, what);
	}
	switch (err) {
	case -EEXIST:
		/* The kernel finds SAs by dst, spi and protocol only. */
		return p_err(ctx, err,
			     "cannot add %s: an SA with dst %s and spi 0x%08x exists already",
			     name,
			     format_addr(sa->dst.family, sa->dst.addr, d, sizeof(d)),
			     sa->spi);
	case -ENOSYS:
		return p_err(ctx, err,
			     "cannot add %s: the kernel does not provide algorithm %s",
			     name, sa_alg_names(sa, algs_s, sizeof(algs_s)));
	case -EPROTONOSUPPORT:
		return p_err(ctx, err,
			     "cannot add %s: the kernel lacks ESP or %s mode for %s (esp4/esp6 modules)",
			     name, xs_mode_name(sa->mode),
			     xfrm_family_name(sa->dst.family));
	}
	snprintf(what, sizeof(what), "add %s", name);
	return xs_nl_perror(ctx, nl, err, what);
}

static struct nlmsghdr *sa_id_msg(void *buf, uint16_t type,
				  const struct xs_prefix *dst, uint32_t spi)
{
	struct nlmsghdr *nlh = xs_nl_msg(buf, type, 0);
	struct xfrm_usersa_id *id;

	id = mnl_nlmsg_put_extra_header(nlh, sizeof(*id));
	xfrm_put_addr(&id->daddr, dst);
	id->spi = htonl(spi);
	id->family = (uint16_t)dst->family;
	id->proto = IPPROTO_ESP;
	return nlh;
}

struct sa_get_state {
	struct xs_sa *out;
	bool found;
};

static int sa_get_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct sa_get_state *st = arg;
	int err;

	if (nlh->nlmsg_type != XFRM_MSG_NEWSA)
		return MNL_CB_OK;
	err = xs_sa_decode(nlh, st->out);
	if (err) {
		errno = -err;
		return MNL_CB_ERROR;
	}
	st->found = true;
	return MNL_CB_OK;
}

int xs_sa_get(struct xs_ctx *ctx, struct xs_nl *nl, const struct xs_prefix *dst,
	      uint32_t spi, struct xs_sa *out)
{
	char buf[XS_NL_REQ_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct sa_get_state st = { .out = out };
	struct nlmsghdr *nlh;
	int err;

	nlh = sa_id_msg(buf, XFRM_MSG_GETSA, dst, spi);
	err = xs_nl_talk(ctx, nl, nlh, sa_get_cb, &st, NULL);
	if (err == -ESRCH || (!err && !st.found))
		return -ESRCH;
	if (err)
		return xs_nl_perror(ctx, nl, err, "look up SA");
	return 0;
}

/* DELSA by the kernel's key; quiet. */
static int sa_del_raw(struct xs_ctx *ctx, struct xs_nl *nl,
		      const struct xs_prefix *src, const struct xs_prefix *dst,
		      uint32_t spi)
{
	char buf[XS_NL_REQ_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct nlmsghdr *nlh;
	xfrm_address_t sa;

	nlh = sa_id_msg(buf, XFRM_MSG_DELSA, dst, spi);
	/* Ignored by the kernel for ESP, but it is what the SA is. */
	xfrm_put_addr(&sa, src);
	mnl_attr_put(nlh, XFRMA_SRCADDR, sizeof(sa), &sa);
	return xs_nl_talk(ctx, nl, nlh, NULL, NULL, NULL);
}

int xs_sa_del(struct xs_ctx *ctx, struct xs_nl *nl, const struct xs_sa *sa)
{
	char name[128], what[160], a[INET6_ADDRSTRLEN];
	struct xs_sa cur;
	int err;

	xs_sa_name(sa, name, sizeof(name));
	/* The kernel deletes by dst and spi alone: look first, so that a
	 * wrong src (or if_id) deletes nothing instead of another SA. */
	err = xs_sa_get(ctx, nl, &sa->dst, sa->spi, &cur);
	/* Only the identity is of use here, not the keys. */
	explicit_bzero(&cur.aead, sizeof(cur.aead));
	explicit_bzero(&cur.enc, sizeof(cur.enc));
	explicit_bzero(&cur.auth, sizeof(cur.auth));
	if (err == -ESRCH)
		return p_err(ctx, err, "no %s", name);
	if (err)
		return err;
	if (!addr_equal(&cur.src, &sa->src))
		return p_err(ctx, -ESRCH,
			     "no %s: the SA with this dst and spi has src %s",
			     name,
			     format_addr(cur.src.family, cur.src.addr, a, sizeof(a)));
	if (sa->if_id && cur.if_id != sa->if_id)
		return p_err(ctx, -ESRCH,
			     "no %s if_id %u: the SA with this dst and spi has if_id %u",
			     name, sa->if_id, cur.if_id);
	err = sa_del_raw(ctx, nl, &sa->src, &sa->dst, sa->spi);
	if (err == -ESRCH)
		return p_err(ctx, err, "no %s", name);
	if (err) {
		snprintf(what, sizeof(what), "delete %s", name);
		return xs_nl_perror(ctx, nl, err, what);
	}
	return 0;
}

struct sa_dump_state {
	xs_sa_cb cb;
	void *data;
	struct xs_sa sa;
	int err; /* the callback's */
};

static int sa_dump_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct sa_dump_state *st = arg;
	int err;

	if (nlh->nlmsg_type != XFRM_MSG_NEWSA)
		return MNL_CB_OK;
	err = xs_sa_decode(nlh, &st->sa);
	/* Not ours to show: AH, IPcomp, MIPv6 states. */
	if (err == -ENOENT || err == -EAFNOSUPPORT)
		return MNL_CB_OK;
	if (!err)
		err = st->err = st->cb(&st->sa, st->data);
	if (err < 0) {
		errno = -err;
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

int xs_sa_dump(struct xs_ctx *ctx, struct xs_nl *nl, xs_sa_cb cb, void *data)
{
	char buf[XS_NL_REQ_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct sa_dump_state st = { .cb = cb, .data = data };
	struct nlmsghdr *nlh;
	int err;

	nlh = xs_nl_msg(buf, XFRM_MSG_GETSA, 0);
	err = xs_nl_dump(ctx, nl, nlh, sa_dump_cb, &st, NULL);
	explicit_bzero(&st.sa, sizeof(st.sa));
	/* The callback reported its own error. */
	if (err && st.err)
		return st.err;
	if (err)
		return xs_nl_perror(ctx, nl, err, "list SAs");
	return 0;
}

int xs_sa_flush(struct xs_ctx *ctx, struct xs_nl *nl)
{
	char buf[XS_NL_REQ_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct xfrm_usersa_flush *f;
	struct nlmsghdr *nlh;

	nlh = xs_nl_msg(buf, XFRM_MSG_FLUSHSA, 0);
	f = mnl_nlmsg_put_extra_header(nlh, sizeof(*f));
	/* 0: every protocol, like "ip xfrm state flush". */
	f->proto = 0;
	return xs_nl_talk(ctx, nl, nlh, NULL, NULL, "flush SAs");
}

/* The identities of SAs to delete, collected during a dump (no request
 * can go out on the socket before the dump ends). */
struct sa_ids {
	uint32_t if_id;
	size_t n, cap;
	struct sa_id {
		struct xs_prefix src, dst;
		uint32_t spi;
	} *v;
};

static int sa_collect_cb(const struct xs_sa *sa, void *data)
{
	struct sa_ids *ids = data;
	struct sa_id *v;

	if (sa->if_id != ids->if_id)
		return 0;
	if (ids->n == ids->cap) {
		size_t cap = ids->cap ? ids->cap * 2 : 16;

		v = realloc(ids->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		ids->v = v;
		ids->cap = cap;
	}
	ids->v[ids->n].src = sa->src;
	ids->v[ids->n].dst = sa->dst;
	ids->v[ids->n].spi = sa->spi;
	ids->n++;
	return 0;
}

int xs_sa_flush_if_id(struct xs_ctx *ctx, struct xs_nl *nl, uint32_t if_id,
		      unsigned int *count)
{
	struct sa_ids ids = { .if_id = if_id };
	struct xs_sa sa;
	char name[128], what[160];
	size_t i;
	int err;

	*count = 0;
	err = xs_sa_dump(ctx, nl, sa_collect_cb, &ids);
	if (err == -ENOMEM)
		p_err(ctx, err, "out of memory");
	for (i = 0; !err && i < ids.n; i++) {
		err = sa_del_raw(ctx, nl, &ids.v[i].src, &ids.v[i].dst,
				 ids.v[i].spi);
		/* Gone since the dump: what we wanted. */
		if (err == -ESRCH) {
			err = 0;
			continue;
		}
		if (err) {
			memset(&sa, 0, sizeof(sa));
			sa.src = ids.v[i].src;
			sa.dst = ids.v[i].dst;
			sa.spi = ids.v[i].spi;
			snprintf(what, sizeof(what), "delete %s",
				 xs_sa_name(&sa, name, sizeof(name)));
			err = xs_nl_perror(ctx, nl, err, what);
			break;
		}
		(*count)++;
	}
	free(ids.v);
	return err;
}

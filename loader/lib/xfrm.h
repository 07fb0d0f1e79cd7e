/* SPDX-License-Identifier: GPL-2.0 */
/*
 * IPsec SAs and policies over NETLINK_XFRM: plain structs that describe
 * them, their encoding into and decoding from netlink messages, and the
 * requests that add, delete, list and flush them. Nothing here parses
 * command lines, so that "sa", "policy" and later "tunnel" and "apply"
 * (which builds the structs from JSON) share one encoder and one set of
 * checks.
 *
 * Conventions: numbers are in host order (SPI, ports), addresses in
 * network order in struct xs_prefix (plen unused for SA and template
 * addresses). Functions taking a ctx report their own errors with p_err()
 * and return a negative errno; the pure ones (encode, decode, checks)
 * print nothing.
 */
#ifndef XS_XFRM_H
#define XS_XFRM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/xfrm.h>

#include "common.h"
#include "netlink.h"

/* Longest key of the algorithms below (hmac(sha384): 48 bytes) with room
 * for what other tools may have installed; keys of dumped SAs that are
 * longer are reported by length only. */
#define XS_KEY_MAX 128
/* Templates per policy: the kernel's XFRM_MAX_DEPTH. */
#define XS_TMPL_MAX 6
/* Replay window in packets: the kernel's bitmap limit (XFRMA_REPLAY_ESN_MAX
 * bits). Above 32, or with ESN, it travels in XFRMA_REPLAY_ESN_VAL. */
#define XS_REPLAY_MAX 4096
/* Manually keyed SAs get no anti-replay by default (RFC 4303 3.3.3, RFC
 * 4302 3.3.2; "ip xfrm" does the same): a re-created SA, after a restart of
 * either side, sends from sequence number 1 again, and a receiver with a
 * window would drop everything until the counter passes its old top. The
 * kernel refuses an ESN SA without a window (xfrm_init_replay(), unless it
 * is marked outbound, which ours are not), so ESN keeps one. */
#define XS_REPLAY_DEFAULT 0
#define XS_REPLAY_ESN_DEFAULT 32

enum xs_alg_kind {
	XS_ALG_AEAD, /* XFRMA_ALG_AEAD: encryption and integrity in one */
	XS_ALG_ENC, /* XFRMA_ALG_CRYPT */
	XS_ALG_AUTH, /* XFRMA_ALG_AUTH_TRUNC */
};

/* One algorithm we know: its kernel name, friendly aliases, and what the
 * kernel (and the RFC defining its use in ESP) accepts. */
struct xs_alg_desc {
	const char *name; /* as the kernel's crypto API names it */
	enum xs_alg_kind kind;
	const char *aliases[4]; /* NULL-terminated */
	uint8_t key_bytes[4]; /* accepted key lengths, 0-terminated */
	/* AEAD: accepted ICV lengths; auth: the truncation used (RFC 4868
	 * and friends). 0-terminated; the first is the default. */
	uint16_t icv_bits[4];
	const char *key_hint; /* what the key is made of, for errors */
};

/* Look up name (kernel name or alias, case-sensitive as the kernel is) of
 * the given kind. NULL if unknown. */
const struct xs_alg_desc *xs_alg_find(enum xs_alg_kind kind, const char *name);
/* Same, any kind: tells "enc aes-gcm" apart from a typo. */
const struct xs_alg_desc *xs_alg_find_any(const char *name);
const char *xs_alg_kind_name(enum xs_alg_kind kind); /* "aead", "enc", "auth" */
/* The table, for help texts and tests; n gets its length. */
const struct xs_alg_desc *xs_alg_table(size_t *n);

/* An algorithm as an SA carries it. name[0] == '\0': absent. */
struct xs_alg {
	char name[64]; /* kernel name (aliases resolved) */
	uint32_t key_len; /* bytes */
	uint32_t icv_bits; /* AEAD ICV length or auth truncation */
	uint8_t key[XS_KEY_MAX];
};

/* Check a's key length and ICV/truncation against what its algorithm
 * accepts. 0, or -EINVAL with a reason in why that never shows the key. */
int xs_alg_check(enum xs_alg_kind kind, const struct xs_alg *a, char *why,
		 size_t len);

/* UDP encapsulation (NAT-T). type 0: none. */
struct xs_encap {
	uint16_t type; /* UDP_ENCAP_ESPINUDP */
	uint16_t sport, dport;
};

/* An ESP SA. Protocol is always ESP; the selector is always the wildcard
 * (which traffic uses the SA is the policies' and the if_id's business). */
struct xs_sa {
	struct xs_prefix src, dst; /* outer addresses, one family */
	uint32_t spi;
	uint32_t if_id; /* 0: not bound to an xfrm interface */
	uint32_t reqid;
	uint8_t mode; /* XFRM_MODE_TUNNEL or XFRM_MODE_TRANSPORT */
	uint8_t flags; /* XFRM_STATE_*: AF_UNSPEC, ESN */
	uint32_t replay_window; /* packets, 0..XS_REPLAY_MAX */
	struct xs_alg aead, enc, auth; /* aead, or enc and auth */
	struct xs_encap encap;
	/* A per-CPU SA (RFC 9611, XFRMA_SA_PCPU, Linux 6.13+): the kernel
	 * sends through it only what CPU pcpu transmits, and prefers it
	 * there to an SA of the same tunnel without a CPU. */
	bool has_pcpu;
	uint32_t pcpu;
	/* XFRMA_SA_DIR (Linux 6.10): 0 (none), XFRM_SA_DIR_IN or _OUT. The
	 * kernel takes a CPU only of an SA with a direction. */
	uint8_t dir;
	/* Filled in by decoding only. */
	uint64_t packets, bytes; /* the kernel's current lifetime counters */
	uint32_t replay_drops, integrity_failures;
};

/* Start an SA as the CLI does: tunnel mode, replay window
 * XS_REPLAY_DEFAULT (0; a caller that sets XFRM_STATE_ESN and was given no
 * window sets XS_REPLAY_ESN_DEFAULT). */
void xs_sa_init(struct xs_sa *sa);
/* Everything the kernel would refuse with a bare EINVAL, and what it would
 * accept but is wrong anyway (SPI 0..255, key lengths). 0, or -EINVAL with
 * the reason in why. */
int xs_sa_check(const struct xs_sa *sa, char *why, size_t len);

/* "SA src 10.0.0.1 dst 10.0.0.2 spi 0x00001000" for messages. */
const char *xs_sa_name(const struct xs_sa *sa, char *buf, size_t len);

/* Build an XFRM_MSG_NEWSA for sa into buf (XS_NL_REQ_SIZE bytes, all zero:
 * libmnl leaves attribute padding as it finds it). Returns
 * the message, NULL if sa cannot be encoded (a replay window beyond
 * XS_REPLAY_MAX; xs_sa_check() refuses that first). The buffer then holds
 * key material: zero it after use. */
struct nlmsghdr *xs_sa_encode(void *buf, const struct xs_sa *sa);
/* Parse an XFRM_MSG_NEWSA (a dump or get reply, or one of ours). 0, or
 * -EBADMSG for a malformed one, -EAFNOSUPPORT for non-IP ones, and
 * -ENOENT for SAs other than ESP (callers skip those). */
int xs_sa_decode(const struct nlmsghdr *nlh, struct xs_sa *sa);

/* Check (xs_sa_check()) and add sa. EEXIST and missing algorithms get
 * their own messages. An SA with a CPU or a direction is read back: a kernel
 * older than 6.13 (6.10 for the direction) ignores XFRMA_SA_PCPU
 * (XFRMA_SA_DIR) and would have made an SA for every CPU (both ways),
 * which is then deleted again and reported (-EOPNOTSUPP). */
int xs_sa_add(struct xs_ctx *ctx, struct xs_nl *nl, const struct xs_sa *sa);
/* Fetch the ESP SA with dst and spi into out; -ESRCH (quietly) if none. */
int xs_sa_get(struct xs_ctx *ctx, struct xs_nl *nl, const struct xs_prefix *dst,
	      uint32_t spi, struct xs_sa *out);
/* Delete the SA that sa names: dst and spi find it (that is the kernel's
 * key), and its src, and its if_id when sa->if_id is not 0, must match too,
 * so that nothing but the named SA goes. -ESRCH if there is no such SA. */
int xs_sa_del(struct xs_ctx *ctx, struct xs_nl *nl, const struct xs_sa *sa);
/* Call cb for every ESP SA; a negative return from cb stops the dump and
 * is returned. */
typedef int (*xs_sa_cb)(const struct xs_sa *sa, void *data);
int xs_sa_dump(struct xs_ctx *ctx, struct xs_nl *nl, xs_sa_cb cb, void *data);
/* Remove every SA of the namespace (all protocols), as "ip xfrm state
 * flush" does. */
int xs_sa_flush(struct xs_ctx *ctx, struct xs_nl *nl);
/* Remove the ESP SAs bound to if_id; *count gets how many. */
int xs_sa_flush_if_id(struct xs_ctx *ctx, struct xs_nl *nl, uint32_t if_id,
		      unsigned int *count);

/* A policy template: which SA (by addresses, mode, reqid) must have
 * processed the traffic. Protocol is always ESP. */
struct xs_tmpl {
	struct xs_prefix src, dst; /* tunnel endpoints; one family */
	uint8_t mode;
	uint32_t reqid; /* 0: any */
	uint32_t spi; /* 0: any (decoded; the CLI never sets it) */
	uint8_t proto; /* decoded only; IPPROTO_ESP when encoding */
};

struct xs_policy {
	uint8_t dir; /* XFRM_POLICY_IN, _OUT or _FWD */
	struct xs_prefix sel_src, sel_dst; /* one family */
	uint32_t if_id; /* 0: not bound to an xfrm interface */
	uint32_t priority;
	uint8_t action; /* XFRM_POLICY_ALLOW or _BLOCK */
	uint32_t index; /* the kernel's id; decoded only */
	/* Decoded only: the selector's upper-layer part (0: any) and when
	 * the kernel added the policy (seconds, CLOCK_REALTIME). */
	uint8_t sel_proto;
	uint16_t sel_sport, sel_dport; /* host order */
	uint64_t add_time;
	unsigned int ntmpl;
	struct xs_tmpl tmpl[XS_TMPL_MAX];
};

/* dir, the wildcard selector of family, allow, no templates. */
void xs_policy_init(struct xs_policy *pol, uint8_t dir, int family);
int xs_policy_check(const struct xs_policy *pol, char *why, size_t len);
/* "policy dir out src 0.0.0.0/0 dst 0.0.0.0/0 if_id 5" for messages. */
const char *xs_policy_name(const struct xs_policy *pol, char *buf, size_t len);
const char *xs_dir_name(uint8_t dir); /* "in", "out", "fwd" */
const char *xs_mode_name(uint8_t mode); /* "tunnel", "transport" */

/* An XFRM_MSG_NEWPOLICY into buf (XS_NL_REQ_SIZE bytes, all zero). */
struct nlmsghdr *xs_policy_encode(void *buf, const struct xs_policy *pol);
/* -ENOENT for what callers skip: socket and sub policies. */
int xs_policy_decode(const struct nlmsghdr *nlh, struct xs_policy *pol);

/* Check (xs_policy_check()) and add pol; EEXIST is reported as such. */
int xs_policy_add(struct xs_ctx *ctx, struct xs_nl *nl,
		  const struct xs_policy *pol);
/* Delete the policy with pol's dir, selector and if_id (the kernel's key
 * for a policy; templates are not part of it). -ENOENT if none: reported
 * unless quiet. */
int xs_policy_del(struct xs_ctx *ctx, struct xs_nl *nl,
		  const struct xs_policy *pol, bool quiet);
/* Does a policy with pol's dir, selector and if_id exist? 1, 0, or a
 * negative errno (reported). */
int xs_policy_exists(struct xs_ctx *ctx, struct xs_nl *nl,
		     const struct xs_policy *pol);
typedef int (*xs_policy_cb)(const struct xs_policy *pol, void *data);
int xs_policy_dump(struct xs_ctx *ctx, struct xs_nl *nl, xs_policy_cb cb,
		   void *data);
/* Remove every (main) policy of the namespace, as "ip xfrm policy flush". */
int xs_policy_flush(struct xs_ctx *ctx, struct xs_nl *nl);
int xs_policy_flush_if_id(struct xs_ctx *ctx, struct xs_nl *nl, uint32_t if_id,
			  unsigned int *count);

#endif /* XS_XFRM_H */

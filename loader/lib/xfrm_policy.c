// SPDX-License-Identifier: GPL-2.0
/* XFRM policies over netlink: build, parse, add, delete, dump (xfrm.h). */
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

void xs_policy_init(struct xs_policy *pol, uint8_t dir, int family)
{
	memset(pol, 0, sizeof(*pol));
	pol->dir = dir;
	pol->action = XFRM_POLICY_ALLOW;
	pol->sel_src.family = family;
	pol->sel_dst.family = family;
}

const char *xs_policy_name(const struct xs_policy *pol, char *buf, size_t len)
{
	char s[64], d[64];
	int n;

	n = snprintf(buf, len, "policy dir %s src %s dst %s",
		     xs_dir_name(pol->dir),
		     format_prefix(&pol->sel_src, s, sizeof(s)),
		     format_prefix(&pol->sel_dst, d, sizeof(d)));
	if (pol->if_id && n > 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, " if_id %u", pol->if_id);
	return buf;
}

int xs_policy_check(const struct xs_policy *pol, char *why, size_t len)
{
	char a[64], b[64];
	unsigned int i;

	if (pol->dir > XFRM_POLICY_FWD) {
		snprintf(why, len, "dir must be in, out or fwd");
		return -EINVAL;
	}
	if (!xfrm_family_ok(pol->sel_src.family) || !xfrm_family_ok(pol->sel_dst.family)) {
		snprintf(why, len, "the selector must be IPv4 or IPv6 prefixes");
		return -EINVAL;
	}
	if (pol->sel_src.family != pol->sel_dst.family) {
		snprintf(why, len,
			 "src %s and dst %s are of different families: a policy's selector is of one family",
			 format_prefix(&pol->sel_src, a, sizeof(a)),
			 format_prefix(&pol->sel_dst, b, sizeof(b)));
		return -EINVAL;
	}
	if (pol->action != XFRM_POLICY_ALLOW && pol->action != XFRM_POLICY_BLOCK) {
		snprintf(why, len, "action must be allow or block");
		return -EINVAL;
	}
	if (pol->ntmpl > XS_TMPL_MAX) {
		snprintf(why, len, "at most %d templates", XS_TMPL_MAX);
		return -EINVAL;
	}
	for (i = 0; i < pol->ntmpl; i++) {
		const struct xs_tmpl *t = &pol->tmpl[i];

		if (!xfrm_family_ok(t->src.family) || t->src.family != t->dst.family) {
			snprintf(why, len,
				 "tmpl src and dst must be addresses of one family");
			return -EINVAL;
		}
		if (t->mode != XFRM_MODE_TUNNEL && t->mode != XFRM_MODE_TRANSPORT) {
			snprintf(why, len, "tmpl mode must be tunnel or transport");
			return -EINVAL;
		}
		/* Only a tunnel changes the family between inner and outer
		 * header; the kernel refuses it otherwise. */
		if (t->mode == XFRM_MODE_TRANSPORT &&
		    t->src.family != pol->sel_src.family) {
			snprintf(why, len,
				 "a transport-mode tmpl (%s) must be of the selector's family (%s)",
				 xfrm_family_name(t->src.family),
				 xfrm_family_name(pol->sel_src.family));
			return -EINVAL;
		}
	}
	return 0;
}

static void put_selector(struct xfrm_selector *sel, const struct xs_policy *pol)
{
	memset(sel, 0, sizeof(*sel));
	sel->family = (uint16_t)pol->sel_src.family;
	xfrm_put_addr(&sel->saddr, &pol->sel_src);
	xfrm_put_addr(&sel->daddr, &pol->sel_dst);
	sel->prefixlen_s = pol->sel_src.plen;
	sel->prefixlen_d = pol->sel_dst.plen;
}

struct nlmsghdr *xs_policy_encode(void *buf, const struct xs_policy *pol)
{
	struct xfrm_user_tmpl ut[XS_TMPL_MAX];
	struct nlmsghdr *nlh = xs_nl_msg_zeroed(buf, XFRM_MSG_NEWPOLICY, 0);
	struct xfrm_userpolicy_info *pi;
	unsigned int i, n = pol->ntmpl > XS_TMPL_MAX ? XS_TMPL_MAX : pol->ntmpl;

	pi = mnl_nlmsg_put_extra_header(nlh, sizeof(*pi));
	put_selector(&pi->sel, pol);
	xfrm_lifetime_unlimited(&pi->lft);
	pi->priority = pol->priority;
	pi->dir = pol->dir;
	pi->action = pol->action;
	pi->share = XFRM_SHARE_ANY;

	memset(ut, 0, sizeof(ut));
	for (i = 0; i < n; i++) {
		const struct xs_tmpl *t = &pol->tmpl[i];

		xfrm_put_addr(&ut[i].id.daddr, &t->dst);
		ut[i].id.spi = htonl(t->spi);
		ut[i].id.proto = IPPROTO_ESP;
		ut[i].family = (uint16_t)t->dst.family;
		xfrm_put_addr(&ut[i].saddr, &t->src);
		ut[i].reqid = t->reqid;
		ut[i].mode = t->mode;
		ut[i].share = XFRM_SHARE_ANY;
		/* Any algorithm: the SA decides, not the policy. */
		ut[i].aalgos = ~0u;
		ut[i].ealgos = ~0u;
		ut[i].calgos = ~0u;
	}
	if (n && !mnl_attr_put_check(nlh, XS_NL_REQ_SIZE, XFRMA_TMPL,
				     n * sizeof(ut[0]), ut))
		return NULL;
	if (pol->if_id &&
	    !mnl_attr_put_u32_check(nlh, XS_NL_REQ_SIZE, XFRMA_IF_ID, pol->if_id))
		return NULL;
	return nlh;
}

static const enum mnl_attr_data_type pol_attr_policy[XFRMA_MAX + 1] = {
	[XFRMA_TMPL] = MNL_TYPE_BINARY,
	[XFRMA_POLICY_TYPE] = MNL_TYPE_BINARY,
	[XFRMA_IF_ID] = MNL_TYPE_U32,
};

static void get_selector_prefix(struct xs_prefix *p, int family,
				const xfrm_address_t *a, uint8_t plen)
{
	xfrm_set_addr(p, family, a);
	p->plen = plen;
}

int xs_policy_decode(const struct nlmsghdr *nlh, struct xs_policy *pol)
{
	const struct nlattr *tb[XFRMA_MAX + 1];
	struct xfrm_userpolicy_info pi;
	int err;

	memset(pol, 0, sizeof(*pol));
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(pi))
		return -EBADMSG;
	memcpy(&pi, mnl_nlmsg_get_payload(nlh), sizeof(pi));
	/* Per-socket policies (dir >= XFRM_POLICY_MAX) are the sockets'. */
	if (pi.dir > XFRM_POLICY_FWD)
		return -ENOENT;
	if (!xfrm_family_ok(pi.sel.family))
		return -EAFNOSUPPORT;
	err = xs_nl_parse(nlh, sizeof(pi), pol_attr_policy, XFRMA_MAX, tb);
	if (err)
		return err;
	if (tb[XFRMA_POLICY_TYPE]) {
		struct xfrm_userpolicy_type t;

		if (mnl_attr_get_payload_len(tb[XFRMA_POLICY_TYPE]) < sizeof(t))
			return -EBADMSG;
		memcpy(&t, mnl_attr_get_payload(tb[XFRMA_POLICY_TYPE]), sizeof(t));
		/* Sub policies are MIPv6's; we neither add nor flush them. */
		if (t.type != XFRM_POLICY_TYPE_MAIN)
			return -ENOENT;
	}
	pol->dir = pi.dir;
	pol->action = pi.action;
	pol->priority = pi.priority;
	pol->index = pi.index;
	pol->sel_proto = pi.sel.proto;
	pol->sel_sport = pi.sel.sport_mask ? ntohs(pi.sel.sport) : 0;
	pol->sel_dport = pi.sel.dport_mask ? ntohs(pi.sel.dport) : 0;
	pol->add_time = pi.curlft.add_time;
	get_selector_prefix(&pol->sel_src, pi.sel.family, &pi.sel.saddr,
			    pi.sel.prefixlen_s);
	get_selector_prefix(&pol->sel_dst, pi.sel.family, &pi.sel.daddr,
			    pi.sel.prefixlen_d);
	if (tb[XFRMA_TMPL]) {
		const uint8_t *p = mnl_attr_get_payload(tb[XFRMA_TMPL]);
		size_t n = mnl_attr_get_payload_len(tb[XFRMA_TMPL]) /
			   sizeof(struct xfrm_user_tmpl);
		unsigned int i;

		if (n > XS_TMPL_MAX)
			n = XS_TMPL_MAX;
		for (i = 0; i < n; i++) {
			struct xfrm_user_tmpl ut;
			struct xs_tmpl *t = &pol->tmpl[i];
			int family;

			memcpy(&ut, p + i * sizeof(ut), sizeof(ut));
			/* Old tools leave it 0: the policy's family then. */
			family = ut.family ? ut.family : pi.sel.family;
			xfrm_set_addr(&t->src, family, &ut.saddr);
			xfrm_set_addr(&t->dst, family, &ut.id.daddr);
			t->mode = ut.mode;
			t->reqid = ut.reqid;
			t->spi = ntohl(ut.id.spi);
			t->proto = ut.id.proto;
		}
		pol->ntmpl = (unsigned int)n;
	}
	if (tb[XFRMA_IF_ID])
		pol->if_id = mnl_attr_get_u32(tb[XFRMA_IF_ID]);
	return 0;
}

int xs_policy_add(struct xs_ctx *ctx, struct xs_nl *nl,
		  const struct xs_policy *pol)
{
	char buf[XS_NL_REQ_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
	char name[200], what[220], why[256];
	struct nlmsghdr *nlh;
	int err;

	xs_policy_name(pol, name, sizeof(name));
	if (xs_policy_check(pol, why, sizeof(why)))
		return p_err(ctx, -EINVAL, "cannot add %s: %s", name, why);
	memset(buf, 0, sizeof(buf));
	nlh = xs_policy_encode(buf, pol);
	if (!nlh)
		return p_err(ctx, -EMSGSIZE, "cannot add %s: request too large",
			     name);
	err = xs_nl_talk(ctx, nl, nlh, NULL, NULL, NULL);
	if (!err)
		return 0;
	if (err == -EEXIST && !nl->errmsg[0])
		return p_err(ctx, err, "cannot add %s: it exists already", name);
	snprintf(what, sizeof(what), "add %s", name);
	return xs_nl_perror(ctx, nl, err, what);
}

/* GETPOLICY or DELPOLICY by direction, selector and if_id, or by index
 * when index is not 0 (the kernel checks dir and if_id then too). */
static struct nlmsghdr *policy_id_msg(void *buf, uint16_t type,
				      const struct xs_policy *pol,
				      uint32_t index)
{
	struct nlmsghdr *nlh = xs_nl_msg(buf, type, 0);
	struct xfrm_userpolicy_id *id;

	id = mnl_nlmsg_put_extra_header(nlh, sizeof(*id));
	if (!index)
		put_selector(&id->sel, pol);
	id->index = index;
	id->dir = pol->dir;
	if (pol->if_id)
		mnl_attr_put_u32(nlh, XFRMA_IF_ID, pol->if_id);
	return nlh;
}

int xs_policy_del(struct xs_ctx *ctx, struct xs_nl *nl,
		  const struct xs_policy *pol, bool quiet)
{
	char buf[XS_NL_REQ_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
	char name[200], what[220];
	int err;

	err = xs_nl_talk(ctx, nl, policy_id_msg(buf, XFRM_MSG_DELPOLICY, pol, 0),
			 NULL, NULL, NULL);
	if (!err || (err == -ENOENT && quiet))
		return err;
	xs_policy_name(pol, name, sizeof(name));
	if (err == -ENOENT)
		return p_err(ctx, err, "no %s", name);
	snprintf(what, sizeof(what), "delete %s", name);
	return xs_nl_perror(ctx, nl, err, what);
}

int xs_policy_exists(struct xs_ctx *ctx, struct xs_nl *nl,
		     const struct xs_policy *pol)
{
	char buf[XS_NL_REQ_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
	char name[200], what[220];
	int err;

	/* The reply (the policy) is of no interest: the ACK says enough. */
	err = xs_nl_talk(ctx, nl, policy_id_msg(buf, XFRM_MSG_GETPOLICY, pol, 0),
			 NULL, NULL, NULL);
	if (!err)
		return 1;
	if (err == -ENOENT)
		return 0;
	snprintf(what, sizeof(what), "look up %s",
		 xs_policy_name(pol, name, sizeof(name)));
	return xs_nl_perror(ctx, nl, err, what);
}

struct pol_dump_state {
	xs_policy_cb cb;
	void *data;
	int err; /* the callback's */
};

static int pol_dump_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct pol_dump_state *st = arg;
	struct xs_policy pol;
	int err;

	if (nlh->nlmsg_type != XFRM_MSG_NEWPOLICY)
		return MNL_CB_OK;
	err = xs_policy_decode(nlh, &pol);
	if (err == -ENOENT || err == -EAFNOSUPPORT)
		return MNL_CB_OK;
	if (!err)
		err = st->err = st->cb(&pol, st->data);
	if (err < 0) {
		errno = -err;
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

int xs_policy_dump(struct xs_ctx *ctx, struct xs_nl *nl, xs_policy_cb cb,
		   void *data)
{
	char buf[XS_NL_REQ_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct pol_dump_state st = { .cb = cb, .data = data };
	int err;

	err = xs_nl_dump(ctx, nl, xs_nl_msg(buf, XFRM_MSG_GETPOLICY, 0),
			 pol_dump_cb, &st, NULL);
	if (err && st.err)
		return st.err;
	if (err)
		return xs_nl_perror(ctx, nl, err, "list policies");
	return 0;
}

int xs_policy_flush(struct xs_ctx *ctx, struct xs_nl *nl)
{
	char buf[XS_NL_REQ_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));

	/* No XFRMA_POLICY_TYPE: the kernel flushes the main policies. */
	return xs_nl_talk(ctx, nl, xs_nl_msg(buf, XFRM_MSG_FLUSHPOLICY, 0),
			  NULL, NULL, "flush policies");
}

struct pol_ids {
	uint32_t if_id;
	size_t n, cap;
	struct xs_policy *v;
};

static int pol_collect_cb(const struct xs_policy *pol, void *data)
{
	struct pol_ids *ids = data;
	struct xs_policy *v;

	if (pol->if_id != ids->if_id)
		return 0;
	if (ids->n == ids->cap) {
		size_t cap = ids->cap ? ids->cap * 2 : 16;

		v = realloc(ids->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		ids->v = v;
		ids->cap = cap;
	}
	ids->v[ids->n++] = *pol;
	return 0;
}

int xs_policy_flush_if_id(struct xs_ctx *ctx, struct xs_nl *nl, uint32_t if_id,
			  unsigned int *count)
{
	char buf[XS_NL_REQ_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct pol_ids ids = { .if_id = if_id };
	char name[200], what[220];
	struct nlmsghdr *nlh;
	size_t i;
	int err;

	*count = 0;
	err = xs_policy_dump(ctx, nl, pol_collect_cb, &ids);
	if (err == -ENOMEM)
		p_err(ctx, err, "out of memory");
	for (i = 0; !err && i < ids.n; i++) {
		/* By index: exact even where selectors repeat. */
		nlh = policy_id_msg(buf, XFRM_MSG_DELPOLICY, &ids.v[i],
				    ids.v[i].index);
		err = xs_nl_talk(ctx, nl, nlh, NULL, NULL, NULL);
		if (err == -ENOENT) {
			err = 0;
			continue;
		}
		if (err) {
			snprintf(what, sizeof(what), "delete %s",
				 xs_policy_name(&ids.v[i], name, sizeof(name)));
			err = xs_nl_perror(ctx, nl, err, what);
			break;
		}
		(*count)++;
	}
	free(ids.v);
	return err;
}

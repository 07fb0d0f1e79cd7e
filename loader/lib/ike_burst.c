// SPDX-License-Identifier: GPL-2.0
/*
 * What a burst of xfrm netlink messages changes in the IKE reconcile's view
 * between two full passes (ike.h, struct xs_ike_burst): the daemon's quick
 * pass runs the planner on the last full pass's view merged with what the
 * burst added and removed, without dumping. Pure: no printing, no timing.
 */
#include <errno.h>
#include <stddef.h>
#include <ifaddrs.h>
#include <libmnl/libmnl.h>
#include <linux/xfrm.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "ike.h"

bool xs_ike_addr_local(const struct ifaddrs *local, const struct xs_prefix *a)
{
	const struct ifaddrs *i;

	for (i = local; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != a->family)
			continue;
		if (a->family == AF_INET &&
		    !memcmp(&((struct sockaddr_in *)i->ifa_addr)->sin_addr, a->addr, 4))
			return true;
		if (a->family == AF_INET6 &&
		    !memcmp(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, a->addr, 16))
			return true;
	}
	return false;
}

static bool push_u32(uint32_t **v, size_t *n, size_t *cap, uint32_t x)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 8;
		uint32_t *p = realloc(*v, c * sizeof(*p));

		if (!p)
			return false;
		*v = p;
		*cap = c;
	}
	(*v)[(*n)++] = x;
	return true;
}

static bool push_pol(struct xs_ike_burst *b, const struct xs_policy *pol)
{
	if (b->npols == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 8;
		struct xs_policy *v = realloc(b->pols, cap * sizeof(*v));

		if (!v)
			return false;
		b->pols = v;
		b->cap = cap;
	}
	b->pols[b->npols++] = *pol;
	return true;
}

/* A DELPOLICY names its policy by index, or (removed by selector) by the
 * policy itself as XFRMA_POLICY; 0 when neither tells. */
static uint32_t del_policy_index(const struct nlmsghdr *nlh, const struct xfrm_userpolicy_id *id)
{
	const struct nlattr *a;

	if (id->index)
		return id->index;
	/* The attribute is 4-byte aligned, the struct wants 8: copy. */
	mnl_attr_for_each(a, nlh, sizeof(*id))
		if (mnl_attr_get_type(a) == XFRMA_POLICY &&
		    mnl_attr_get_payload_len(a) >= sizeof(struct xfrm_userpolicy_info)) {
			uint32_t index;

			memcpy(&index,
			       (const char *)mnl_attr_get_payload(a) +
				       offsetof(struct xfrm_userpolicy_info, index),
			       sizeof(index));
			return index;
		}
	return 0;
}

void xs_ike_burst_note(struct xs_ike_burst *b, const struct xs_ike_range *r, size_t n,
		       const struct ifaddrs *local, const void *buf, size_t len)
{
	const struct nlmsghdr *nlh = buf;
	int left = (int)len;

	for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
		switch (nlh->nlmsg_type) {
		case XFRM_MSG_NEWPOLICY:
		case XFRM_MSG_UPDPOLICY: {
			struct xs_policy pol;

			if (xs_policy_decode(nlh, &pol) || pol.dir != XFRM_POLICY_OUT ||
			    xs_ike_range_of(r, n, pol.if_id) < 0)
				break;
			if (!push_pol(b, &pol))
				b->other = true;
			break;
		}
		case XFRM_MSG_NEWSA:
		case XFRM_MSG_UPDSA: {
			struct xs_sa sa;

			if (!xs_sa_decode(nlh, &sa) && sa.if_id &&
			    (sa.aead.name[0] || sa.enc.name[0] || sa.auth.name[0]) &&
			    xs_ike_addr_local(local, &sa.src) &&
			    !push_u32(&b->ids, &b->nids, &b->capids, sa.if_id))
				b->other = true;
			explicit_bzero(&sa, sizeof(sa));
			break;
		}
		case XFRM_MSG_DELPOLICY: {
			const struct xfrm_userpolicy_id *id = mnl_nlmsg_get_payload(nlh);
			uint32_t index = 0;

			if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*id))) {
				b->other = true;
				break;
			}
			if (id->dir != XFRM_POLICY_OUT)
				break;
			index = del_policy_index(nlh, id);
			if (!index || !push_u32(&b->gone, &b->ngone, &b->capgone, index))
				b->other = true;
			break;
		}
		case XFRM_MSG_DELSA:
		case XFRM_MSG_EXPIRE:
		case XFRM_MSG_ACQUIRE: /* a larval SA, no keys: nothing usable */
			break;
		default:
			b->other = true;
		}
	}
}

bool xs_ike_burst_news(const struct xs_ike_burst *b)
{
	return !b->other && (b->npols != b->done || b->ngone != b->gone_done);
}

static bool burst_gone(const struct xs_ike_burst *b, const struct xs_policy *pol)
{
	size_t i;

	for (i = 0; i < b->ngone; i++)
		if (pol->dir == XFRM_POLICY_OUT && pol->index == b->gone[i])
			return true;
	return false;
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int xs_ike_burst_view(struct xs_ike_burst *b, const struct xs_policy *pols, size_t npols,
		      const uint32_t *ids, size_t nids, struct xs_policy **vpols, size_t *nvpols,
		      uint32_t **vids, size_t *nvids)
{
	struct xs_policy *vp;
	size_t i, np = 0;
	uint32_t *vi;

	b->done = b->npols;
	b->gone_done = b->ngone;
	*vpols = NULL;
	*vids = NULL;
	*nvpols = *nvids = 0;
	vp = malloc((npols + b->npols + 1) * sizeof(*vp));
	vi = malloc((nids + b->nids + 1) * sizeof(*vi));
	if (!vp || !vi) {
		free(vp);
		free(vi);
		return -ENOMEM;
	}
	for (i = 0; i < npols; i++)
		if (!burst_gone(b, &pols[i]))
			vp[np++] = pols[i];
	for (i = 0; i < b->npols; i++)
		if (!burst_gone(b, &b->pols[i]))
			vp[np++] = b->pols[i];
	if (nids)
		memcpy(vi, ids, nids * sizeof(*vi));
	if (b->nids)
		memcpy(vi + nids, b->ids, b->nids * sizeof(*vi));
	qsort(vi, nids + b->nids, sizeof(*vi), u32_cmp);
	*vpols = vp;
	*nvpols = np;
	*vids = vi;
	*nvids = nids + b->nids;
	return 0;
}

void xs_ike_burst_reset(struct xs_ike_burst *b)
{
	b->npols = b->nids = b->done = b->ngone = b->gone_done = 0;
	b->other = false;
}

void xs_ike_burst_free(struct xs_ike_burst *b)
{
	free(b->pols);
	free(b->ids);
	free(b->gone);
	memset(b, 0, sizeof(*b));
}

// SPDX-License-Identifier: GPL-2.0
/*
 * The netlink attribute parsers of loader/lib/netlink.c (xs_nl_parse,
 * xs_nl_parse_nested) on any reply buffer: every object that reads the
 * kernel's answers (link now, SA and policy later) files attributes with
 * them, and then trusts what they filed.
 *
 * The input is a receive buffer: netlink messages back to back, walked the
 * way libmnl walks them. Each message is parsed as an RTM_NEWLINK reply
 * (struct ifinfomsg, then IFLA_* with IFLA_LINKINFO -> IFLA_INFO_DATA
 * nested in it, the policies of loader/link.c) and as an NLMSG_ERROR with
 * extended-ack TLVs. Checked: what the parser filed lies inside the
 * message, holds what its policy type promises (a u32 is 4 bytes, a
 * NUL_STRING ends in NUL), has the type of its slot, and a refused
 * attribute fails the whole parse.
 */
#include <errno.h>
#include <stdbool.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "common.h"
#include "netlink.h"
#include "fuzz.h"

#define MAX_INPUT 8192

static const enum mnl_attr_data_type link_policy[IFLA_MAX + 1] = {
	[IFLA_IFNAME] = MNL_TYPE_NUL_STRING,
	[IFLA_MTU] = MNL_TYPE_U32,
	[IFLA_LINKINFO] = MNL_TYPE_NESTED,
};

static const enum mnl_attr_data_type info_policy[IFLA_INFO_MAX + 1] = {
	[IFLA_INFO_KIND] = MNL_TYPE_NUL_STRING,
	[IFLA_INFO_DATA] = MNL_TYPE_NESTED,
};

static const enum mnl_attr_data_type xfrm_policy[IFLA_XFRM_MAX + 1] = {
	[IFLA_XFRM_LINK] = MNL_TYPE_U32,
	[IFLA_XFRM_IF_ID] = MNL_TYPE_U32,
	[IFLA_XFRM_COLLECT_METADATA] = MNL_TYPE_FLAG,
};

static const enum mnl_attr_data_type extack_policy[NLMSGERR_ATTR_MAX + 1] = {
	[NLMSGERR_ATTR_MSG] = MNL_TYPE_NUL_STRING,
	[NLMSGERR_ATTR_OFFS] = MNL_TYPE_U32,
};

/* Every filed attribute: in [lo, hi), of its slot's type, as its policy
 * says. A string is read to its end, so that a missing NUL shows. */
static void check_table(const struct nlattr **tb, const enum mnl_attr_data_type *policy,
			uint16_t max, const void *lo, const void *hi)
{
	uint16_t t;

	for (t = 0; t <= max; t++) {
		const struct nlattr *a = tb[t];
		const char *p, *end;
		uint16_t len;

		if (!a)
			continue;
		FUZZ_CHECK(policy[t] != MNL_TYPE_UNSPEC);
		FUZZ_CHECK(mnl_attr_get_type(a) == t);
		p = mnl_attr_get_payload(a);
		len = mnl_attr_get_payload_len(a);
		end = p + len;
		FUZZ_CHECK((const void *)a >= lo && (const void *)end <= hi);
		switch (policy[t]) {
		case MNL_TYPE_U32:
			FUZZ_CHECK(len == sizeof(uint32_t));
			(void)mnl_attr_get_u32(a);
			break;
		case MNL_TYPE_FLAG:
			FUZZ_CHECK(len == 0);
			break;
		case MNL_TYPE_NUL_STRING:
			FUZZ_CHECK(len > 0 && p[len - 1] == '\0');
			FUZZ_CHECK(strlen(mnl_attr_get_str(a)) < len);
			break;
		case MNL_TYPE_NESTED:
			FUZZ_CHECK(len == 0 || len >= MNL_ATTR_HDRLEN);
			break;
		default:
			break;
		}
	}
}

static void parse_as_link(const struct nlmsghdr *nlh)
{
	const struct nlattr *tb[IFLA_MAX + 1], *li[IFLA_INFO_MAX + 1];
	const struct nlattr *xd[IFLA_XFRM_MAX + 1];
	const void *lo = nlh, *hi = (const char *)nlh + MNL_ALIGN(nlh->nlmsg_len);
	char name[16]; /* IFNAMSIZ */

	if (xs_nl_parse(nlh, sizeof(struct ifinfomsg), link_policy, IFLA_MAX, tb))
		return;
	check_table(tb, link_policy, IFLA_MAX, lo, hi);
	if (tb[IFLA_IFNAME])
		snprintf(name, sizeof(name), "%s", mnl_attr_get_str(tb[IFLA_IFNAME]));
	if (!tb[IFLA_LINKINFO])
		return;
	lo = mnl_attr_get_payload(tb[IFLA_LINKINFO]);
	hi = (const char *)lo + mnl_attr_get_payload_len(tb[IFLA_LINKINFO]);
	if (xs_nl_parse_nested(tb[IFLA_LINKINFO], info_policy, IFLA_INFO_MAX, li))
		return;
	check_table(li, info_policy, IFLA_INFO_MAX, lo, hi);
	if (!li[IFLA_INFO_DATA])
		return;
	lo = mnl_attr_get_payload(li[IFLA_INFO_DATA]);
	hi = (const char *)lo + mnl_attr_get_payload_len(li[IFLA_INFO_DATA]);
	if (xs_nl_parse_nested(li[IFLA_INFO_DATA], xfrm_policy, IFLA_XFRM_MAX, xd))
		return;
	check_table(xd, xfrm_policy, IFLA_XFRM_MAX, lo, hi);
}

static void parse_as_error(const struct nlmsghdr *nlh)
{
	const struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
	const void *hi = (const char *)nlh + MNL_ALIGN(nlh->nlmsg_len);

	if (xs_nl_parse(nlh, sizeof(struct nlmsgerr), extack_policy, NLMSGERR_ATTR_MAX, tb))
		return;
	check_table(tb, extack_policy, NLMSGERR_ATTR_MAX, nlh, hi);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct nlmsghdr *nlh;
	size_t cap;
	void *buf;
	int len;

	if (size > MAX_INPUT)
		return 0;
	/* Like a receive buffer: aligned, and the input rounded up to the
	 * netlink alignment (libmnl walks to the aligned end of a message);
	 * nothing beyond, so a read past it is caught. */
	cap = MNL_ALIGN(size) ? MNL_ALIGN(size) : NLMSG_ALIGNTO;
	buf = calloc(1, cap);
	FUZZ_CHECK(buf);
	memcpy(buf, data, size);
	len = (int)size;
	/* mnl_nlmsg_ok() compares nlmsg_len as an int: a length of 2^31 or
	 * more passes it, and the walk jumps out of the buffer. The kernel
	 * never sends that, nor can an unprivileged process (no
	 * NL_CFG_F_NONROOT_SEND on rtnetlink or xfrm), so the walk here
	 * stops there rather than fuzz libmnl. */
	for (nlh = buf; mnl_nlmsg_ok(nlh, len) && nlh->nlmsg_len <= (unsigned int)len;
	     nlh = mnl_nlmsg_next(nlh, &len)) {
		parse_as_link(nlh);
		parse_as_error(nlh);
	}
	free(buf);
	return 0;
}

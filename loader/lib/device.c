// SPDX-License-Identifier: GPL-2.0
/* External (collect_md) xfrm interfaces over rtnetlink: made, deleted,
 * looked up and listed (device.h). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <net/if.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/if_link.h>

#include "common.h"
#include "device.h"
#include "netlink.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

_Static_assert(sizeof(((struct xs_link_info *)0)->ifname) == IFNAMSIZ,
	       "xs_link_info.ifname must hold IFNAMSIZ bytes");


static const enum mnl_attr_data_type link_policy[IFLA_MAX + 1] = {
	[IFLA_IFNAME] = MNL_TYPE_NUL_STRING,
	[IFLA_MTU] = MNL_TYPE_U32,
	[IFLA_LINKINFO] = MNL_TYPE_NESTED,
};

static const enum mnl_attr_data_type linkinfo_policy[IFLA_INFO_MAX + 1] = {
	[IFLA_INFO_KIND] = MNL_TYPE_NUL_STRING,
	[IFLA_INFO_DATA] = MNL_TYPE_NESTED,
};

static const enum mnl_attr_data_type xfrm_policy[IFLA_XFRM_MAX + 1] = {
	[IFLA_XFRM_LINK] = MNL_TYPE_U32,
	[IFLA_XFRM_IF_ID] = MNL_TYPE_U32,
	[IFLA_XFRM_COLLECT_METADATA] = MNL_TYPE_FLAG,
};

static int parse_link(const struct nlmsghdr *nlh, struct xs_link_attrs *la)
{
	const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[IFLA_MAX + 1];
	const struct nlattr *li[IFLA_INFO_MAX + 1];
	const struct nlattr *xd[IFLA_XFRM_MAX + 1];

	memset(la, 0, sizeof(*la));
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifm) ||
	    xs_nl_parse(nlh, sizeof(*ifm), link_policy, IFLA_MAX, tb))
		return -EBADMSG;
	la->info.ifindex = ifm->ifi_index;
	la->info.up = ifm->ifi_flags & IFF_UP;
	if (tb[IFLA_IFNAME])
		snprintf(la->info.ifname, sizeof(la->info.ifname), "%s",
			 mnl_attr_get_str(tb[IFLA_IFNAME]));
	if (tb[IFLA_MTU])
		la->mtu = mnl_attr_get_u32(tb[IFLA_MTU]);
	if (!tb[IFLA_LINKINFO])
		return 0;

	if (xs_nl_parse_nested(tb[IFLA_LINKINFO], linkinfo_policy,
			       IFLA_INFO_MAX, li))
		return -EBADMSG;
	if (li[IFLA_INFO_KIND])
		snprintf(la->kind, sizeof(la->kind), "%s",
			 mnl_attr_get_str(li[IFLA_INFO_KIND]));
	la->info.is_xfrm = !strcmp(la->kind, "xfrm");
	if (!la->info.is_xfrm || !li[IFLA_INFO_DATA])
		return 0;

	if (xs_nl_parse_nested(li[IFLA_INFO_DATA], xfrm_policy, IFLA_XFRM_MAX,
			       xd))
		return -EBADMSG;
	/* The kernel sends LINK and IF_ID always (0 for an external one)
	 * and COLLECT_METADATA only when set. */
	la->info.external = xd[IFLA_XFRM_COLLECT_METADATA] != NULL;
	if (xd[IFLA_XFRM_IF_ID])
		la->info.if_id = mnl_attr_get_u32(xd[IFLA_XFRM_IF_ID]);
	if (xd[IFLA_XFRM_LINK])
		la->link = mnl_attr_get_u32(xd[IFLA_XFRM_LINK]);
	return 0;
}

/* The kernel's rules (dev_valid_name()), checked here so that a bad name
 * gets an error naming it rather than the kernel's bare EINVAL. A device
 * we create must also be free of '%': the kernel would take the name as
 * a template ("ipsec%d") and we would lose track of the real one. */
int xs_link_check_name(struct xs_ctx *ctx, const char *name, bool create)
{
	const char *c;

	if (!*name)
		return p_err(ctx, -EINVAL, "interface name is empty");
	if (strlen(name) >= IFNAMSIZ)
		return p_err(ctx, -EINVAL,
			     "interface name \"%s\" is too long (at most %d characters)",
			     name, IFNAMSIZ - 1);
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return p_err(ctx, -EINVAL, "invalid interface name \"%s\"",
			     name);
	for (c = name; *c; c++) {
		if (*c == '/' || *c == ':' || isspace((unsigned char)*c))
			return p_err(ctx, -EINVAL,
				     "invalid interface name \"%s\": no '/', ':' or whitespace allowed",
				     name);
		if (create && *c == '%')
			return p_err(ctx, -EINVAL,
				     "invalid interface name \"%s\": no '%%' allowed",
				     name);
	}
	return 0;
}

static void put_ifinfomsg(struct nlmsghdr *nlh, int ifindex,
			  unsigned int flags, unsigned int change)
{
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));

	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = ifindex;
	ifm->ifi_flags = flags;
	ifm->ifi_change = change;
}

struct get_state {
	struct xs_link_attrs *la;
	bool found;
};

static int get_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct get_state *st = arg;
	int err;

	if (nlh->nlmsg_type != RTM_NEWLINK)
		return MNL_CB_OK;
	err = parse_link(nlh, st->la);
	if (err) {
		errno = -err;
		return MNL_CB_ERROR;
	}
	st->found = true;
	return MNL_CB_STOP;
}

/* Look a device up by name; reports errors, -ENODEV for a missing one. */
static int link_lookup(struct xs_ctx *ctx, struct xs_nl *nl, const char *name,
		       struct xs_link_attrs *la)
{
	char buf[XS_NL_REQ_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct get_state st = { .la = la };
	struct nlmsghdr *nlh;
	char what[64];
	int err;

	memset(la, 0, sizeof(*la));
	err = xs_link_check_name(ctx, name, false);
	if (err)
		return err;
	nlh = xs_nl_msg(buf, RTM_GETLINK, 0);
	put_ifinfomsg(nlh, 0, 0, 0);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	/* Counters are not shown: spare the kernel and the buffer. */
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	err = xs_nl_talk(ctx, nl, nlh, get_cb, &st, NULL);
	if (!err && !st.found)
		err = -ENODEV;
	if (err == -ENODEV)
		return p_err(ctx, err, "device \"%s\" does not exist", name);
	if (err) {
		snprintf(what, sizeof(what), "get link \"%s\"", name);
		return xs_nl_perror(ctx, nl, err, what);
	}
	return 0;
}

int xs_link_query(struct xs_ctx *ctx, const char *name,
		  struct xs_link_info *out)
{
	struct xs_link_attrs la;
	struct xs_nl nl;
	int err;

	err = xs_nl_open(ctx, &nl, NETLINK_ROUTE);
	if (err)
		return err;
	err = link_lookup(ctx, &nl, name, &la);
	xs_nl_close(&nl);
	if (!err)
		*out = la.info;
	return err;
}

static int link_delete(struct xs_ctx *ctx, struct xs_nl *nl, int ifindex,
		       const char *what)
{
	char buf[XS_NL_REQ_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct nlmsghdr *nlh;

	nlh = xs_nl_msg(buf, RTM_DELLINK, 0);
	put_ifinfomsg(nlh, ifindex, 0, 0);
	return xs_nl_talk(ctx, nl, nlh, NULL, NULL, what);
}

struct eexist_scan {
	const char *name; /* the one we tried to create */
	bool name_taken;
	char external[IFNAMSIZ]; /* an external xfrm interface, "" if none */
};

static int eexist_scan_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct eexist_scan *sc = arg;
	struct xs_link_attrs la;

	if (nlh->nlmsg_type != RTM_NEWLINK || parse_link(nlh, &la))
		return MNL_CB_OK;
	if (!strcmp(la.info.ifname, sc->name))
		sc->name_taken = true;
	if (la.info.is_xfrm && la.info.external)
		snprintf(sc->external, sizeof(sc->external), "%s",
			 la.info.ifname);
	return MNL_CB_OK;
}

/* The kernel allows one external xfrm interface per network namespace and
 * says EEXIST without a word when asked for a second one: "File exists"
 * about a name that does not exist puzzles, so name the one that does. */
static int explain_eexist(struct xs_ctx *ctx, struct xs_nl *nl,
			  const char *name)
{
	char buf[XS_NL_REQ_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct eexist_scan sc = { .name = name };
	struct nlmsghdr *nlh;

	nlh = xs_nl_msg(buf, RTM_GETLINK, 0);
	put_ifinfomsg(nlh, 0, 0, 0);
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	if (xs_nl_dump(ctx, nl, nlh, eexist_scan_cb, &sc, NULL) ||
	    sc.name_taken || !sc.external[0])
		return p_err(ctx, -EEXIST, "cannot create link \"%s\": %s",
			     name, strerror(EEXIST));
	return p_err(ctx, -EEXIST,
		     "cannot create link \"%s\": external xfrm interface \"%s\" exists already, and the kernel allows only one per network namespace",
		     name, sc.external);
}

int xs_link_create(struct xs_ctx *ctx, const char *name)
{
	char buf[XS_NL_REQ_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct nlattr *linkinfo, *data;
	char what[64], why[256];
	struct nlmsghdr *nlh;
	struct xs_link_attrs la;
	struct xs_nl nl;
	int err, err2;

	err = xs_link_check_name(ctx, name, true);
	if (err)
		return err;
	err = xs_nl_open(ctx, &nl, NETLINK_ROUTE);
	if (err)
		return err;

	nlh = xs_nl_msg(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	put_ifinfomsg(nlh, 0, 0, 0);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "xfrm");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	/* External mode: no if_id of its own, the BPF programs set it per
	 * packet through the skb's metadata. */
	mnl_attr_put(nlh, IFLA_XFRM_COLLECT_METADATA, 0, NULL);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, linkinfo);
	err = xs_nl_talk(ctx, &nl, nlh, NULL, NULL, NULL);
	if (err == -EEXIST && !nl.errmsg[0]) {
		err = explain_eexist(ctx, &nl, name);
		goto out;
	}
	if (err) {
		snprintf(what, sizeof(what), "create link \"%s\"", name);
		err = xs_nl_perror(ctx, &nl, err, what);
		goto out;
	}

	err = link_lookup(ctx, &nl, name, &la);
	if (err)
		goto out;

	/* A second request rather than IFF_UP in the first, so that a
	 * failure says which step failed; undone below so that no link is
	 * left behind half set up. */
	nlh = xs_nl_msg(buf, RTM_NEWLINK, 0);
	put_ifinfomsg(nlh, la.info.ifindex, IFF_UP, IFF_UP);
	err = xs_nl_talk(ctx, &nl, nlh, NULL, NULL, NULL);
	if (!err)
		goto out;
	snprintf(why, sizeof(why), "%s", xs_nl_strerror(&nl, err));
	err2 = link_delete(ctx, &nl, la.info.ifindex, NULL);
	if (err2)
		err = p_err(ctx, err,
			    "cannot bring link \"%s\" up: %s; deleting it failed too: %s; remove it with \"xfrm-steer link del %s\"",
			    name, why, xs_nl_strerror(&nl, err2), name);
	else
		err = p_err(ctx, err,
			    "cannot bring link \"%s\" up: %s; deleted it again",
			    name, why);
out:
	xs_nl_close(&nl);
	return err;
}

int xs_link_delete(struct xs_ctx *ctx, const char *name)
{
	struct xs_link_attrs la;
	struct xs_nl nl;
	char what[64];
	int err;

	err = xs_nl_open(ctx, &nl, NETLINK_ROUTE);
	if (err)
		return err;
	err = link_lookup(ctx, &nl, name, &la);
	if (err)
		goto out;
	/* This command manages xfrm interfaces only: a typo must not take
	 * down eth0. */
	if (!la.info.is_xfrm) {
		if (la.kind[0])
			err = p_err(ctx, -EINVAL,
				    "device \"%s\" is not an xfrm interface (kind \"%s\"): not deleting it",
				    name, la.kind);
		else
			err = p_err(ctx, -EINVAL,
				    "device \"%s\" is not an xfrm interface: not deleting it",
				    name);
		goto out;
	}
	/* By index: the name could have moved to another device since. */
	snprintf(what, sizeof(what), "delete link \"%s\"", name);
	err = link_delete(ctx, &nl, la.info.ifindex, what);
out:
	xs_nl_close(&nl);
	return err;
}

int xs_link_set_down(struct xs_ctx *ctx, int ifindex, const char *what)
{
	char buf[XS_NL_REQ_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct nlmsghdr *nlh;
	struct xs_nl nl;
	char msg[64];
	int err;

	err = xs_nl_open(ctx, &nl, NETLINK_ROUTE);
	if (err)
		return err;
	nlh = xs_nl_msg(buf, RTM_NEWLINK, 0);
	put_ifinfomsg(nlh, ifindex, 0, IFF_UP);
	snprintf(msg, sizeof(msg), "set link \"%s\" down", what);
	err = xs_nl_talk(ctx, &nl, nlh, NULL, NULL, msg);
	xs_nl_close(&nl);
	return err;
}

struct list_ctx {
	int (*cb)(const struct xs_link_attrs *la, void *arg);
	void *arg;
};

static int list_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct list_ctx *lc = arg;
	struct xs_link_attrs la;
	int err;

	if (nlh->nlmsg_type != RTM_NEWLINK)
		return MNL_CB_OK;
	err = parse_link(nlh, &la);
	if (!err && la.info.is_xfrm)
		err = lc->cb(&la, lc->arg);
	if (err) {
		errno = -err;
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

int xs_link_list(struct xs_ctx *ctx, const char *name,
		 int (*cb)(const struct xs_link_attrs *la, void *arg), void *arg)
{
	char buf[XS_NL_REQ_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct list_ctx lc = { cb, arg };
	struct xs_link_attrs la;
	struct nlmsghdr *nlh;
	struct xs_nl nl;
	int err;

	if (name) {
		err = xs_link_check_name(ctx, name, false);
		if (err)
			return err;
	}
	err = xs_nl_open(ctx, &nl, NETLINK_ROUTE);
	if (err)
		return err;
	if (name) {
		err = link_lookup(ctx, &nl, name, &la);
		if (!err && !la.info.is_xfrm)
			err = p_err(ctx, -EINVAL, "device \"%s\" is not an xfrm interface", name);
		if (!err && cb(&la, arg))
			err = p_err(ctx, -ENOMEM, "out of memory");
	} else {
		nlh = xs_nl_msg(buf, RTM_GETLINK, 0);
		put_ifinfomsg(nlh, 0, 0, 0);
		mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
		err = xs_nl_dump(ctx, &nl, nlh, list_cb, &lc, "list links");
	}
	xs_nl_close(&nl);
	return err;
}

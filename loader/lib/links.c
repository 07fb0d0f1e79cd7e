// SPDX-License-Identifier: GPL-2.0
/*
 * The links of a file: each made and attached as the file says before the
 * devices are read, with the steps taken kept for the undo.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/stat.h>
#include <linux/netlink.h>
#include <linux/udp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "config.h"
#include "keys.h"
#include "netlink.h"
#include "state.h"
#include "tunnel.h"
#include "xfrm.h"
#include "xfrm_steer.skel.h"

#include "device.h"
#include "model.h"
#include "plan.h"


#define plan_line(r, ...) vec_printf(&(r)->plan_lines, &(r)->nplan_lines, &(r)->capplan_lines, __VA_ARGS__)

/* How the link entry l attaches its device, with flags (XS_CFG_*) for the
 * program. What the file does not say keeps what the device has. */
static void link_args(const struct xs_cfg_link *l, uint32_t flags, struct attach_args *a)
{
	memset(a, 0, sizeof(*a));
	a->dev = l->name;
	a->max_routes = XS_DEFAULT_ROUTES;
	a->max_tunnels = XS_DEFAULT_TUNNELS;
	a->flags = flags;
	a->flags_set = XS_CFG_RPF | XS_CFG_MARK_INGRESS;
	if (l->have_tenant_key) {
		a->have_tenant = true;
		a->tenant_mode = l->tenant_mode;
		a->mark_mask = l->mark_mask;
	}
	if (l->have_max_routes) {
		a->have_routes = true;
		a->max_routes = l->max_routes;
	}
	if (l->have_max_tunnels) {
		a->have_tunnels = true;
		a->max_tunnels = l->max_tunnels;
	}
}

static int attach_link(struct run *r, const struct xs_cfg_link *l, uint32_t flags)
{
	struct attach_args a;

	link_args(l, flags, &a);
	return xs_attach(r->ctx, &a);
}

int link_undo(struct run *r)
{
	int err = 0;

	while (r->nlinks_done > 0) {
		struct link_step *s = &r->links[--r->nlinks_done];
		const struct xs_cfg_link *l = &r->cfg->links[s->idx];
		int e;

		switch (s->what) {
		case LS_CREATED:
			e = xs_link_delete(r->ctx, l->name);
			break;
		case LS_ATTACHED:
			e = xs_detach(r->ctx, l->name);
			break;
		default:
			e = attach_link(r, l, s->old_flags);
		}
		if (e)
			err = e;
	}
	return err;
}

/* Make every link of the file exist and be attached as it says. */
int ensure_links(struct run *r)
{
	size_t i;
	int err;

	for (i = 0; i < r->cfg->nlinks; i++) {
		const struct xs_cfg_link *l = &r->cfg->links[i];
		struct xs_link_info li;
		struct meta_value m;
		uint32_t flags;
		bool complete, exists = if_nametoindex(l->name) != 0;
		struct attach_args want, eff;
		char why[256], where[XS_IFNAME_LEN + 300];
		size_t di;
		int e;

		snprintf(where, sizeof(where), "%s%slinks[%zu] (\"%s\"): ", run_src(r) ? run_src(r) : "",
			 run_src(r) ? ": " : "", i, l->name);
		if (r->nlinks_done + 3 > ARRAY_SIZE(r->links))
			return ent_err(r, -E2BIG, ENT_NONE, 0, 0, "too many links in one file");
		find_dev(r, l->name, &di);
		if (!exists) {
			if (r->o->dry_run) {
				plan_line(r, "links[%zu] (\"%s\"): create the interface", i, l->name);
				plan_line(r, "links[%zu] (\"%s\"): attach", i, l->name);
				r->devs[di].fresh = true;
				continue;
			}
			/* One line: the callee's cause, after where it is. */
			r->ctx->err_prefix = where;
			err = xs_link_create(r->ctx, l->name);
			r->ctx->err_prefix = NULL;
			if (err)
				return err;
			r->links[r->nlinks_done++] = (struct link_step){ i, LS_CREATED, 0 };
		} else {
			err = xs_link_query(r->ctx, l->name, &li);
			if (err)
				return err;
			if (!li.is_xfrm || !li.external)
				return p_err(r->ctx, -EINVAL,
					     "%s: links[%zu] (\"%s\"): the device exists and is not an external xfrm interface",
					     run_src(r), i, l->name);
		}

		flags = XS_CFG_RPF;
		err = exists ? read_meta_quiet(r->ctx, l->name, &m, &complete) : -ENOENT;
		if (err && err != -ENOENT)
			return p_err(r->ctx, err, "%s: links[%zu] (\"%s\"): cannot read its pinned state: %s",
				     run_src(r), i, l->name, strerror(-err));
		if (!err)
			flags = m.flags;
		if (l->have_rpf)
			flags = l->rpf ? flags | XS_CFG_RPF : flags & ~XS_CFG_RPF;
		if (l->have_mark_ingress)
			flags = l->mark_ingress ? flags | XS_CFG_MARK_INGRESS :
						  flags & ~XS_CFG_MARK_INGRESS;
		/* The rule of what an attached device may change is attach's
		 * own: the planner's xs_plan_attach(). */
		link_args(l, flags, &want);
		e = xs_plan_attach(&want, err ? NULL : &m, &eff, why, sizeof(why));
		if (e)
			return p_err(r->ctx, e, "%s: links[%zu] (\"%s\"): the device %s", run_src(r),
				     i, l->name, why);
		if (!err && flags == m.flags && complete)
			continue;
		if (r->o->dry_run) {
			plan_line(r, "links[%zu] (\"%s\"): %s", i, l->name,
				  err ? "attach" : complete ? "re-attach with new settings" :
							      "re-attach (upgrade its pinned state)");
			if (err)
				r->devs[di].fresh = true;
			else if (!complete)
				return p_err(r->ctx, -EOPNOTSUPP,
					     "%s: links[%zu] (\"%s\"): attached by an older version: a dry run cannot show the plan before it is attached again (run apply, or \"xfrm-steer attach dev %s\")",
					     run_src(r), i, l->name, l->name);
			continue;
		}
		r->ctx->err_prefix = where;
		e = attach_link(r, l, flags);
		r->ctx->err_prefix = NULL;
		if (e)
			return e;
		r->links[r->nlinks_done++] = (struct link_step){
			i, err ? LS_ATTACHED : LS_REATTACHED, err ? 0 : m.flags
		};
	}
	return 0;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Execute: a plan run against the kernel in its order of phases, netlink
 * requests batched, map updates one by one, and on the first failure the
 * operations done played back in reverse. xs_converge() is the engine's
 * entry point: observe, want, plan, execute.
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
#include "iifbind.h"
#include "keys.h"
#include "netlink.h"
#include "state.h"
#include "tunnel.h"
#include "xfrm.h"
#include "xfrm_steer.skel.h"

#include "model.h"


/* ---- Running the plan ---- */

static bool op_is_nl(const struct op *op)
{
	return op->kind <= OP_POL_DEL;
}

static struct nlmsghdr *enc_sa_del(void *buf, const struct xs_sa *sa)
{
	struct nlmsghdr *nlh = xs_nl_msg_zeroed(buf, XFRM_MSG_DELSA, 0);
	struct xfrm_usersa_id *id = mnl_nlmsg_put_extra_header(nlh, sizeof(*id));
	xfrm_address_t src;

	memcpy(&id->daddr, sa->dst.addr, sizeof(id->daddr));
	id->spi = htonl(sa->spi);
	id->family = (uint16_t)sa->dst.family;
	id->proto = IPPROTO_ESP;
	memset(&src, 0, sizeof(src));
	memcpy(&src, sa->src.addr, sizeof(src));
	mnl_attr_put(nlh, XFRMA_SRCADDR, sizeof(src), &src);
	return nlh;
}

static struct nlmsghdr *enc_pol_del(void *buf, const struct xs_policy *p)
{
	struct nlmsghdr *nlh = xs_nl_msg_zeroed(buf, XFRM_MSG_DELPOLICY, 0);
	struct xfrm_userpolicy_id *id = mnl_nlmsg_put_extra_header(nlh, sizeof(*id));

	id->sel.family = (uint16_t)p->sel_src.family;
	memcpy(&id->sel.saddr, p->sel_src.addr, sizeof(id->sel.saddr));
	memcpy(&id->sel.daddr, p->sel_dst.addr, sizeof(id->sel.daddr));
	id->sel.prefixlen_s = p->sel_src.plen;
	id->sel.prefixlen_d = p->sel_dst.plen;
	id->dir = p->dir;
	if (p->if_id)
		mnl_attr_put_u32(nlh, XFRMA_IF_ID, p->if_id);
	return nlh;
}

static struct nlmsghdr *op_encode(const struct op *op, void *buf)
{
	struct nlmsghdr *nlh;

	switch (op->kind) {
	case OP_SA_ADD:
		return xs_sa_encode(buf, op->u.sa);
	case OP_SA_DEL:
		return enc_sa_del(buf, op->u.sa);
	case OP_POL_ADD:
	case OP_POL_UPD:
		nlh = xs_policy_encode(buf, op->u.pol.pol);
		/* UPDPOLICY replaces the policy with the same key in one
		 * step; NEWPOLICY refuses to (EEXIST), which is what an add
		 * must do. */
		if (nlh && op->kind == OP_POL_UPD)
			nlh->nlmsg_type = XFRM_MSG_UPDPOLICY;
		return nlh;
	case OP_POL_DEL:
		return enc_pol_del(buf, op->u.pol.pol);
	}
	return NULL;
}

static void route_map_key(const struct dev_run *d, const struct apply_route_key *k, int *fd,
			  union {
				  struct route_key_v4 v4;
				  struct route_key_v6 v6;
			  } *mk)
{
	memset(mk, 0, sizeof(*mk));
	if (k->family == AF_INET) {
		mk->v4.prefixlen = 32 + k->plen;
		mk->v4.tenant = k->tenant;
		memcpy(&mk->v4.addr, k->addr, 4);
		*fd = bpf_map__fd(d->st.skel->maps.routes_v4);
	} else {
		mk->v6.prefixlen = 32 + k->plen;
		mk->v6.tenant = k->tenant;
		memcpy(mk->v6.addr, k->addr, 16);
		*fd = bpf_map__fd(d->st.skel->maps.routes_v6);
	}
}

/* Route groups (model.h): a new index written in full before the route
 * moves to it in one update, so a packet sees the old group or the new. */
static int op_group(struct run *r, struct op *op)
{
	struct dev_run *d = &r->devs[op->dev];
	union {
		struct route_key_v4 v4;
		struct route_key_v6 v6;
	} mk;
	struct route_value val = { 0 };
	struct route_group g;
	struct tunnel_value tv;
	uint32_t m, gid;
	int fd, err;

	route_map_key(d, &op->u.group.key, &fd, (void *)&mk);
	switch (op->kind) {
	case OP_GROUP_SET:
		g = *op->u.group.g;
		/* The members' slots were made in an earlier phase. */
		for (m = 0; m < g.n && m < XS_GROUP_MAX; m++) {
			if (bpf_map_lookup_elem(bpf_map__fd(d->st.skel->maps.tunnel_by_ifid),
						&g.nh[m].if_id, &tv))
				return -ENOENT;
			g.nh[m].tunnel_idx = tv.tunnel_idx;
		}
		err = xs_group_create(&d->st, &g, &gid);
		if (err)
			return err == -ENOSPC ? -ENOBUFS : err; /* the trie's is ENOSPC */
		val.if_id = gid;
		if (bpf_map_update_elem(fd, &mk, &val, BPF_ANY)) {
			err = -errno;
			xs_group_free(&d->st, gid);
			return err;
		}
		op->u.group.gid = gid;
		break;
	case OP_GROUP_UNSET:
		if (op->u.group.had_old)
			err = bpf_map_update_elem(fd, &mk, &op->u.group.old, BPF_ANY) ? -errno : 0;
		else
			err = bpf_map_delete_elem(fd, &mk) && errno != ENOENT ? -errno : 0;
		if (err)
			return err;
		xs_group_free(&d->st, op->u.group.gid);
		break;
	case OP_GROUP_FREE:
		xs_group_free(&d->st, op->u.group.gid);
		return 0;
	case OP_GROUP_PUT:
		return xs_group_put(&d->st, op->u.group.gid, op->u.group.g);
	}
	xs_route_changed(&d->st, (int)op->u.group.key.family, op->u.group.key.tenant,
			 op->u.group.key.addr, op->u.group.key.plen);
	return 0;
}

/* A map operation; 0, 1 for "nothing was there to do", or -errno. */
static int op_map(struct run *r, struct op *op)
{
	struct dev_run *d = &r->devs[op->dev];
	union {
		struct route_key_v4 v4;
		struct route_key_v6 v6;
	} mk;
	struct route_value val;
	struct tunnel_value tv;
	int fd, err;

	switch (op->kind) {
	case OP_ROUTE_SET:
		route_map_key(d, &op->u.route.key, &fd, (void *)&mk);
		val.if_id = op->u.route.if_id;
		if (op->u.route.exact) {
			val = op->u.route.old;
		} else {
			/* Its slot was made in an earlier phase. */
			if (bpf_map_lookup_elem(bpf_map__fd(d->st.skel->maps.tunnel_by_ifid), &val.if_id,
						&tv))
				return -ENOENT;
			val.tunnel_idx = tv.tunnel_idx;
		}
		/* One update replaces the route in place. */
		if (bpf_map_update_elem(fd, &mk, &val, BPF_ANY))
			return -errno;
		/* Only the decisions this route can change go stale. */
		xs_route_changed(&d->st, (int)op->u.route.key.family, op->u.route.key.tenant,
				 op->u.route.key.addr, op->u.route.key.plen);
		return 0;
	case OP_ROUTE_DEL:
		route_map_key(d, &op->u.route.key, &fd, (void *)&mk);
		err = bpf_map_delete_elem(fd, &mk) ? -errno : 0;
		if (!err)
			xs_route_changed(&d->st, (int)op->u.route.key.family,
					 op->u.route.key.tenant, op->u.route.key.addr,
					 op->u.route.key.plen);
		return err == -ENOENT ? 1 : err;
	case OP_SLOT_ENSURE: {
		uint32_t idx;

		if (op->u.slot.restore) {
			tv = xs_tunnel_value(op->u.slot.if_id, op->u.slot.idx,
					     op->u.slot.tenant);
			if (bpf_map_update_elem(bpf_map__fd(d->st.skel->maps.tunnel_by_ifid),
						&op->u.slot.if_id, &tv, BPF_NOEXIST))
				return -errno;
			return 0;
		}
		err = xs_tunnel_ensure(r->ctx, &d->st, op->u.slot.if_id, op->u.slot.tenant, &idx,
				       &op->u.slot.created);
		/* Reported already; the caller names the entry too. */
		return err ? -EALREADY : op->u.slot.created ? 0 : 1;
	}
	case OP_SLOT_REMOVE:
		err = xs_tunnel_remove(&d->st, op->u.slot.if_id);
		return err == -ENOENT ? 1 : err;
	case OP_REC_PUT:
		if (bpf_map_update_elem(bpf_map__fd(d->st.skel->maps.tunnel_names), &op->u.rec.key,
					op->u.rec.rec, BPF_ANY))
			return -errno;
		return 0;
	case OP_REC_DEL:
		if (bpf_map_delete_elem(bpf_map__fd(d->st.skel->maps.tunnel_names),
					&op->u.rec.key))
			return errno == ENOENT ? 1 : -errno;
		return 0;
	case OP_OWN_PUT:
		if (bpf_map_update_elem(bpf_map__fd(d->st.skel->maps.apply_routes), &op->u.own.key,
					&op->u.own.val, BPF_ANY))
			return -errno;
		return 0;
	case OP_OWN_DEL:
		if (bpf_map_delete_elem(bpf_map__fd(d->st.skel->maps.apply_routes),
					&op->u.own.key))
			return errno == ENOENT ? 1 : -errno;
		return 0;
	case OP_GROUP_SET:
	case OP_GROUP_UNSET:
	case OP_GROUP_FREE:
	case OP_GROUP_PUT:
		return op_group(r, op);
	}
	return -EINVAL;
}

static int op_fail(struct run *r, struct op *op, int err, const char *kmsg)
{
	char what[512];

	op->status = OS_FAILED;
	op->err = err;
	if (err == -EALREADY) /* xs_tunnel_ensure() said why; say for whom */
		return ent_err(r, err, op->ent_kind, op->dev, op->ent, "cannot %s",
			       op_text(r, op, what, sizeof(what)));
	op_text(r, op, what, sizeof(what));
	/* A full map says ENOSPC (tries) or E2BIG (hashes): name the table,
	 * its size and the option that sets it, never "Argument list too
	 * long". */
	if ((op->kind == OP_ROUTE_SET || op->kind == OP_OWN_PUT) && (err == -ENOSPC || err == -E2BIG))
		return ent_err(r, err, op->ent_kind, op->dev, op->ent,
			       "cannot %s: the route table of \"%s\" is full (%u routes per family); detach and attach again with \"routes N\" to raise it",
			       what, r->devs[op->dev].name, r->devs[op->dev].st.meta->max_routes);
	if (op->kind == OP_GROUP_SET && err == -ENOBUFS)
		return ent_err(r, err, op->ent_kind, op->dev, op->ent,
			       "cannot %s: the group table of \"%s\" is full (%u groups); detach and attach again with a larger \"tunnels N\"",
			       what, r->devs[op->dev].name,
			       bpf_map__max_entries(
				       r->devs[op->dev].st.skel->maps.route_groups) - 1);
	if (op->kind == OP_GROUP_SET && (err == -ENOSPC || err == -E2BIG))
		return ent_err(r, err, op->ent_kind, op->dev, op->ent,
			       "cannot %s: the route table of \"%s\" is full (%u routes per family); detach and attach again with \"routes N\" to raise it",
			       what, r->devs[op->dev].name, r->devs[op->dev].st.meta->max_routes);
	if (op->kind == OP_REC_PUT && (err == -ENOSPC || err == -E2BIG))
		return ent_err(r, err, op->ent_kind, op->dev, op->ent,
			       "cannot %s: the tunnel table of \"%s\" is full (%u tunnels); detach and attach again with \"tunnels N\" to raise it",
			       what, r->devs[op->dev].name, r->devs[op->dev].st.meta->max_tunnels);
	if (err == -EEXIST && op->kind == OP_SA_ADD)
		return ent_err(r, err, op->ent_kind, op->dev, op->ent,
			       "cannot %s: an SA with this dst and spi exists already", what);
	return ent_err(r, err, op->ent_kind, op->dev, op->ent, "cannot %s: %s", what,
		       kmsg && *kmsg ? kmsg : strerror(-err));
}

/* Note a failed operation: the first failure of a run is reported (and
 * stops it); in a rollback (best effort) failures are only kept, for the
 * caller to word. */
static void note_fail(struct run *r, struct op *op, int err, const char *kmsg, bool best_effort,
		      int *first)
{
	if (!best_effort && !*first) {
		*first = op_fail(r, op, err, kmsg);
		return;
	}
	op->status = OS_FAILED;
	op->err = err;
	if (!*first)
		*first = err;
}

/* The test hooks count every operation that took effect. */
static void count_done(struct run *r, unsigned long n)
{
	r->count += n;
	if (r->crash_after >= 0 && r->count >= (unsigned long)r->crash_after) {
		/* No cleanup of any kind: as if the power went. */
		kill(getpid(), SIGKILL);
		pause();
	}
}

/* -v: each change as it is made, on the diagnostic channel. */
static void trace_op(struct run *r, const struct op *op)
{
	char label[256], what[512];

	if (!op->visible || !r->ctx->verbose)
		return;
	ent_label(r, op->ent_kind, op->dev, op->ent, label, sizeof(label));
	p_info(r->ctx, "  %s: %s", label, op_text(r, op, what, sizeof(what)));
}

/* Run ops[0..n) in order, netlink requests batched. best_effort: go on
 * after a failure (rollback); else stop at the first. Returns the first
 * error. */
static int exec_ops(struct run *r, struct op *ops, size_t n, bool best_effort)
{
	char buf[XS_NL_REQ_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct xs_nl_batch b;
	size_t i = 0, start, k;
	int *errs = NULL, first = 0;
	char(*msgs)[128] = NULL;

	/* The encoders want it all zero: kept so, request after request. */
	memset(buf, 0, sizeof(buf));
	xs_nl_batch_init(&b);
	errs = calloc(XS_NL_BATCH_MSGS * 4, sizeof(*errs));
	msgs = calloc(XS_NL_BATCH_MSGS * 4, sizeof(*msgs));
	if (!errs || !msgs) {
		free(errs);
		free(msgs);
		return p_err(r->ctx, -ENOMEM, "out of memory");
	}
	if (!best_effort)
		count_done(r, 0); /* XS_APPLY_CRASH_AFTER=0: before anything */
	while (i < n && (!first || best_effort)) {
		struct op *op = &ops[i];
		int err;

		if (!best_effort && r->fail_after >= 0 && r->count == (unsigned long)r->fail_after) {
			first = op_fail(r, op, -EIO, "failure injected by XS_APPLY_FAIL_AFTER");
			break;
		}
		if (!op_is_nl(op)) {
			err = op_map(r, op);
			if (err < 0) {
				note_fail(r, op, err, NULL, best_effort, &first);
			} else {
				op->status = err ? OS_NOOP : OS_DONE;
				if (!best_effort)
					trace_op(r, op);
				if (!best_effort)
					count_done(r, 1);
			}
			i++;
			continue;
		}
		/* A run of netlink requests: as many as one batch takes,
		 * cut where a test hook wants to stop. */
		start = i;
		xs_nl_batch_reset(&b);
		while (i < n && op_is_nl(&ops[i]) && i - start < XS_NL_BATCH_MSGS * 4) {
			struct nlmsghdr *nlh;

			if (!best_effort && i > start &&
			    (r->count + (i - start) == (unsigned long)r->crash_after ||
			     r->count + (i - start) == (unsigned long)r->fail_after))
				break;
			nlh = op_encode(&ops[i], buf);
			if (!nlh || xs_nl_batch_add(&b, nlh)) {
				explicit_bzero(buf, sizeof(buf));
				note_fail(r, &ops[i], -ENOMEM, NULL, best_effort, &first);
				break;
			}
			/* Keys: wipe what the request used; the buffer is
			 * then all zero again for the next encoder. */
			explicit_bzero(buf, nlh->nlmsg_len);
			i++;
		}
		if (i == start) {
			if (!best_effort)
				break;
			i++; /* the one that could not be encoded */
			continue;
		}
		err = xs_nl_batch_run(&r->nl, &b, errs, msgs);
		for (k = 0; k < i - start; k++) {
			struct op *o = &ops[start + k];
			int e = err && errs[k] == -EIO ? err : errs[k];

			/* Gone already is what a removal wants. */
			if ((o->kind == OP_SA_DEL && e == -ESRCH) ||
			    (o->kind == OP_POL_DEL && e == -ENOENT)) {
				o->status = OS_NOOP;
			} else if (e) {
				note_fail(r, o, e, msgs[k], best_effort, &first);
			} else {
				o->status = OS_DONE;
				if (!best_effort)
					trace_op(r, o);
			}
		}
		if (!best_effort && !first)
			count_done(r, i - start);
	}
	xs_nl_batch_free(&b);
	free(errs);
	free(msgs);
	return first;
}

/* The inverse of a done operation. */
bool op_inverse(const struct op *op, struct op *inv)
{
	*inv = *op;
	inv->status = OS_PLANNED;
	switch (op->kind) {
	case OP_SA_ADD:
		inv->kind = OP_SA_DEL;
		break;
	case OP_SA_DEL:
		inv->kind = OP_SA_ADD;
		break;
	case OP_POL_ADD:
		inv->kind = OP_POL_DEL;
		break;
	case OP_POL_UPD:
		inv->u.pol.pol = op->u.pol.old;
		inv->u.pol.old = op->u.pol.pol;
		break;
	case OP_POL_DEL:
		inv->kind = OP_POL_ADD;
		break;
	case OP_ROUTE_SET:
		if (op->u.route.had_old) {
			inv->u.route.if_id = op->u.route.old.if_id;
			inv->u.route.exact = true;
		} else {
			inv->kind = OP_ROUTE_DEL;
		}
		break;
	case OP_ROUTE_DEL:
		inv->kind = OP_ROUTE_SET;
		inv->u.route.if_id = op->u.route.old.if_id;
		inv->u.route.had_old = false;
		inv->u.route.exact = true;
		break;
	case OP_SLOT_ENSURE:
		if (!op->u.slot.created)
			return false;
		inv->kind = OP_SLOT_REMOVE;
		break;
	case OP_SLOT_REMOVE:
		inv->kind = OP_SLOT_ENSURE;
		inv->u.slot.restore = true;
		break;
	case OP_REC_PUT:
		if (op->u.rec.had_old) {
			inv->u.rec.rec = op->u.rec.old;
		} else {
			inv->kind = OP_REC_DEL;
		}
		break;
	case OP_REC_DEL:
		inv->kind = OP_REC_PUT;
		inv->u.rec.rec = op->u.rec.old;
		break;
	case OP_OWN_PUT:
		if (op->u.own.had_old)
			inv->u.own.val = op->u.own.old;
		else
			inv->kind = OP_OWN_DEL;
		break;
	case OP_OWN_DEL:
		inv->kind = OP_OWN_PUT;
		break;
	case OP_GROUP_SET:
		inv->kind = OP_GROUP_UNSET;
		break;
	case OP_GROUP_FREE:
		inv->kind = OP_GROUP_PUT;
		break;
	default:
		return false;
	}
	return true;
}

static int rollback(struct run *r)
{
	struct op *inv;
	size_t i, n = 0;
	int err;

	inv = calloc(r->nops + 1, sizeof(*inv));
	if (!inv)
		return p_err(r->ctx, -ENOMEM, "out of memory: nothing rolled back");
	for (i = r->nops; i-- > 0;)
		if (r->ops[i].status == OS_DONE && op_inverse(&r->ops[i], &inv[n]))
			n++;
	err = exec_ops(r, inv, n, true);
	for (i = 0; i < n; i++) {
		if (inv[i].status == OS_FAILED) {
			char what[512];

			p_err(r->ctx, inv[i].err,
			      "rollback: cannot %s: %s; fix it by hand, or apply again",
			      op_text(r, &inv[i], what, sizeof(what)), strerror(-inv[i].err));
		}
	}
	explicit_bzero(inv, (r->nops + 1) * sizeof(*inv));
	free(inv);
	return err;
}

/* The test hooks of xs_converge(): only in a test build (make test builds
 * $(OUT)/test-hooks/xfrm-steer with -DXS_TEST_HOOKS); the shipped binary
 * has none, whatever its environment says. */
#ifdef XS_TEST_HOOKS
static long env_count(const char *name)
{
	const char *v = getenv(name);
	uint64_t n;

	if (!v || parse_u64(v, &n) || n > LONG_MAX)
		return -1;
	return (long)n;
}
#else
static long env_count(const char *name)
{
	(void)name;
	return -1;
}
#endif

void run_free(struct run *r)
{
	size_t i;

	for (i = 0; i < r->ndevs; i++) {
		struct dev_run *d = &r->devs[i];

		if (d->open)
			xs_state_close(&d->st);
		free(d->recs);
		free(d->rec_scope);
		free(d->rec_want);
		free(d->tids);
		free(d->routes);
		free(d->route_leaves);
		free(d->owned);
		free(d->ike_owned);
		free(d->slots);
		free(d->groups);
		free(d->group_leaves);
		free(d->orphans);
	}
	free(r->devs);
	free(r->elsewhere);
	/* The keys are in the wanted SAs alone; the records and policies
	 * (two thirds of a want) hold none. */
	for (i = 0; r->wants && i <= r->cfg->ntunnels; i++)
		explicit_bzero(r->wants[i].sa, sizeof(r->wants[i].sa));
	free(r->wants);
	free(r->wroutes);
	free(r->others);
	free(r->scoped);
	xs_sas_free(r->ksa, r->nksa);
	free(r->ksa_want);
	free(r->ksa_own);
	free(r->ksa_other);
	free(r->kpol);
	free(r->kpol_want);
	free(r->kpol_own);
	free(r->kpol_other);
	if (r->ops && r->nops)
		explicit_bzero(r->ops, r->nops * sizeof(*r->ops));
	free(r->ops);
	op_store_free(r);
	for (i = 0; i < r->nplan_lines; i++)
		free(r->plan_lines[i]);
	free(r->plan_lines);
	for (i = 0; i < r->nkept; i++)
		free(r->kept[i]);
	free(r->kept);
	for (i = 0; i < r->nnotices; i++)
		free(r->notices[i]);
	free(r->notices);
	if (r->nl_open)
		xs_nl_close(&r->nl);
}

/* Which devices the run manages, and for tunnel del which has the name. */
int collect_devs(struct run *r)
{
	size_t i;
	int err = 0;

	switch (r->o->scope) {
	case XS_SCOPE_FILE:
		for (i = 0; !err && i < r->cfg->nlinks; i++)
			err = add_dev(r, r->cfg->links[i].name);
		for (i = 0; !err && i < r->cfg->ntunnels; i++)
			err = add_dev(r, r->cfg->tunnels[i].dev);
		for (i = 0; !err && i < r->cfg->nroutes; i++)
			err = add_dev(r, r->cfg->routes[i].dev);
		break;
	case XS_SCOPE_ADD:
		for (i = 0; !err && i < r->cfg->ntunnels; i++)
			err = add_dev(r, r->cfg->tunnels[i].dev);
		break;
	case XS_SCOPE_DEL:
		err = add_dev(r, r->o->dev);
		break;
	}
	return err ? p_err(r->ctx, err, "out of memory") : 0;
}

/* The changes of the run for the verb to show: the link steps, then each
 * visible operation (planned, in a dry run; else those made). */
static int report(struct run *r, struct xs_run_result *res)
{
	char label[256], text[512];
	size_t i;

	res->lines = calloc(r->nplan_lines + r->nops + 1, sizeof(*res->lines));
	if (!res->lines)
		return -ENOMEM;
	for (i = 0; i < r->nplan_lines; i++) {
		res->lines[res->nlines++] = r->plan_lines[i];
		r->plan_lines[i] = NULL;
	}
	/* The verb shows the operations only in a dry run and as JSON: not
	 * worded otherwise (100,000 lines for 10,000 tunnels). */
	for (i = 0; (r->o->dry_run || r->ctx->json) && i < r->nops; i++) {
		const struct op *op = &r->ops[i];

		if (!op->visible || (!r->o->dry_run && op->status != OS_DONE))
			continue;
		ent_label(r, op->ent_kind, op->dev, op->ent, label, sizeof(label));
		if (asprintf(&res->lines[res->nlines], "%s: %s", label,
			     op_text(r, op, text, sizeof(text))) < 0)
			return -ENOMEM;
		res->nlines++;
	}
	res->kept = r->kept;
	res->nkept = r->nkept;
	res->kept_tunnels = r->kept_tunnels;
	res->kept_routes = r->kept_routes;
	r->kept = NULL;
	r->nkept = 0;
	return 0;
}

void xs_run_result_free(struct xs_run_result *res)
{
	size_t i;

	for (i = 0; i < res->nlines; i++)
		free(res->lines[i]);
	free(res->lines);
	for (i = 0; i < res->nkept; i++)
		free(res->kept[i]);
	free(res->kept);
	for (i = 0; i < res->nnotices; i++)
		free(res->notices[i]);
	free(res->notices);
	memset(res, 0, sizeof(*res));
}

/* tenant-key iif: a tenant the file names whose interface was made again
 * moves to it before the state is read (iifbind.h). */
static int follow_iif(struct run *r)
{
	const struct xs_config_file *c = r->cfg;
	size_t i, di;
	int err = 0;

	for (i = 0; err >= 0 && i < c->ntunnels + c->nroutes; i++) {
		bool tun = i < c->ntunnels;
		const char *dev = tun ? c->tunnels[i].dev : c->routes[i - c->ntunnels].dev;
		const struct xs_cfg_tenant *t = tun ? &c->tunnels[i].tenant :
						      &c->routes[i - c->ntunnels].tenant;

		if (t->is_name && !find_dev(r, dev, &di) && r->devs[di].open)
			err = xs_iif_follow(r->ctx, &r->devs[di].st, t->name);
		r->nfollowed += err > 0;
	}
	return err < 0 ? err : 0;
}

int xs_converge(struct xs_ctx *ctx, struct xs_config_file *want, const struct xs_run_opts *o,
		struct xs_run_result *res)
{
	struct run r = { .ctx = ctx, .o = o, .cfg = want };
	struct timespec ts;
	size_t i, changes = 0;
	int err;

	memset(res, 0, sizeof(*res));
	clock_gettime(CLOCK_REALTIME, &ts);
	r.gen = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	r.crash_after = env_count("XS_APPLY_CRASH_AFTER");
	r.fail_after = env_count("XS_APPLY_FAIL_AFTER");

	err = collect_devs(&r);
	if (!err)
		err = build_all(&r);
	if (!err && o->scope == XS_SCOPE_FILE)
		err = ensure_links(&r);
	/* Before this run's own locks: a shared lock of another device taken
	 * while holding ours could wait on a run that waits on us. */
	if (!err && o->scope != XS_SCOPE_DEL)
		err = read_elsewhere(&r);
	if (!err)
		err = open_devs(&r);
	if (!err && !o->dry_run)
		err = follow_iif(&r);
	for (i = 0; !err && i < r.ndevs; i++)
		err = read_dev(&r, &r.devs[i]);
	if (!err) {
		err = xs_nl_open(ctx, &r.nl, NETLINK_XFRM);
		r.nl_open = !err;
	}
	if (!err)
		err = xs_sas_read(ctx, &r.nl, &r.ksa, &r.nksa);
	if (!err)
		err = xs_pols_read(ctx, &r.nl, &r.kpol, &r.nkpol);
	if (!err)
		err = xs_plan_model(&r);
	if (err)
		goto fail;

	memset(res, 0, sizeof(*res));
	res->dry_run = o->dry_run;
	if (!o->dry_run) {
		err = exec_ops(&r, r.ops, r.nops, false);
		if (err)
			goto fail;
	}
	changes = o->dry_run ? r.nplan_lines : r.nlinks_done + r.nfollowed;
	for (i = 0; i < r.nops; i++)
		changes += r.ops[i].visible && (o->dry_run || r.ops[i].status == OS_DONE);
	res->changes = changes;
	err = report(&r, res);
	if (err)
		p_err(ctx, err, "out of memory");
	goto out;

fail:
	if (r.nops || r.nlinks_done) {
		size_t done = 0;

		for (i = 0; i < r.nops; i++)
			done += r.ops[i].status == OS_DONE;
		if (rollback(&r) == 0)
			res->undone = done + r.nlinks_done;
	}
	/* The devices' locks go before a detach may take them. */
	for (i = 0; i < r.ndevs; i++) {
		if (r.devs[i].open)
			xs_state_close(&r.devs[i].st);
		r.devs[i].open = false;
	}
	link_undo(&r);
out:
	res->notices = r.notices;
	res->nnotices = r.nnotices;
	r.notices = NULL;
	r.nnotices = 0;
	run_free(&r);
	return err;
}

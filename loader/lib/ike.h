/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Routes of IKE-managed tunnels as a function of the kernel's state
 * (`xfrm-steer daemon ... ike if_ids LO-HI`): an IKE daemon (charon, pluto)
 * installs an outbound policy and SAs with an if_id for each CHILD_SA; the
 * route (tenant, the policy's destination selector) -> if_id exists exactly
 * while there is an outbound policy with that if_id and selector and a
 * usable outbound SA with that if_id. While two CHILD_SAs of one peer and
 * selector overlap (a make-before-break reauthentication: a new %unique
 * if_id beside the old one), the route is a group: the older if_id(s)
 * primary, the newest a backup, so that ingress accepts both and egress
 * stays on the SA the peer surely has; once the old one is gone the route
 * is a plain one to the new if_id again. xs_ike_plan() is the pure part
 * (what there is -> route operations and problems, unit-tested);
 * xs_ike_reconcile() observes one device, plans and writes.
 */
#ifndef XS_IKE_H
#define XS_IKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "groups.h"
#include "netlink.h"
#include "state.h"
#include "tunnel.h"
#include "xfrm.h"

#define XS_IKE_ALLOW_MAX 8
/* A reauthentication's overlap lasts one IKE exchange and its
 * retransmissions. Beyond this, the old CHILD_SA is taken to be one the
 * peer no longer has (a charon killed and restarted leaves its SAs in the
 * kernel until they expire): the new one carries, the old stays accepted. */
#define XS_IKE_OVERLAP_MAX_S 10

/* One `ike` clause of the daemon. */
struct xs_ike_range {
	uint32_t lo, hi; /* if_ids, inclusive */
	uint32_t tenant;
	unsigned int nallow; /* 0: any prefix */
	struct xs_prefix allow[XS_IKE_ALLOW_MAX];
};

/* The daemon's record of a route: a plain one to if_id, or (if_id 0) a
 * group whose xs_group_digest() is digest (kept in the record's pad, as
 * apply records its groups). */
struct xs_ike_route {
	struct apply_route_key key;
	uint32_t if_id;
	uint32_t digest;
};

struct xs_ike_named {
	uint32_t if_id;
	const char *name;
};

/* What there is: all sorted as noted, none owned by the plan. */
struct xs_ike_have {
	const struct xs_ike_range *ranges;
	size_t nranges;
	const struct xs_policy *pols; /* every main policy of the namespace */
	size_t npols;
	const uint32_t *sa_ifids; /* if_ids with a usable outbound SA, sorted */
	size_t nsa;
	const struct xs_ike_named *named; /* named tunnels by if_id, sorted */
	size_t nnamed;
	const struct xs_route_ent *routes; /* plain routes of the device */
	size_t nroutes;
	const struct xs_group_ent *groups; /* routes to a group, sorted by key */
	size_t ngroups;
	const struct xs_ike_route *recs; /* ike_routes */
	size_t nrecs;
	uint64_t now; /* CLOCK_REALTIME seconds, as the policies' add_time */
};

enum xs_ike_op_kind {
	XS_IKE_SET, /* route key -> if_id, and record it */
	XS_IKE_DEL, /* remove the daemon's route and its record */
	XS_IKE_FORGET, /* a record whose route is gone or re-pointed */
	XS_IKE_GROUP, /* route key -> group g (an overlap), and record it */
};

struct xs_ike_op {
	uint8_t kind;
	struct apply_route_key key;
	uint32_t if_id; /* SET: the if_id; DEL, FORGET: the record's */
	struct route_group g; /* GROUP: members (if_id, weight, flags) */
};

struct xs_ike_plan {
	struct xs_ike_op *ops;
	size_t nops, capops;
	char **problems; /* one line each, sorted: what is refused and why */
	size_t nproblems, capproblems;
	uint32_t range_routes[XS_IKE_RANGES_MAX]; /* routes each range holds after */
	uint32_t range_problems[XS_IKE_RANGES_MAX];
};

/* The range (index) an if_id falls in, or -1. */
int xs_ike_range_of(const struct xs_ike_range *r, size_t n, uint32_t if_id);
/* Pure: 0 or -ENOMEM. Free p with xs_ike_plan_free(). */
int xs_ike_plan(const struct xs_ike_have *h, struct xs_ike_plan *p);
void xs_ike_plan_free(struct xs_ike_plan *p);

/* The daemon's start: check the ranges against each other and against the
 * named tunnels of dev, then write them to its ike_ranges (replacing what
 * an earlier start wrote). Reports errors. */
int xs_ike_ranges_install(struct xs_ctx *ctx, const char *dev, const struct xs_ike_range *r,
			  size_t n);
/* The ranges in force (used == 0: a free entry), with the routes and
 * problems of the last reconcile. */
void xs_ike_ranges_get(struct xs_state *st, struct ike_range_value v[XS_IKE_RANGES_MAX]);
/* Observe dev (sa_ifids: the usable outbound SAs' if_ids, sorted; pols:
 * the namespace's policies), plan and write. *plan gets the plan (problems
 * included) for the caller to report; free it. Reports errors. */
int xs_ike_reconcile(struct xs_ctx *ctx, const char *dev, const struct xs_ike_range *r,
		     size_t n, const struct xs_policy *pols, size_t npols, const uint32_t *sa_ifids,
		     size_t nsa, struct xs_ike_plan *plan);

/* An IKE daemon's own per-tunnel device: pluto (libreswan) insists on an
 * xfrm device ipsecN with if_id N for ipsec-interface=N and brings it up
 * before each CHILD_SA and when it answers a rekey. While it is up, the
 * kernel hands the decrypted packets of if_id N to it instead of the
 * external device: they bypass xfrm-steer (tenant check, counters). The
 * rule: an up xfrm device that is not external, with a non-zero if_id in
 * one of the ranges, is to be set down. Never the external one, never an
 * if_id outside the ranges (a classic tunnel device the user runs). */
bool xs_ike_dev_to_down(const struct xs_ike_range *r, size_t n, const struct xs_link_info *li);
/* Set every such device of the namespace down; told() hears of each (err
 * 0: done, else the failure, also reported). Reports errors. */
int xs_ike_devs_down(struct xs_ctx *ctx, const struct xs_ike_range *r, size_t n,
		     void (*told)(const struct xs_link_info *li, int err, void *arg), void *arg);

/*
 * What a burst of xfrm netlink messages (the daemon's event socket) changes
 * in the reconcile's view between full passes, for a quick pass that runs
 * the planner without dumping. Zero-initialise; the arrays grow as needed
 * and are kept across xs_ike_burst_reset(); xs_ike_burst_free() frees them.
 */
struct xs_ike_burst {
	struct xs_policy *pols; /* new/updated outbound policies, if_id in a range */
	size_t npols, cap, done; /* done: policies a view has taken */
	uint32_t *ids; /* if_ids of new usable outbound SAs (local source, keys) */
	size_t nids, capids;
	uint32_t *gone; /* indexes of outbound policies removed */
	size_t ngone, capgone, gone_done;
	bool other; /* a message only a full pass follows (a flush, loss, no memory) */
};

struct ifaddrs;
/* Whether a is one of the addresses in local (getifaddrs()). */
bool xs_ike_addr_local(const struct ifaddrs *local, const struct xs_prefix *a);
/* Decode the messages in buf (one recv's worth) into b: NEWPOLICY and
 * UPDPOLICY of outbound policies with an if_id in r[0..n) are taken, others
 * ignored; NEWSA and UPDSA of SAs with an if_id, keys and a source in local
 * add the if_id; an outbound DELPOLICY records the policy's index (from the
 * id, else from XFRMA_POLICY; neither, or a short message, sets other);
 * DELSA, EXPIRE and ACQUIRE are left to the full pass; any other type sets
 * other. Out of memory sets other. */
void xs_ike_burst_note(struct xs_ike_burst *b, const struct xs_ike_range *r, size_t n,
		       const struct ifaddrs *local, const void *buf, size_t len);
/* Whether a quick pass has something to do: not other, and policies added
 * or removed since the last xs_ike_burst_view(). */
bool xs_ike_burst_news(const struct xs_ike_burst *b);
/* The view a quick pass plans on: the full pass's policies then the
 * burst's, less the removed ones (outbound with a recorded index), and the
 * full pass's SA if_ids plus the burst's, sorted. Marks what b has as seen
 * (also on failure). *vpols and *vids are the caller's to free. 0 or
 * -ENOMEM (both NULL then). */
int xs_ike_burst_view(struct xs_ike_burst *b, const struct xs_policy *pols, size_t npols,
		      const uint32_t *ids, size_t nids, struct xs_policy **vpols, size_t *nvpols,
		      uint32_t **vids, size_t *nvids);
/* Empty b for the next burst (keeps its arrays). */
void xs_ike_burst_reset(struct xs_ike_burst *b);
void xs_ike_burst_free(struct xs_ike_burst *b);

#endif /* XS_IKE_H */

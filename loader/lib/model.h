/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The engine's model, shared by its parts (lib/observe.c, want.c, plan.c,
 * exec.c, links.c): what exists on the devices of a run and in the kernel,
 * what is wanted, and the plan that goes from one to the other as a list of
 * operations, each with the state it replaces (its undo). Not an API for
 * the verbs: they call xs_converge() (tunnel.h).
 */
#ifndef XS_MODEL_H
#define XS_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "groups.h"
#include "netlink.h"
#include "state.h"
#include "tunnel.h"
#include "xfrm.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct dev_run {
	char name[XS_IFNAME_LEN];
	struct xs_state st;
	bool open;
	bool fresh; /* dry run: not attached yet, so empty */
	uint32_t tenant_mode, mark_mask;
	/* The sizes of its tables (0: not known, no check). */
	uint32_t max_routes, max_tunnels;
	struct xs_rec_ent *recs;
	bool *rec_scope; /* per record: this run may change or remove it */
	long *rec_want; /* per record: the wants[] entry for it, or -1 */
	size_t nrecs;
	/* if_ids whose routes are the run's to change (sorted): those of
	 * in-scope records and of the file's tunnels on this device. */
	uint32_t *tids;
	size_t ntids;
	struct xs_route_ent *routes;
	bool *route_leaves; /* per route: planned to go, or to lead elsewhere */
	size_t nroutes;
	/* Routes to groups (route add ... nexthop, or a file's "nexthops"),
	 * sorted by key, apart from the routes to one if_id above. */
	struct xs_group_ent *groups;
	bool *group_leaves; /* per group route: planned to go or change */
	size_t ngroups;
	/* Group indexes no route names (xs_groups_orphans()): freed by apply. */
	struct xs_group_ent *orphans;
	size_t norphans;
	struct own_ent {
		struct apply_route_key key;
		struct apply_route_value val;
	} *owned;
	size_t nowned;
	/* The IKE daemon's: its if_id ranges and its routes (ike_routes). */
	struct ike_range_value ike_ranges[XS_IKE_RANGES_MAX];
	struct own_ent *ike_owned;
	size_t nike_owned;
	struct slot_ent {
		uint32_t if_id;
		struct tunnel_value v;
	} *slots;
	size_t nslots;
};

/* A tunnel of the file, resolved against its device. */
struct want {
	size_t idx; /* in cfg->tunnels */
	size_t dev;
	uint32_t tenant;
	struct tunnel_rec rec;
	struct xs_sa sa[2]; /* inbound, outbound */
	bool has_key[2];
	struct xs_policy pol[6];
	unsigned int npol;
};

/* A route of the file, tunnels' prefixes included. */
struct want_route {
	size_t dev;
	struct apply_route_key key;
	uint32_t if_id;
	int tunnel; /* index into wants, or -1 for a route of "routes" */
	size_t idx; /* in cfg->routes when tunnel < 0 */
	/* A route to a group ("nexthops"; if_id 0): its members, slots not
	 * filled in (exec finds them). NULL for a route to if_id. */
	const struct route_group *group;
};

enum op_kind {
	OP_SA_ADD,
	OP_SA_DEL,
	OP_POL_ADD,
	OP_POL_UPD,
	OP_POL_DEL,
	OP_ROUTE_SET,
	OP_ROUTE_DEL,
	OP_SLOT_ENSURE,
	OP_SLOT_REMOVE,
	OP_REC_PUT,
	OP_REC_DEL,
	OP_OWN_PUT,
	OP_OWN_DEL,
	/* Route groups: a set writes a new group index and moves the route
	 * to it (copy-on-write); its undo (unset) puts the route back and
	 * frees that index. A free empties an index no route names any more
	 * (the old group of a route that changed or went); its undo (put)
	 * writes the group back. */
	OP_GROUP_SET,
	OP_GROUP_UNSET,
	OP_GROUP_FREE,
	OP_GROUP_PUT,
};

/* The order in which a plan runs; see the comment at the top. */
enum phase {
	PH_ROUTE_DEL = 1, /* stop steering into what goes */
	PH_SLOT_DEL,
	PH_POL_DEL,
	PH_SA_DEL,
	PH_REC, /* records: intent before the objects are made */
	PH_SA_ADD,
	PH_POL_ADD,
	PH_SLOT_ADD,
	PH_ROUTE_SET, /* steer once the tunnel is complete */
	PH_FINAL, /* records marked ready; bookkeeping */
};

/* Whom an operation is for, for messages. */
enum ent_kind {
	ENT_NONE,
	ENT_TUNNEL, /* cfg->tunnels[ent] */
	ENT_ROUTE, /* cfg->routes[ent] */
	ENT_REC, /* devs[dev].recs[ent]: a tunnel the file does not name */
	ENT_KROUTE, /* devs[dev].routes[ent]: a route the file does not name */
	ENT_KGROUP, /* devs[dev].groups[ent]: a group route the file does not name */
	ENT_KSA, /* ksa[ent]: an SA of no tunnel in the file */
	ENT_KPOL, /* kpol[ent] */
};

enum op_status { OS_PLANNED, OS_DONE, OS_NOOP, OS_FAILED };

struct op {
	uint8_t kind, phase, ent_kind, status;
	bool visible; /* a change to report; bookkeeping is not */
	size_t dev;
	size_t ent;
	int err;
	/* The big payloads (SAs, policies, records) are pointers: to the
	 * wanted and observed entries of the run (r->wants, r->ksa, r->kpol,
	 * devs[].recs), which do not move once planning starts, or to copies
	 * in r->store. An op is small (its records are sorted and walked
	 * many times), and keys are not copied around. */
	union {
		const struct xs_sa *sa;
		struct {
			const struct xs_policy *pol, *old;
		} pol;
		struct {
			struct apply_route_key key;
			uint32_t if_id;
			bool had_old;
			/* An undo puts back the value it had, counter slot
			 * and all. */
			bool exact;
			struct route_value old;
		} route;
		struct {
			uint32_t if_id, tenant;
			bool created;
			/* An undo of a removal puts the slot back where it
			 * was, counters and all. */
			bool restore;
			uint32_t idx;
		} slot;
		struct {
			struct tunnel_name_key key;
			const struct tunnel_rec *rec, *old; /* rec: NULL for a del */
			bool had_old;
		} rec;
		struct {
			struct apply_route_key key;
			struct apply_route_value val, old;
			bool had_old; /* a put that replaces a record */
		} own;
		struct {
			struct apply_route_key key;
			const struct route_group *g; /* set: wanted; free: old */
			uint32_t gid; /* set: the index made (exec); free: freed */
			bool had_old;
			struct route_value old; /* set: the route's value before */
		} group;
	} u;
};

/* Storage that does not move, for what ops point to that is not an entry
 * of the run as such (a record in the state an op writes). */
struct op_store {
	struct op_store *next;
	size_t used, cap;
	unsigned char data[];
};

/* A link step done before the devices are opened, with its inverse. */
struct link_step {
	size_t idx; /* cfg->links */
	enum { LS_CREATED, LS_ATTACHED, LS_REATTACHED } what;
	uint32_t old_flags; /* LS_REATTACHED: what to go back to */
};

struct run {
	struct xs_ctx *ctx;
	const struct xs_run_opts *o;
	struct xs_config_file *cfg;
	uint64_t gen;
	struct dev_run *devs;
	size_t ndevs;
	struct want *wants;
	size_t nwants;
	struct want_route *wroutes;
	size_t nwroutes, capwroutes;
	struct xs_sa *ksa;
	size_t nksa;
	bool *ksa_want, *ksa_own;
	const char **ksa_other; /* the tunnel out of scope it belongs to */
	struct xs_policy *kpol;
	size_t nkpol;
	bool *kpol_want, *kpol_own;
	const char **kpol_other;
	/* Records out of scope, by if_id (sorted): what may not be taken. */
	struct other_rec {
		uint32_t if_id;
		const char *name;
	} *others;
	size_t nothers;
	/* In-scope records by if_id (sorted), to name what is removed. */
	struct scope_rec {
		uint32_t if_id;
		size_t dev, rec;
	} *scoped;
	size_t nscoped;
	/* Named tunnels of the namespace's other attached devices, sorted by
	 * name: a tunnel's name is the namespace's, whoever makes it. */
	struct elsewhere {
		char name[XS_TUNNEL_NAME_LEN];
		char dev[XS_IFNAME_LEN];
	} *elsewhere;
	size_t nelsewhere, capelsewhere;
	struct op *ops;
	size_t nops, capops;
	struct op_store *store;
	struct link_step links[3 * XS_CFG_MAX_LINKS + 1];
	size_t nlinks_done;
	size_t nfollowed; /* tenant-key iif: re-created interfaces followed */
	char **plan_lines; /* link steps a dry run would take */
	/* What a file leaves alone because it is not the file's and the file
	 * does not name it (tunnel add's tunnels, route add's routes). */
	char **kept;
	size_t nkept, capkept, kept_tunnels, kept_routes;
	char **notices; /* what the verb says whatever the outcome */
	size_t nnotices, capnotices;
	size_t nplan_lines, capplan_lines;
	struct xs_nl nl;
	bool nl_open;
	/* Test hooks (xs_converge()); -1 when not set. */
	long crash_after, fail_after;
	unsigned long count;
};

/* model.c */
void *vec_slot(void *vp, size_t *cap, size_t n, size_t size);
/* Append a formatted line to the vector *v of *n strings (capacity *cap). */
int vec_printf(char ***v, size_t *n, size_t *cap, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void sort_n(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));
void *search_n(const void *key, const void *base, size_t n, size_t size,
		      int (*cmp)(const void *, const void *));
void rkey_from(struct apply_route_key *k, const struct xs_prefix *p, uint32_t tenant);
const char *rkey_str(const struct dev_run *d, const struct apply_route_key *k, char *buf,
		     size_t len);
const char *run_src(const struct run *r);
const char *ent_label(const struct run *r, uint8_t kind, size_t dev, size_t ent,
			     char *buf, size_t len);
int __attribute__((format(printf, 6, 7)))
ent_err(const struct run *r, int err, uint8_t kind, size_t dev, size_t ent, const char *fmt,
	...);
const char *op_text(const struct run *r, const struct op *op, char *buf, size_t len);
struct op *op_new(struct run *r, uint8_t kind, uint8_t phase, size_t dev,
			 uint8_t ent_kind, size_t ent, bool visible);
/* A copy of size bytes of src in r->store, which lives until run_free(). */
void *op_keep(struct run *r, const void *src, size_t size);
void op_store_free(struct run *r);
int find_dev(const struct run *r, const char *name, size_t *i);
int add_dev(struct run *r, const char *name);
int dev_cmp(const void *a, const void *b);

/* observe.c */
bool addr_eq(const struct xs_prefix *a, const struct xs_prefix *b);
int read_meta_quiet(struct xs_ctx *ctx, const char *dev, struct meta_value *m,
			   bool *complete);
int open_devs(struct run *r);
int route_ent_cmp(const void *a, const void *b);
int own_ent_cmp(const void *a, const void *b);
int slot_ent_cmp(const void *a, const void *b);
int read_dev(struct run *r, struct dev_run *d);
/* The names of the tunnels on attached devices the run does not manage. */
int read_elsewhere(struct run *r);
int elsewhere_cmp(const void *a, const void *b);
int dev_index(struct run *r, struct dev_run *d);
int rec_ent_cmp(const void *a, const void *b);
struct xs_rec_ent *find_rec(struct dev_run *d, const char *name, size_t *idx);

/* links.c */
int link_undo(struct run *r);
int ensure_links(struct run *r);

/* plan.c */
int set_scope(struct run *r);
int ksa_cmp(const void *a, const void *b);
int kpol_cmp(const void *a, const void *b);
int mark_owned(struct run *r);
int wroute_cmp(const void *a, const void *b);
/* The pure part of a run: with the wanted state built (build_all()) and
 * the devices and the kernel's SAs and policies observed into r, decide the
 * scope, the owners and every operation (r->ops, in the order they run). */
int xs_plan_model(struct run *r);
int xs_plan(struct run *r);

/* want.c */
int build_all(struct run *r);
int resolve_all(struct run *r);

/* exec.c */
int collect_devs(struct run *r);
void run_free(struct run *r);
bool op_inverse(const struct op *op, struct op *inv);

#endif /* XS_MODEL_H */

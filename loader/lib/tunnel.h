/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Named tunnels and the declarative apply, shared by the "tunnel", "apply"
 * and "show" objects: one engine converges the kernel to a set of wanted
 * tunnels and routes, with an undo log, and the readers of what is there.
 */
#ifndef XS_TUNNEL_H
#define XS_TUNNEL_H

#include "config.h"
#include "state.h"
#include "xfrm.h"

/* What a run may touch. */
enum xs_scope {
	XS_SCOPE_FILE, /* apply: every tunnel and owned route of the devices the
			* file names, links included */
	XS_SCOPE_ADD, /* tunnel add: the one tunnel of the config */
	XS_SCOPE_DEL, /* tunnel del: the tunnel named, which is removed */
};

struct xs_run_opts {
	enum xs_scope scope;
	const char *src; /* the file, for messages; NULL on the command line */
	bool dry_run; /* print the plan, change nothing */
	const char *name; /* XS_SCOPE_DEL: the tunnel */
	const char *dev; /* XS_SCOPE_DEL: its device, NULL to look it up */
};

/* What a run did, or would do, for the verb to show. */
struct xs_run_result {
	bool dry_run;
	size_t changes; /* made; planned, in a dry run */
	char **lines; /* each change: 'tunnel "x": add ...', in the plan's order */
	size_t nlines;
	size_t undone; /* after a failure: the changes rolled back */
	/* apply: what it left alone, not being the file's nor named in it. */
	char **kept;
	size_t nkept, kept_tunnels, kept_routes;
	char **notices; /* to say whatever the outcome */
	size_t nnotices;
};
void xs_run_result_free(struct xs_run_result *res);

/*
 * Make the kernel what want says, within the scope: observe what there is,
 * resolve what is wanted, plan (lib/plan.c), execute. Every change is kept
 * in an undo log; on the first failure the log is played back and the
 * error names the entry at fault. Returns 0 or a negative errno (reported
 * with p_err()); *res says what changed (free it with xs_run_result_free()).
 * Test builds only (XS_TEST_HOOKS), from the environment:
 * XS_APPLY_CRASH_AFTER=N kills the process with SIGKILL after N changes,
 * XS_APPLY_FAIL_AFTER=N makes change N + 1 fail as if the kernel had
 * refused it.
 */
int xs_converge(struct xs_ctx *ctx, struct xs_config_file *want,
		const struct xs_run_opts *o, struct xs_run_result *res);

/* ---- Readers of the pinned state ---- */

struct xs_rec_ent {
	struct tunnel_name_key key;
	struct tunnel_rec rec;
};
/* Every record of the device; *v is malloc'ed (free it). */
int xs_recs_read(struct xs_state *st, struct xs_rec_ent **v, size_t *n);

struct xs_route_ent {
	struct apply_route_key key;
	struct route_value val;
};
/* The routes to an if_id; routes to groups are counted in *ngroups (may
 * be NULL), not listed: xs_groups_read() (groups.h) reads them. */
int xs_routes_read(struct xs_state *st, struct xs_route_ent **v, size_t *n, size_t *ngroups);

/* Every ESP SA and every main policy of the namespace. The SAs hold their
 * keys: free them with xs_sas_free(). */
int xs_sas_read(struct xs_ctx *ctx, struct xs_nl *nl, struct xs_sa **v, size_t *n);
void xs_sas_free(struct xs_sa *v, size_t n);
int xs_pols_read(struct xs_ctx *ctx, struct xs_nl *nl, struct xs_policy **v, size_t *n);
/* The online CPUs (/sys/devices/system/cpu/online), the ones that may send
 * through per-CPU SAs; *cpus is malloc'ed. 0 or a negative errno. */
int xs_online_cpus(uint32_t **cpus, size_t *n);

/* Who owns what (the rule the planner follows, for the views): a named
 * tunnel is a file's (apply made or took it) or the command line's (tunnel
 * add); a route is a named tunnel's when it leads to the tunnel's if_id,
 * the file's when apply made or took it and it still leads where apply put
 * it, else the command line's (route add, the updown script). */
struct xs_owners {
	struct xs_rec_ent *recs; /* by if_id */
	size_t nrecs;
	int own_fd; /* apply_routes */
	int ike_fd; /* ike_routes */
};
int xs_owners_read(struct xs_state *st, struct xs_owners *ow);
void xs_owners_free(struct xs_owners *ow);
const char *xs_tunnel_owner(const struct tunnel_rec *rec); /* "file" or "cli" */
/* "tunnel", "file", "ike" (the daemon's, from an IKE daemon's CHILD_SA)
 * or "cli"; *tunnel: the tunnel's name, else NULL. */
const char *xs_route_owner(const struct xs_owners *ow, const struct apply_route_key *k,
			   uint32_t if_id, const char **tunnel);
/* A route to group g: "file" while it is the group apply made, else "cli"
 * (a group is never a tunnel's). */
struct route_group;
const char *xs_group_owner(const struct xs_owners *ow, const struct apply_route_key *k,
			   const struct route_group *g);

/* The SAs and policies a record stands for. */
void xs_rec_sas(const struct tunnel_rec *rec, struct xs_prefix *in_dst,
		struct xs_prefix *out_dst);
bool xs_pol_is_tunnels(const struct xs_policy *p, uint32_t if_id);
/* How many policies a tunnel of this record has. */
unsigned int xs_rec_npolicies(const struct tunnel_rec *rec);

/* The tenant as the file writes it: xs_iif_tenant_to_cfg() (iifbind.h). */

/* The file form of every attached device of the namespace (show -j), keys
 * only when keys. Reports errors. */
int xs_config_from_kernel(struct xs_ctx *ctx, struct xs_config_file *out, bool keys);

#endif /* XS_TUNNEL_H */

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

/*
 * Make the kernel what want says, within the scope. Every change is kept
 * in an undo log; on the first failure the log is played back and the
 * error names the entry at fault. Returns 0 or a negative errno (reported).
 * Test hooks, from the environment: XS_APPLY_CRASH_AFTER=N kills the
 * process with SIGKILL after N changes, XS_APPLY_FAIL_AFTER=N makes change
 * N + 1 fail as if the kernel had refused it.
 */
int xs_converge(struct xs_ctx *ctx, struct xs_config_file *want,
		const struct xs_run_opts *o);

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
int xs_routes_read(struct xs_state *st, struct xs_route_ent **v, size_t *n);

/* Every ESP SA and every main policy of the namespace. The SAs hold their
 * keys: free them with xs_sas_free(). */
int xs_sas_read(struct xs_ctx *ctx, struct xs_nl *nl, struct xs_sa **v, size_t *n);
void xs_sas_free(struct xs_sa *v, size_t n);
int xs_pols_read(struct xs_ctx *ctx, struct xs_nl *nl, struct xs_policy **v, size_t *n);

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

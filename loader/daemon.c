// SPDX-License-Identifier: GPL-2.0
/*
 * xfrm-steer daemon: the health of every tunnel from the kernel's own SAs.
 *
 * An if_id is up while every online CPU can send through a usable outbound
 * SA with it: one whose source address is local to this namespace and that
 * has keys (an acquire's larval state has none), and that serves every CPU
 * or, a per-CPU SA (RFC 9611), that CPU. The daemon listens to the SA and
 * expire groups of the xfrm netlink bus and, on every message (and at
 * start, and every few seconds in case a message was lost), dumps the SAs
 * again and writes each tunnel's XS_HEALTH_AUTO_DOWN bit: state is
 * derived from the kernel alone, so a restart finds it again. A manual
 * `route nexthop down|up` wins over what it writes.
 */
#include <errno.h>
#include <ifaddrs.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <linux/rtnetlink.h>
#include <linux/xfrm.h>
#include <libmnl/libmnl.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common.h"
#include "groups.h"
#include "ike.h"
#include "netlink.h"
#include "plan.h"
#include "state.h"
#include "tunnel.h"
#include "unknown_spi.h"
#include "xfrm.h"
#include "xfrm_steer.skel.h"

#define RESYNC_MS 5000 /* a lost message costs at most this */
#define PIN_CHECK_MS 500 /* ike: how soon a re-attach is noticed */
/* A burst of messages ends after BURST_QUIET_MS without one, or after
 * BURST_MAX_MS; quick passes follow it meanwhile (ike_quick()). charon
 * takes tens of ms to install a CHILD_SA's SAs and policies on a loaded
 * slow CPU, and a full pass started in the middle blocks the quick pass
 * of its policy for as long as it takes. */
#define BURST_QUIET_MS 20
#define BURST_MAX_MS 200
#define SETTLE_MS 200 /* a second look after a message: a hard expiry is
		       * told before the SA is gone */

/* The usable outbound SAs: their if_id and CPU (XS_PCPU_ANY: every CPU). */
struct up_set {
	uint32_t *ids, *pcpu;
	size_t n, cap;
	struct ifaddrs *local;
	uint32_t *cpus; /* the online CPUs */
	size_t ncpus;
};

/* The `ike` clauses and what the last reconcile reported, so that a
 * problem is logged when it appears, not every few seconds. */
struct ike_opts {
	struct xs_ike_range r[XS_IKE_RANGES_MAX];
	size_t n;
	char **last;
	size_t nlast;
	/* A detach and attach loses the routes without a kernel event: the
	 * meta pin's inode, looked at every PIN_CHECK_MS, tells. */
	ino_t meta_ino;
	long long pin_check;
	/* The last full pass's view (ike_quick()): policies, the if_ids of
	 * usable outbound SAs (sorted), the local addresses. */
	struct xs_policy *pols;
	size_t npols;
	uint32_t *ids;
	size_t nids;
	struct ifaddrs *local;
	bool seen; /* a full pass has filled them */
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int daemon_help(struct xs_ctx *ctx)
{
	fprintf(xs_help_out(ctx),
		"Usage: xfrm-steer daemon [ dev NAME ]\n"
		"                         [ ike if_ids LO-HI [ tenant N ] [ allow PREFIX[,PREFIX...] ] ]...\n"
		"                         [ on-unknown-spi CMD underlay DEV [ hook-interval SEC ] ]\n"
		"       xfrm-steer daemon status dev NAME\n"
		"Follows the kernel's SAs (netlink) and marks each tunnel of NAME, or of\n"
		"every attached device of the namespace, up while an outbound SA with its\n"
		"if_id exists for every online CPU (one without pcpu, or one per CPU), down\n"
		"within a second of that ending. Runs until SIGINT or SIGTERM.\n"
		"With \"ike\" (needs dev): the routes of the if_ids LO-HI, which an IKE\n"
		"daemon (strongSwan, libreswan) sets on its CHILD_SAs, follow the kernel:\n"
		"route (tenant N, the outbound policy's destination) -> if_id while that\n"
		"policy and a usable outbound SA with the if_id exist. No updown script is\n"
		"needed. Conflicts (two if_ids for one prefix) keep the route's holder and\n"
		"are reported; tunnel add, apply and route add refuse if_ids in the ranges.\n"
		"An xfrm device that is not external, with an if_id in a range (libreswan's\n"
		"ipsecN), is set down whenever it is up: inbound packets then reach NAME.\n"
		"status: the ranges in force, the routes and problems of the last pass.\n"
		"on-unknown-spi: for ESP that the underlay program on DEV (xfrm-steer\n"
		"underlay attach) reports with an SPI this host has no SA for, runs\n"
		"CMD (plain words directly, else by /bin/sh -c) without waiting, with\n"
		"XS_PEER, XS_DST, XS_SPI, XS_FAMILY and XS_DEV set: at most once per\n"
		"peer per SEC seconds (default %d), never while the kernel has an SA\n"
		"to the peer. Exit 75 from CMD: run again at the next event. The\n"
		"strongSwan hook: %s\n",
		XS_USPI_DEFAULT_INTERVAL_MS / 1000, "PREFIX/lib/xfrm-steer/strongswan-unknown-spi.sh");
	return 0;
}

/* Unknown SPI to IKE (lib/unknown_spi.c): the options and what the daemon
 * prints of it. */
struct uspi_opts {
	const char *cmd, *underlay;
	long long interval_ms;
};

static int parse_uspi(struct xs_ctx *ctx, int *argc, char ***argv, struct uspi_opts *o)
{
	uint32_t sec;

	if (!strcmp((*argv)[0], "on-unknown-spi")) {
		if (*argc < 2 || !*(*argv)[1])
			return p_err(ctx, -EINVAL, "daemon: on-unknown-spi needs a command");
		o->cmd = (*argv)[1];
	} else if (!strcmp((*argv)[0], "underlay")) {
		if (*argc < 2)
			return p_err(ctx, -EINVAL, "daemon: underlay needs a device name");
		o->underlay = (*argv)[1];
	} else if (!strcmp((*argv)[0], "hook-interval")) {
		if (*argc < 2 || parse_u32((*argv)[1], &sec) || sec > 86400)
			return p_err(ctx, -EINVAL, "daemon: invalid hook-interval \"%s\" (0..86400 s)",
				     *argc < 2 ? "" : (*argv)[1]);
		o->interval_ms = (long long)sec * 1000;
	} else {
		return 1;
	}
	(*argc)--;
	(*argv)++;
	return 0;
}

static int check_uspi(struct xs_ctx *ctx, const struct uspi_opts *o)
{
	if (o->cmd && !o->underlay)
		return p_err(ctx, -EINVAL,
			     "daemon: on-unknown-spi needs \"underlay DEV\", the device ESP arrives on");
	if (!o->cmd && o->underlay)
		return p_err(ctx, -EINVAL, "daemon: underlay DEV is only for on-unknown-spi CMD");
	return 0;
}

static void uspi_print(void *arg, const struct xs_uspi_report *r)
{
	const struct xs_ctx *ctx = arg;
	struct timespec ts;

	/* Held back by the rate limit: news only with -v. */
	if (r->what == XS_USPI_LIMITED && !ctx->verbose)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	printf("%lld.%03ld ", (long long)ts.tv_sec, ts.tv_nsec / 1000000);
	switch (r->what) {
	case XS_USPI_RAN:
		printf("unknown spi 0x%08x from %s: hook started (pid %d)\n", r->spi, r->peer,
		       (int)r->pid);
		break;
	case XS_USPI_LIMITED:
		printf("unknown spi 0x%08x from %s: hook ran less than hook-interval ago\n",
		       r->spi, r->peer);
		break;
	case XS_USPI_HAS_SA:
		printf("unknown spi 0x%08x from %s: SAs to it exist, a stale or forged spi: hook not run\n",
		       r->spi, r->peer);
		break;
	case XS_USPI_BUSY:
		printf("unknown spi 0x%08x from %s: hook not run, %d hooks still running\n", r->spi,
		       r->peer, XS_USPI_MAX_HOOKS);
		break;
	case XS_USPI_FAILED:
		printf("unknown spi 0x%08x from %s: cannot run the hook: %s\n", r->spi, r->peer,
		       strerror(-r->err));
		break;
	case XS_USPI_EXITED:
		if (WIFEXITED(r->status) && WEXITSTATUS(r->status) == XS_USPI_RETRY)
			printf("hook pid %d for %s: not now (exit %d), again at the next unknown spi\n",
			       (int)r->pid, r->peer, XS_USPI_RETRY);
		else if (WIFEXITED(r->status))
			printf("hook pid %d for %s exited with status %d\n", (int)r->pid, r->peer,
			       WEXITSTATUS(r->status));
		else
			printf("hook pid %d for %s killed by signal %d\n", (int)r->pid, r->peer,
			       WTERMSIG(r->status));
		break;
	}
	fflush(stdout);
}

static bool is_local(const struct up_set *u, const struct xs_prefix *a)
{
	return xs_ike_addr_local(u->local, a);
}

static int collect(const struct xs_sa *sa, void *data)
{
	struct up_set *u = data;

	if (!sa->if_id || (!sa->aead.name[0] && !sa->enc.name[0] && !sa->auth.name[0]))
		return 0;
	if (!is_local(u, &sa->src))
		return 0;
	if (u->n == u->cap) {
		size_t cap = u->cap ? u->cap * 2 : 64;
		uint32_t *v = realloc(u->ids, cap * sizeof(*v)), *p;

		if (!v)
			return -ENOMEM;
		u->ids = v;
		p = realloc(u->pcpu, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		u->pcpu = p;
		u->cap = cap;
	}
	u->ids[u->n] = sa->if_id;
	u->pcpu[u->n++] = sa->has_pcpu ? sa->pcpu : XS_PCPU_ANY;
	return 0;
}

/* Is if_id up, i.e. can every online CPU send through one of its SAs? If
 * not, *gap is the first CPU that cannot (XS_PCPU_ANY: none can). 0 or
 * -ENOMEM. */
static int is_up(const struct up_set *u, uint32_t if_id, bool *up, uint32_t *gap)
{
	uint32_t stack[16], *mine = stack;
	size_t i, n = 0;

	for (i = 0; i < u->n; i++)
		n += u->ids[i] == if_id;
	if (n > 16) {
		mine = malloc(n * sizeof(*mine));
		if (!mine)
			return -ENOMEM;
	}
	for (i = 0, n = 0; i < u->n; i++)
		if (u->ids[i] == if_id)
			mine[n++] = u->pcpu[i];
	*up = xs_plan_sa_cpus_covered(mine, n, u->cpus, u->ncpus, gap);
	if (mine != stack)
		free(mine);
	return 0;
}

static int apply_dev(struct xs_ctx *ctx, const char *ifname, void *data)
{
	const struct up_set *u = data;
	uint32_t key, *prev = NULL;
	struct tunnel_value tv;
	struct xs_state st;
	int err, fd;

	err = xs_state_open(ctx, ifname, XS_LOCK_EXCLUSIVE, &st);
	if (err)
		return err;
	fd = bpf_map__fd(st.skel->maps.tunnel_by_ifid);
	while (!bpf_map_get_next_key(fd, prev, &key)) {
		bool up, changed = false;
		uint32_t h, gap;
		char why[64] = "";

		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &tv))
			continue;
		err = is_up(u, key, &up, &gap);
		if (err) {
			p_err(ctx, err, "out of memory");
			break;
		}
		if (!up && gap == XS_PCPU_ANY)
			snprintf(why, sizeof(why), " (no outbound SA)");
		else if (!up)
			snprintf(why, sizeof(why), " (no outbound SA for CPU %u)", gap);
		err = xs_health_update(&st, tv.tunnel_idx, up ? 0 : XS_HEALTH_AUTO_DOWN,
				       up ? XS_HEALTH_AUTO_DOWN : 0, &changed);
		if (err) {
			p_err(ctx, err, "cannot write the health of if_id %u: %s", key,
			      strerror(-err));
			break;
		}
		h = xs_health_get(&st, tv.tunnel_idx);
		if (changed) {
			struct timespec ts;

			/* Wall-clock time with milliseconds: logs and tests
			 * compare it with when the SA went or came. */
			clock_gettime(CLOCK_REALTIME, &ts);
			printf("%lld.%03ld %s if_id %u: %s%s\n", (long long)ts.tv_sec,
			       ts.tv_nsec / 1000000, ifname, key, h & XS_HEALTH_DOWN ? "down" : "up",
			       why);
		}
	}
	fflush(stdout);
	xs_state_close(&st);
	return err;
}

/* "ike if_ids LO-HI [tenant N] [allow P,...]": argv at "ike"; *used gets
 * how many words it took. */
static int parse_ike(struct xs_ctx *ctx, int argc, char **argv, struct ike_opts *o, int *used)
{
	struct xs_ike_range *r;
	char *dash, buf[32];
	int i = 1;

	if (o->n >= XS_IKE_RANGES_MAX)
		return p_err(ctx, -EINVAL, "daemon: at most %d \"ike\" clauses", XS_IKE_RANGES_MAX);
	r = &o->r[o->n];
	memset(r, 0, sizeof(*r));
	if (argc < 3 || strcmp(argv[1], "if_ids"))
		return p_err(ctx, -EINVAL, "daemon: \"ike\" needs \"if_ids LO-HI\" (e.g. ike if_ids 1-9999)");
	snprintf(buf, sizeof(buf), "%s", argv[2]);
	dash = strchr(buf, '-');
	if (dash)
		*dash++ = '\0';
	if (parse_u32(buf, &r->lo) || (dash ? parse_u32(dash, &r->hi) : (r->hi = r->lo, 0)) ||
	    !r->lo || r->hi < r->lo)
		return p_err(ctx, -EINVAL,
			     "daemon: invalid if_id range \"%s\"; expected LO-HI with 1 <= LO <= HI",
			     argv[2]);
	i = 3;
	while (i + 1 < argc) {
		if (!strcmp(argv[i], "tenant")) {
			if (parse_u32(argv[i + 1], &r->tenant))
				return p_err(ctx, -EINVAL,
					     "daemon: invalid tenant \"%s\" (a number)", argv[i + 1]);
		} else if (!strcmp(argv[i], "allow")) {
			char list[512], *tok, *save = NULL;

			snprintf(list, sizeof(list), "%s", argv[i + 1]);
			for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
				if (r->nallow >= XS_IKE_ALLOW_MAX)
					return p_err(ctx, -EINVAL,
						     "daemon: at most %d allowed prefixes per \"ike\"",
						     XS_IKE_ALLOW_MAX);
				if (parse_prefix(tok, &r->allow[r->nallow], false))
					return p_err(ctx, -EINVAL,
						     "daemon: invalid prefix \"%s\" in allow", tok);
				r->nallow++;
			}
		} else {
			break;
		}
		i += 2;
	}
	o->n++;
	*used = i;
	return 0;
}

static bool in_list(char **v, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(v[i], s))
			return true;
	return false;
}

/* "-> if_id 1, if_id 2 backup (...)": the group of an overlap. */
static void log_group(const char *dev, const struct timespec *ts, const char *a,
		      const struct xs_ike_op *op)
{
	char m[XS_GROUP_MAX * 24] = "";
	size_t o = 0;
	uint32_t i;

	for (i = 0; i < op->g.n && i < XS_GROUP_MAX && o < sizeof(m); i++)
		o += (size_t)snprintf(m + o, sizeof(m) - o, "%sif_id %u%s", i ? ", " : "",
				      op->g.nh[i].if_id,
				      op->g.nh[i].flags & XS_NH_BACKUP ? " backup" : "");
	printf("%lld.%03ld %s ike: route %s tenant %u -> %s (CHILD_SAs of one peer overlap: the primary carries, every member is accepted)\n",
	       (long long)ts->tv_sec, ts->tv_nsec / 1000000, dev, a, op->key.tenant, m);
}

static void ike_log_ops(const char *dev, const struct xs_ike_plan *p)
{
	struct timespec ts;
	size_t i;

	clock_gettime(CLOCK_REALTIME, &ts);
	for (i = 0; i < p->nops; i++) {
		const struct xs_ike_op *op = &p->ops[i];
		struct xs_prefix pf = { .family = (int)op->key.family, .plen = (uint8_t)op->key.plen };
		char a[64];

		memcpy(pf.addr, op->key.addr, 16);
		format_prefix(&pf, a, sizeof(a));
		if (op->kind == XS_IKE_SET)
			printf("%lld.%03ld %s ike: route %s tenant %u -> if_id %u\n",
			       (long long)ts.tv_sec, ts.tv_nsec / 1000000, dev, a, op->key.tenant,
			       op->if_id);
		else if (op->kind == XS_IKE_GROUP)
			log_group(dev, &ts, a, op);
		else if (op->kind == XS_IKE_DEL && op->if_id)
			printf("%lld.%03ld %s ike: route %s tenant %u removed (if_id %u: no policy and SA)\n",
			       (long long)ts.tv_sec, ts.tv_nsec / 1000000, dev, a, op->key.tenant,
			       op->if_id);
		else if (op->kind == XS_IKE_DEL)
			printf("%lld.%03ld %s ike: route %s tenant %u removed (its CHILD_SAs: no policy and SA)\n",
			       (long long)ts.tv_sec, ts.tv_nsec / 1000000, dev, a, op->key.tenant);
	}
	fflush(stdout);
}

/* Problems are logged when they appear (stderr, as the daemon's errors),
 * and once when they are gone. */
static void ike_log_problems(struct ike_opts *o, const char *dev, struct xs_ike_plan *p)
{
	size_t i;

	for (i = 0; i < p->nproblems; i++)
		if (!in_list(o->last, o->nlast, p->problems[i]))
			fprintf(stderr, "%s %s\n", dev, p->problems[i]);
	for (i = 0; i < o->nlast; i++) {
		if (!in_list(p->problems, p->nproblems, o->last[i]))
			fprintf(stderr, "%s resolved: %s\n", dev, o->last[i]);
		free(o->last[i]);
	}
	free(o->last);
	/* The plan's lines are the new "last". */
	o->last = p->problems;
	o->nlast = p->nproblems;
	p->problems = NULL;
	p->nproblems = 0;
	fflush(stderr);
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void dev_down_told(const struct xs_link_info *li, int err, void *arg)
{
	const char *dev = arg;
	struct timespec ts;

	if (err)
		return; /* reported by the library */
	clock_gettime(CLOCK_REALTIME, &ts);
	printf("%lld.%03ld %s ike: set %s down (xfrm device with if_id %u: its inbound packets belong on %s)\n",
	       (long long)ts.tv_sec, ts.tv_nsec / 1000000, dev, li->ifname, li->if_id, dev);
	fflush(stdout);
}

/* The IKE daemon's own devices in the ranges (pluto's ipsecN) kept down. */
static int ike_devs(struct xs_ctx *ctx, const char *dev, const struct ike_opts *o)
{
	if (!o->n)
		return 0;
	return xs_ike_devs_down(ctx, o->r, o->n, dev_down_told, (void *)dev);
}

/* The routes of the IKE ranges, from the policies and the SAs collected. */
static int ike_sync(struct xs_ctx *ctx, struct xs_nl *nl, const char *dev, struct ike_opts *o,
		    struct up_set *u)
{
	struct xs_policy *pols = NULL;
	struct xs_ike_plan plan;
	size_t npols = 0;
	uint32_t *ids;
	int err;

	if (!o->n)
		return 0;
	/* Sorted apart: u->ids pairs with u->pcpu. */
	ids = malloc((u->n ? u->n : 1) * sizeof(*ids));
	if (!ids)
		return p_err(ctx, -ENOMEM, "out of memory");
	if (u->n)
		memcpy(ids, u->ids, u->n * sizeof(*ids));
	qsort(ids, u->n, sizeof(*ids), u32_cmp);
	err = xs_pols_read(ctx, nl, &pols, &npols);
	if (err) {
		free(ids);
		return err;
	}
	err = xs_ike_reconcile(ctx, dev, o->r, o->n, pols, npols, ids, u->n, &plan);
	ike_log_ops(dev, &plan);
	ike_log_problems(o, dev, &plan);
	xs_ike_plan_free(&plan);
	free(o->pols);
	free(o->ids);
	o->pols = pols;
	o->npols = npols;
	o->ids = ids;
	o->nids = u->n;
	o->seen = true;
	return err;
}

/*
 * The quick pass: a new CHILD_SA's policy seen in a burst is routed at
 * once, by the same planner, from the last full pass's view plus the
 * burst's additions, without the dumps a full pass makes (tens of ms on a
 * slow CPU: the new CHILD_SA of a make-before-break reauthentication must
 * be accepted before the peer, which installs it one IKE message later,
 * sends on it; and the old one's end, when the peer deletes the old
 * IKE_SA, lets egress leave a policy that is gone). The full pass after
 * the burst has the last word; bursts it alone can follow (a flush, lost
 * messages) are left to it.
 */
static void ike_quick(struct xs_ctx *ctx, const char *dev, struct ike_opts *o,
		      struct xs_ike_burst *b)
{
	struct xs_policy *pols;
	struct xs_ike_plan plan;
	size_t np, nids;
	uint32_t *ids;

	if (!o->n || !o->seen || !xs_ike_burst_news(b))
		return;
	if (xs_ike_burst_view(b, o->pols, o->npols, o->ids, o->nids, &pols, &np, &ids, &nids))
		return; /* out of memory: the full pass after the burst follows it */
	if (!xs_ike_reconcile(ctx, dev, o->r, o->n, pols, np, ids, nids, &plan))
		ike_log_ops(dev, &plan);
	xs_ike_plan_free(&plan);
	free(pols);
	free(ids);
}

static int sync_once(struct xs_ctx *ctx, struct xs_nl *nl, const char *dev, struct ike_opts *ike)
{
	struct up_set u = { 0 };
	int err;

	if (getifaddrs(&u.local))
		return p_err(ctx, -errno, "cannot list local addresses: %s", strerror(errno));
	err = xs_online_cpus(&u.cpus, &u.ncpus);
	if (err) {
		freeifaddrs(u.local);
		free(u.cpus);
		return p_err(ctx, err, "cannot read the online CPUs (/sys/devices/system/cpu/online): %s",
			     strerror(-err));
	}
	err = xs_sa_dump(ctx, nl, collect, &u);
	/* Routes first: a new CHILD_SA's if_id must be accepted before the
	 * peer sends on it (health changes nothing the IKE routes need). */
	if (!err && dev)
		err = ike_sync(ctx, nl, dev, ike, &u);
	if (!err)
		err = dev ? apply_dev(ctx, dev, &u) : xs_for_each_attached(ctx, apply_dev, &u);
	if (!err && dev)
		err = ike_devs(ctx, dev, ike);
	if (ike->n) {
		/* The quick pass tells outbound SAs by these. */
		if (ike->local)
			freeifaddrs(ike->local);
		ike->local = u.local;
	} else {
		freeifaddrs(u.local);
	}
	free(u.ids);
	free(u.pcpu);
	free(u.cpus);
	return err;
}

/* Whether the device's pins were made again (or went) since last looked. */
static bool ike_pins_changed(struct xs_ctx *ctx, const char *dev, struct ike_opts *o)
{
	char dir[XS_DIR_MAX], path[XS_DIR_MAX + 8];
	struct stat sb;
	ino_t ino = 0;

	if (!xs_pin_dir_nocheck(ctx, dev, dir, sizeof(dir))) {
		snprintf(path, sizeof(path), "%s/meta", dir);
		if (!stat(path, &sb))
			ino = sb.st_ino;
	}
	if (ino == o->meta_ino)
		return false;
	o->meta_ino = ino;
	return true;
}

/* Read every queued message; whether there was any. ENOBUFS (messages
 * lost) is a reason to look too. */
static bool drain(struct mnl_socket *ev, char *buf, size_t len, struct ike_opts *o,
		  struct xs_ike_burst *b)
{
	bool got = false;

	for (;;) {
		ssize_t r = mnl_socket_recvfrom(ev, buf, len);

		if (r > 0 && o->n)
			xs_ike_burst_note(b, o->r, o->n, o->local, buf, (size_t)r);
		else if (r < 0 && errno == ENOBUFS)
			b->other = true;
		if (r > 0 || (r < 0 && errno == ENOBUFS)) {
			got = true;
			continue;
		}
		return got;
	}
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct xs_uspi_watch *uspi_start(struct xs_ctx *ctx, struct xs_nl *nl,
					const struct uspi_opts *o, int *err)
{
	struct xs_uspi_watch *w;

	*err = 0;
	if (!o->cmd)
		return NULL;
	w = calloc(1, sizeof(*w));
	if (!w) {
		*err = p_err(ctx, -ENOMEM, "out of memory");
		return NULL;
	}
	*err = xs_uspi_open(ctx, nl, w, o->underlay, o->cmd, o->interval_ms);
	if (*err) {
		free(w);
		return NULL;
	}
	w->report = uspi_print;
	w->arg = ctx;
	return w;
}

static void uspi_resync(struct xs_uspi_watch *w, bool *gone)
{
	int err;

	if (!w)
		return;
	err = xs_uspi_refresh(w);
	if (err == -ENOENT && !*gone)
		fprintf(stderr,
			"daemon: warning: underlay \"%s\" detached, no unknown-SPI events until it is attached again\n",
			w->dev);
	*gone = err == -ENOENT;
}

static void uspi_stop(struct xs_uspi_watch *w)
{
	if (!w)
		return;
	xs_uspi_close(w);
	free(w);
}

/* "daemon status dev NAME": the IKE ranges in force and what the last
 * reconcile made of them (routes held, selectors refused). */
static int daemon_status(struct xs_ctx *ctx, int argc, char **argv)
{
	struct ike_range_value v[XS_IKE_RANGES_MAX];
	const char *dev = NULL;
	json_object *arr;
	struct xs_state st;
	size_t k;
	int err;

	while (argc > 0) {
		if (matches(argv[0], "dev")) {
			NEXT_ARG_VALUE(ctx);
			dev = argv[0];
		} else {
			return p_err(ctx, -EINVAL, "daemon status: unknown argument \"%s\"", argv[0]);
		}
		NEXT_ARG();
	}
	if (!dev)
		return p_err(ctx, -EINVAL, "daemon status: needs \"dev NAME\"");
	err = xs_state_open(ctx, dev, XS_LOCK_SHARED, &st);
	if (err)
		return err;
	xs_ike_ranges_get(&st, v);
	xs_state_close(&st);
	arr = json_object_new_array();
	for (k = 0; k < XS_IKE_RANGES_MAX; k++) {
		json_object *o;

		if (!v[k].used)
			continue;
		if (!ctx->json) {
			printf("ike if_ids %u-%u tenant %u: %u routes, %u problems (at %llu)\n",
			       v[k].lo, v[k].hi, v[k].tenant, v[k].routes, v[k].problems,
			       (unsigned long long)v[k].at);
			continue;
		}
		o = json_object_new_object();
		json_object_object_add(o, "dev", json_object_new_string(dev));
		json_object_object_add(o, "lo", json_object_new_int64(v[k].lo));
		json_object_object_add(o, "hi", json_object_new_int64(v[k].hi));
		json_object_object_add(o, "tenant", json_object_new_int64(v[k].tenant));
		json_object_object_add(o, "routes", json_object_new_int64(v[k].routes));
		json_object_object_add(o, "problems", json_object_new_int64(v[k].problems));
		json_object_object_add(o, "at", json_object_new_uint64(v[k].at));
		json_object_array_add(arr, o);
	}
	if (ctx->json)
		print_json(ctx, arr);
	json_object_put(arr);
	return 0;
}

int do_daemon(struct xs_ctx *ctx, int argc, char **argv)
{
	struct uspi_opts uo = { .interval_ms = XS_USPI_DEFAULT_INTERVAL_MS };
	struct xs_uspi_watch *uspi = NULL;
	bool uspi_gone = false;
	const char *dev = NULL;
	struct ike_opts ike = { 0 };
	struct xs_ike_burst burst = { 0 };
	struct mnl_socket *ev, *lev = NULL;
	struct xs_nl nl;
	long long next, settle = 0;
	char buf[MNL_SOCKET_BUFFER_SIZE];
	int err;

	while (argc > 0) {
		if (!strcmp(argv[0], "help"))
			return daemon_help(ctx);
		if (!strcmp(argv[0], "status"))
			return daemon_status(ctx, argc - 1, argv + 1);
		if (matches(argv[0], "dev")) {
			NEXT_ARG_VALUE(ctx);
			dev = argv[0];
		} else if (!strcmp(argv[0], "ike")) {
			int used = 1;

			err = parse_ike(ctx, argc, argv, &ike, &used);
			if (err)
				return err;
			argc -= used - 1;
			argv += used - 1;
		} else {
			err = parse_uspi(ctx, &argc, &argv, &uo);
			if (err > 0)
				return p_err(ctx, -EINVAL, "daemon: unknown argument \"%s\"",
					     argv[0]);
			if (err)
				return err;
		}
		NEXT_ARG();
	}
	err = check_uspi(ctx, &uo);
	if (err)
		return err;
	if (ike.n && !dev)
		return p_err(ctx, -EINVAL, "daemon: \"ike\" needs \"dev NAME\" (the device its routes are on)");
	if (ike.n) {
		err = xs_ike_ranges_install(ctx, dev, ike.r, ike.n);
		if (err)
			return err;
	}
	/* Subscribe before the first dump: a change between the two is then
	 * seen as a message, never lost. */
	ev = mnl_socket_open2(NETLINK_XFRM, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (!ev)
		return p_err(ctx, -errno, "cannot open netlink socket: %s", strerror(errno));
	/* Policies too when routes follow them. */
	if (mnl_socket_bind(ev,
			    (1u << (XFRMNLGRP_SA - 1)) | (1u << (XFRMNLGRP_EXPIRE - 1)) |
				    (ike.n ? 1u << (XFRMNLGRP_POLICY - 1) : 0),
			    MNL_SOCKET_AUTOPID) < 0) {
		err = p_err(ctx, -errno, "cannot subscribe to SA events: %s", strerror(errno));
		mnl_socket_close(ev);
		return err;
	}
	/* ike: link events, to set an IKE daemon's device down as soon as
	 * it is brought up (pluto does on a rekey, without updown). */
	if (ike.n) {
		lev = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (!lev || mnl_socket_bind(lev, RTMGRP_LINK, MNL_SOCKET_AUTOPID) < 0) {
			err = p_err(ctx, -errno, "cannot subscribe to link events: %s",
				    strerror(errno));
			if (lev)
				mnl_socket_close(lev);
			mnl_socket_close(ev);
			return err;
		}
	}
	err = xs_nl_open(ctx, &nl, NETLINK_XFRM);
	if (err)
		goto out_ev;
	uspi = uspi_start(ctx, &nl, &uo, &err);
	if (err) {
		xs_nl_close(&nl);
		goto out_ev;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	/* One device: its maps stay open between passes (an ELF parse and a
	 * syscall per map each time otherwise: under a slow CPU more than
	 * the overlap of a make-before-break reauthentication lasts). The
	 * cache checks the pins at each open; a re-attach opens them anew. */
	if (dev)
		ctx->state_cache = xs_state_cache_new();
	if (ike.n)
		ike_pins_changed(ctx, dev, &ike);
	err = sync_once(ctx, &nl, dev, &ike);
	if (err)
		goto out;
	next = now_ms() + RESYNC_MS;
	ike.pin_check = now_ms() + PIN_CHECK_MS;
	while (!stop) {
		struct pollfd p[3] = { { .fd = mnl_socket_get_fd(ev), .events = POLLIN },
				       { .fd = uspi ? xs_uspi_fd(uspi) : -1, .events = POLLIN },
				       { .fd = lev ? mnl_socket_get_fd(lev) : -1, .events = POLLIN } };
		long long t = now_ms(), until = settle && settle < next ? settle : next;
		bool got = false, link_got = false;
		int n;

		if (ike.n && ike.pin_check < until)
			until = ike.pin_check;

		n = poll(p, 3, until > t ? (int)(until - t) : 0);
		if (n < 0 && errno != EINTR) {
			err = p_err(ctx, -errno, "poll: %s", strerror(errno));
			break;
		}
		if (uspi && xs_uspi_poll(uspi))
			fprintf(stderr, "daemon: reading unknown-SPI events failed, retrying\n");
		/* Drain: one dump answers any number of messages. */
		got = drain(ev, buf, sizeof(buf), &ike, &burst);
		if (got) {
			/* An IKE daemon installs a CHILD_SA as a burst of
			 * messages a few ms apart (SAs, then policies): one
			 * full pass after the burst rather than one on its
			 * first SA, which sees half a CHILD_SA and delays
			 * the pass that counts by its own length (tens of
			 * ms on a slow CPU: longer than a reauthentication's
			 * overlap may last); quick passes meanwhile. */
			struct pollfd q = { .fd = mnl_socket_get_fd(ev), .events = POLLIN };
			long long end = now_ms() + BURST_MAX_MS;

			ike_quick(ctx, dev, &ike, &burst);
			while (now_ms() < end && poll(&q, 1, BURST_QUIET_MS) > 0 &&
			       drain(ev, buf, sizeof(buf), &ike, &burst))
				ike_quick(ctx, dev, &ike, &burst);
		}
		while (lev) {
			ssize_t r = mnl_socket_recvfrom(lev, buf, sizeof(buf));

			if (r > 0 || (r < 0 && errno == ENOBUFS)) {
				link_got = true;
				continue;
			}
			break;
		}
		if (link_got && ike_devs(ctx, dev, &ike))
			fprintf(stderr, "daemon: cannot set a device down, retrying\n");
		t = now_ms();
		if (ike.n && t >= ike.pin_check) {
			ike.pin_check = t + PIN_CHECK_MS;
			got = ike_pins_changed(ctx, dev, &ike) || got;
		}
		if (!got && t < next && !(settle && t >= settle))
			continue;
		settle = got ? t + SETTLE_MS : 0;
		next = t + RESYNC_MS;
		xs_ike_burst_reset(&burst);
		err = sync_once(ctx, &nl, dev, &ike);
		if (err)
			fprintf(stderr, "daemon: sync failed, retrying\n");
		uspi_resync(uspi, &uspi_gone);
		err = 0;
	}
out:
	uspi_stop(uspi);
	xs_nl_close(&nl);
	xs_state_cache_free(ctx->state_cache);
	ctx->state_cache = NULL;
out_ev:
	if (lev)
		mnl_socket_close(lev);
	mnl_socket_close(ev);
	while (ike.nlast)
		free(ike.last[--ike.nlast]);
	free(ike.last);
	free(ike.pols);
	free(ike.ids);
	if (ike.local)
		freeifaddrs(ike.local);
	xs_ike_burst_free(&burst);
	return err;
}

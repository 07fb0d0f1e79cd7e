// SPDX-License-Identifier: GPL-2.0
/*
 * Egress steering cost per packet, measured with BPF_PROG_TEST_RUN on the
 * running kernel: xs_egress against two reference programs (bench_ref.bpf.c),
 * for 1, 1,000 and 100,000 routes, IPv4 and IPv6, a routed and an unrouted
 * destination. Prints a Markdown table and writes the same data as JSON.
 *
 *   bench_egress [JSON_PATH]      default build/bench/results.json
 *
 * Also (BENCH_PARTS, default "egress churn memory", selects): the cost per
 * packet over 10,000 destinations at 100,000 routes while unrelated routes
 * change, a tenant's hit rate while another scans (churn), and the kernel
 * memory of an attached device by size (memory).
 *
 * Environment: BENCH_REPEAT (packets per test run, default 2000000),
 * BENCH_RUNS (test runs per figure, default 5), BENCH_SAMPLES (single-packet
 * runs per cold-cache figure, default 1000), BENCH_CPU (CPU to pin to,
 * default the last one), BENCH_CHURN_PACKETS (packets per churn figure and
 * program, default 200000).
 *
 * What is compared: "marginal" cost = program - ref_empty, i.e. what the
 * program adds to the test-run loop itself; the target is that steering with
 * xs_egress costs at most 1.5 times one hash lookup (ref_hash) at 100,000
 * routes.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "xfrm_steer.h"
#include "xfrm_steer.skel.h"
#include "bench_ref.skel.h"

#define TARGET_RATIO 1.5
#define TARGET_ROUTES 100000
#define MAX_RUNS 15
#define NTUNNELS 64
/* Headroom over the number of entries in the cache and in ref_hash's map:
 * keeps the LRU from evicting while it is being filled (its free nodes are
 * handed to CPUs in batches), and gives both maps the same bucket count. */
#define CACHE_HEADROOM 1024

static const uint32_t route_counts[] = { 1, 1000, 100000 };

enum family { V4, V6, NFAMILIES };
static const char *const family_name[] = { "IPv4", "IPv6" };
static const char *const family_json[] = { "ipv4", "ipv6" };

/* What a figure is made of; see measure() and measure_cold(). */
enum kase { HIT, HIT_COLD, MISS, NCASES };
static const char *const case_name[] = { "hit", "hit, cold cache", "miss" };
static const char *const case_json[] = { "hit", "hit_cold", "miss" };

/* ns per packet over the runs of one figure. */
struct stat3 {
	double median, min, max;
};

struct row {
	enum family fam;
	uint32_t routes;
	enum kase kase;
	struct stat3 xs, empty, hash;
	double marg_xs, marg_hash, ratio;
};

struct bench {
	uint32_t repeat, runs, samples;
	int cpu;
	bool kfunc_seen_ok, kfunc_seen_missing;
	struct row rows[NFAMILIES * 3 * NCASES];
	int nrows;
};

/* A prefix or a full address: plen bits of addr count, the rest are 0. */
struct pfx {
	uint8_t plen;
	uint8_t addr[16];
};

/* Open-addressing set of struct pfx, so that generated routes and cache keys
 * are distinct: a duplicate would quietly shrink the table being measured. */
struct pfx_set {
	struct pfx *v;
	uint32_t n, cap;
	int32_t *slot;
	uint32_t nslots;
};

static uint64_t rng_state;

/* splitmix64: small, fast, and the same sequence everywhere for one seed. */
static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void rnd_bytes(uint8_t *b, size_t n)
{
	while (n) {
		uint64_t r = rnd();
		size_t k = n < 8 ? n : 8;

		memcpy(b, &r, k);
		b += k;
		n -= k;
	}
}

static void die(const char *what)
{
	fprintf(stderr, "bench_egress: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Byte i of the netmask of a /plen. */
static uint8_t mask_byte(int plen, int i)
{
	int bits = plen - i * 8;

	return bits >= 8 ? 0xff : bits <= 0 ? 0 : (uint8_t)(0xff << (8 - bits));
}

static void mask_to(struct pfx *p, const uint8_t *addr, uint8_t plen)
{
	int i;

	memset(p, 0, sizeof(*p));
	p->plen = plen;
	for (i = 0; i < 16; i++)
		p->addr[i] = addr[i] & mask_byte(plen, i);
}

static uint32_t pfx_hash(const struct pfx *p)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < sizeof(*p); i++)
		h = (h ^ ((const uint8_t *)p)[i]) * 0x100000001b3ULL;
	return (uint32_t)(h ^ (h >> 32));
}

static void set_init(struct pfx_set *s, uint32_t cap)
{
	s->cap = cap;
	s->n = 0;
	for (s->nslots = 1024; s->nslots < cap * 2; s->nslots *= 2)
		;
	s->v = calloc(cap, sizeof(*s->v));
	s->slot = malloc(s->nslots * sizeof(*s->slot));
	if (!s->v || !s->slot)
		die("malloc");
	memset(s->slot, 0xff, s->nslots * sizeof(*s->slot));
}

static void set_free(struct pfx_set *s)
{
	free(s->v);
	free(s->slot);
}

static bool set_has(const struct pfx_set *s, const struct pfx *p)
{
	uint32_t i = pfx_hash(p) & (s->nslots - 1);

	for (; s->slot[i] >= 0; i = (i + 1) & (s->nslots - 1))
		if (!memcmp(&s->v[s->slot[i]], p, sizeof(*p)))
			return true;
	return false;
}

/* Adds p unless present or full; true if added. */
static bool set_add(struct pfx_set *s, const struct pfx *p)
{
	uint32_t i = pfx_hash(p) & (s->nslots - 1);

	if (s->n == s->cap)
		return false;
	for (; s->slot[i] >= 0; i = (i + 1) & (s->nslots - 1))
		if (!memcmp(&s->v[s->slot[i]], p, sizeof(*p)))
			return false;
	s->v[s->n] = *p;
	s->slot[i] = (int32_t)s->n++;
	return true;
}

static int addr_len(enum family f)
{
	return f == V4 ? 4 : 16;
}

/* Route prefix lengths: a spread from aggregates to hosts. */
static uint8_t plen_min(enum family f)
{
	return f == V4 ? 16 : 32;
}

static uint8_t plen_max(enum family f)
{
	return f == V4 ? 32 : 128;
}

static void rnd_addr(enum family f, uint8_t *a)
{
	memset(a, 0, 16);
	rnd_bytes(a, addr_len(f));
	/* IPv6 from global unicast (2000::/3): never ff00::/8 or fe80::/10,
	 * which xs_egress counts apart on a miss. */
	if (f == V6)
		a[0] = 0x20 | (a[0] & 0x1f);
}

/* The longest route covering addr, or -1: what the LPM trie must answer. */
static int covering_plen(enum family f, const struct pfx_set *routes, const uint8_t *addr)
{
	struct pfx p;
	int l;

	for (l = plen_max(f); l >= plen_min(f); l--) {
		mask_to(&p, addr, (uint8_t)l);
		if (set_has(routes, &p))
			return l;
	}
	return -1;
}

struct scenario {
	enum family fam;
	uint32_t n;
	struct pfx_set routes; /* what goes into routes_v4/v6 */
	struct pfx_set keys; /* cache and ref_hash keys: [0] dst_hit, [1] dst_miss
			      * (in neither map), then the others */
	uint8_t dst_hit[16], dst_miss[16];
};

/* N distinct random prefixes of mixed lengths; the hit destination lies in
 * the first one, the miss destination in none. Then as many distinct
 * destinations again for the hash maps, so that the cache and ref_hash hold
 * N entries each, the hit destination's included. */
static void make_scenario(struct scenario *sc, enum family f, uint32_t n)
{
	uint32_t span = plen_max(f) - plen_min(f) + 1;
	const struct pfx *r0;
	uint8_t a[16];
	struct pfx p;
	int i;

	sc->fam = f;
	sc->n = n;
	rng_state = 0x78667331ULL * (f + 1) + n; /* per scenario, reproducible */
	set_init(&sc->routes, n);
	while (sc->routes.n < n) {
		rnd_addr(f, a);
		mask_to(&p, a, (uint8_t)(plen_min(f) + rnd() % span));
		set_add(&sc->routes, &p);
	}

	/* The first prefix's bits, random host bits after them. */
	r0 = &sc->routes.v[0];
	rnd_addr(f, a);
	for (i = 0; i < 16; i++)
		sc->dst_hit[i] = r0->addr[i] | (a[i] & (uint8_t)~mask_byte(r0->plen, i));
	do
		rnd_addr(f, sc->dst_miss);
	while (covering_plen(f, &sc->routes, sc->dst_miss) >= 0);

	set_init(&sc->keys, n + 2);
	mask_to(&p, sc->dst_hit, plen_max(f));
	set_add(&sc->keys, &p);
	mask_to(&p, sc->dst_miss, plen_max(f));
	set_add(&sc->keys, &p);
	while (sc->keys.n < n + 1) {
		rnd_addr(f, a);
		mask_to(&p, a, plen_max(f));
		set_add(&sc->keys, &p);
	}
}

static void free_scenario(struct scenario *sc)
{
	set_free(&sc->routes);
	set_free(&sc->keys);
}

struct pkt {
	uint8_t buf[128];
	uint32_t len;
};

static void build_pkt(struct pkt *p, enum family f, const uint8_t *dst)
{
	struct ethhdr *eth = (struct ethhdr *)p->buf;

	memset(p, 0, sizeof(*p));
	if (f == V4) {
		struct iphdr *iph = (struct iphdr *)(eth + 1);

		eth->h_proto = htons(ETH_P_IP);
		iph->version = 4;
		iph->ihl = 5;
		iph->ttl = 64;
		iph->protocol = IPPROTO_UDP;
		iph->tot_len = htons(sizeof(*iph) + 64);
		inet_pton(AF_INET, "192.0.2.1", &iph->saddr);
		memcpy(&iph->daddr, dst, 4);
		p->len = sizeof(*eth) + sizeof(*iph) + 64;
	} else {
		struct ipv6hdr *ip6h = (struct ipv6hdr *)(eth + 1);

		eth->h_proto = htons(ETH_P_IPV6);
		ip6h->version = 6;
		ip6h->nexthdr = IPPROTO_UDP;
		ip6h->hop_limit = 64;
		ip6h->payload_len = htons(64);
		inet_pton(AF_INET6, "2001:db8::1", &ip6h->saddr);
		memcpy(&ip6h->daddr, dst, 16);
		p->len = sizeof(*eth) + sizeof(*ip6h) + 64;
	}
}

/* One test run; returns the kernel's average ns per repetition. */
static uint32_t test_run(int prog_fd, const struct pkt *p, uint32_t repeat, uint32_t *retval)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = p->buf, .data_size_in = p->len,
		    .repeat = (int)repeat);

	if (bpf_prog_test_run_opts(prog_fd, &opts))
		die("BPF_PROG_TEST_RUN");
	if (retval)
		*retval = opts.retval;
	return opts.duration;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static struct stat3 summarise(double *v, uint32_t n)
{
	struct stat3 s;

	qsort(v, n, sizeof(*v), cmp_double);
	s.median = v[n / 2];
	s.min = v[0];
	s.max = v[n - 1];
	return s;
}

/* Steady state: runs test runs of repeat packets each, after one short run
 * that brings code and data into the caches. */
static struct stat3 measure(const struct bench *b, int prog_fd, const struct pkt *p,
			    uint32_t want_ret)
{
	double ns[MAX_RUNS];
	uint32_t ret, i;

	test_run(prog_fd, p, b->repeat / 20 + 1, &ret);
	for (i = 0; i < b->runs; i++) {
		ns[i] = test_run(prog_fd, p, b->repeat, &ret);
		if (ret != want_ret) {
			fprintf(stderr, "bench_egress: unexpected verdict %u (want %u)\n", ret,
				want_ret);
			exit(1);
		}
	}
	return summarise(ns, b->runs);
}

/* First packet after a route change: before every single-packet run the
 * route generation moves on, as `route add` does, so xs_egress finds its
 * cached decision stale, walks the trie and rewrites the cache entry. A
 * test run with a large repeat would miss the cache on its first packet
 * only, hence single packets; their per-run overhead (a clock read) is in
 * ref_empty measured the same way and cancels in the marginal cost.
 * A single packet's duration is one clock difference, which moves in steps
 * of about 10 ns on some machines (this one): each run is therefore the mean
 * of the middle half of samples packets, which resolves below a step where
 * the median would not, and ignores interrupts and the like. */
static struct stat3 measure_cold(const struct bench *b, int prog_fd, const struct pkt *p,
				 __u64 *gen)
{
	uint32_t *ns = calloc(b->samples, sizeof(*ns)), r, i, lo, hi;
	double iqm[MAX_RUNS], sum;

	if (!ns)
		die("malloc");
	for (r = 0; r < b->runs; r++) {
		for (i = 0; i < b->samples; i++) {
			/* Also for the reference programs, so that all three
			 * see the same sequence of events. */
			__atomic_add_fetch(gen, 1, __ATOMIC_SEQ_CST);
			ns[i] = test_run(prog_fd, p, 1, NULL);
		}
		qsort(ns, b->samples, sizeof(*ns), cmp_u32);
		lo = b->samples / 4;
		hi = b->samples - b->samples / 4;
		for (sum = 0, i = lo; i < hi; i++)
			sum += ns[i];
		iqm[r] = sum / (hi - lo);
	}
	free(ns);
	return summarise(iqm, b->runs);
}

static uint64_t drop_count(struct xfrm_steer *skel, uint32_t reason)
{
	int ncpu = libbpf_num_possible_cpus(), c;
	uint64_t sum = 0, *vals = calloc(ncpu, sizeof(*vals));

	if (!vals)
		die("malloc");
	if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.drop_stats), &reason, vals))
		die("drop_stats lookup");
	for (c = 0; c < ncpu; c++)
		sum += vals[c];
	free(vals);
	return sum;
}

static void fill_key(enum family f, void *key, const uint8_t *addr)
{
	if (f == V4) {
		struct cache_key_v4 *k = key;

		k->tenant = 0;
		memcpy(&k->addr, addr, 4);
	} else {
		struct cache_key_v6 *k = key;

		k->tenant = 0;
		memcpy(k->addr, addr, 16);
	}
}

/* The key's part of a cache entry's seal, as the programs compute it. */
static __u64 cache_seal(enum family f, const void *key, const struct cache_value *v)
{
	return f == V4 ? xs_cache_seal_v4(key, v) : xs_cache_seal_v6(key, v);
}

static void *map_mmap(struct bpf_map *map)
{
	size_t len = (size_t)bpf_map__max_entries(map) * bpf_map__value_size(map);
	void *mm = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(map), 0);

	if (mm == MAP_FAILED)
		die("mmap");
	return mm;
}

/* The generation every decision of tenant 0 of family f checks: its tenant
 * slot, which a route change wider than the span moves. */
static __u64 *tenant_gen(__u64 *gens, enum family f, uint32_t fine)
{
	return &gens[xs_gen_tenant_slot(xs_gen_hash(0, f == V6), fine)];
}

/* Loads both objects sized for the scenario and fills routes, meta, cache
 * and ref_hash's map. Returns the mmapped route generations. */
static __u64 *load(const struct scenario *sc, struct xfrm_steer **xsp, struct bench_ref **refp)
{
	struct meta_value m = { .magic = XS_META_MAGIC, .version = 1, .route_gen = 1 };
	uint32_t cache_max = sc->n + CACHE_HEADROOM, zero = 0, i;
	struct bpf_map *cache, *ref_map;
	struct xfrm_steer *xs;
	struct bench_ref *ref;
	int rfd, cfd, hfd;
	uint32_t fine = XS_GEN_FINE_DEFAULT;
	__u64 *gens;

	xs = xfrm_steer__open();
	ref = bench_ref__open();
	if (!xs || !ref)
		die("open BPF objects");
	xs->rodata->cfg.tenant_mode = XS_TENANT_NONE;
	xs->rodata->l3_off = ETH_HLEN;
	ref->rodata->l3_off = ETH_HLEN;
	bpf_map__set_max_entries(xs->maps.routes_v4, sc->n + 16);
	bpf_map__set_max_entries(xs->maps.routes_v6, sc->n + 16);
	bpf_map__set_max_entries(xs->maps.tunnel_by_ifid, NTUNNELS);
	bpf_map__set_max_entries(xs->maps.tunnel_stats, NTUNNELS + 1);
	bpf_map__set_max_entries(xs->maps.secpath, 64);
	/* The cache and ref_hash's map: same entries, same bucket count, and
	 * both with hash seed 0, so that filled in the same order their
	 * bucket chains are the same and only the code around the lookup
	 * differs. The seed is the only thing changed in xs_egress's maps. */
	cache = sc->fam == V4 ? xs->maps.dcache_v4 : xs->maps.dcache_v6;
	ref_map = sc->fam == V4 ? ref->maps.ref_v4 : ref->maps.ref_v6;
	bpf_map__set_max_entries(xs->maps.dcache_v4, cache_max);
	bpf_map__set_max_entries(xs->maps.dcache_v6, cache_max);
	bpf_map__set_max_entries(ref->maps.ref_v4, cache_max);
	bpf_map__set_max_entries(ref->maps.ref_v6, cache_max);
	bpf_map__set_map_flags(cache, bpf_map__map_flags(cache) | BPF_F_ZERO_SEED);
	bpf_map__set_map_flags(ref_map, bpf_map__map_flags(ref_map) | BPF_F_ZERO_SEED);
	if (xfrm_steer__load(xs))
		die("load xfrm_steer.bpf.o");
	if (bench_ref__load(ref))
		die("load bench_ref.bpf.o");

	if (bpf_map_update_elem(bpf_map__fd(xs->maps.meta), &zero, &m, BPF_ANY))
		die("meta update");
	/* As the loader does: generations are bumped through a mapping. */
	gens = map_mmap(xs->maps.route_gens);

	rfd = bpf_map__fd(sc->fam == V4 ? xs->maps.routes_v4 : xs->maps.routes_v6);
	for (i = 0; i < sc->routes.n; i++) {
		const struct pfx *p = &sc->routes.v[i];
		struct route_value v = { .if_id = 1 + i % NTUNNELS,
					 .tunnel_idx = 1 + i % NTUNNELS };
		struct route_key_v6 k6 = { .prefixlen = 32 + p->plen };
		struct route_key_v4 k4 = { .prefixlen = 32 + p->plen };

		memcpy(&k4.addr, p->addr, 4);
		memcpy(k6.addr, p->addr, 16);
		if (bpf_map_update_elem(rfd, sc->fam == V4 ? (void *)&k4 : (void *)&k6, &v,
					BPF_NOEXIST))
			die("route update");
	}

	/* The others first, the hit destination last (keys.v[0]; v[1] is the
	 * miss destination, in neither map): in the cache xs_egress itself
	 * adds it, on the first packet, at the head of its bucket chain, so
	 * ref_hash gets it there too. */
	cfd = bpf_map__fd(cache);
	hfd = bpf_map__fd(ref_map);
	for (i = 2; i <= sc->keys.n; i++) {
		const struct pfx *p = &sc->keys.v[i == sc->keys.n ? 0 : i];
		struct cache_value v = { .route = { .if_id = 1, .tunnel_idx = 1 } };
		struct cache_key_v6 k;

		/* Made valid as xs_egress would make it. */
		v.fine = xs_gen_fine_slot(xs_gen_hash(0, sc->fam == V6),
					  sc->fam == V4 ? xs_gen_region_v4(*(__be32 *)p->addr) :
							  xs_gen_region_v6((const __be32 *)p->addr),
					  fine);
		v.tslot = xs_gen_tenant_slot(xs_gen_hash(0, sc->fam == V6), fine);
		fill_key(sc->fam, &k, p->addr);
		v.seal = xs_cache_seal_make(xs_cache_gens(gens[v.fine], gens[v.tslot]),
					    cache_seal(sc->fam, &k, &v));
		if (i < sc->keys.n && bpf_map_update_elem(cfd, &k, &v, BPF_NOEXIST))
			die("cache update");
		if (bpf_map_update_elem(hfd, &k, &v, BPF_NOEXIST))
			die("ref_hash update");
	}
	*xsp = xs;
	*refp = ref;
	return gens;
}

/* Whether the decision for addr (tenant tenant) is cached and current. */
static bool is_cached(enum family f, struct xfrm_steer *xs, const __u64 *gens, uint32_t tenant,
		      const uint8_t *addr)
{
	struct bpf_map *cache = f == V4 ? xs->maps.dcache_v4 : xs->maps.dcache_v6;
	struct cache_value v;
	struct cache_key_v6 k;

	fill_key(f, &k, addr);
	k.tenant = tenant; /* first in both key layouts */
	return !bpf_map_lookup_elem(bpf_map__fd(cache), &k, &v) &&
	       xs_cache_holds(&v, __atomic_load_n(&gens[v.fine], __ATOMIC_SEQ_CST),
			      __atomic_load_n(&gens[v.tslot], __ATOMIC_SEQ_CST), cache_seal(f, &k, &v));
}

/* Checks that the hit destination's decision is cached and current: the
 * cache-hit figures measured what they claim to. */
static void check_cached(const struct scenario *sc, struct xfrm_steer *xs, const __u64 *gens)
{
	if (!is_cached(sc->fam, xs, gens, 0, sc->dst_hit)) {
		fprintf(stderr, "bench_egress: destination not cached as expected\n");
		exit(1);
	}
}

static void add_row(struct bench *b, const struct scenario *sc, enum kase k, struct stat3 xs,
		    struct stat3 empty, struct stat3 hash)
{
	struct row *r = &b->rows[b->nrows++];

	r->fam = sc->fam;
	r->routes = sc->n;
	r->kase = k;
	r->xs = xs;
	r->empty = empty;
	r->hash = hash;
	r->marg_xs = xs.median - empty.median;
	r->marg_hash = hash.median - empty.median;
	r->ratio = r->marg_hash > 0 ? r->marg_xs / r->marg_hash : 0;
}

static void run_scenario(struct bench *b, enum family f, uint32_t n)
{
	struct stat3 xs_hit, xs_cold, xs_miss, empty, empty1, hash_hit, hash_hit1, hash_miss;
	uint64_t kfunc0, noroute0;
	__u64 *gens, *tgen;
	struct scenario sc;
	struct xfrm_steer *xs;
	struct bench_ref *ref;
	struct pkt hit, miss;
	int xfd, efd, hfd;
	uint32_t ret;

	make_scenario(&sc, f, n);
	gens = load(&sc, &xs, &ref);
	tgen = tenant_gen(gens, f, XS_GEN_FINE_DEFAULT);
	xfd = bpf_program__fd(xs->progs.xs_egress);
	efd = bpf_program__fd(ref->progs.ref_empty);
	hfd = bpf_program__fd(ref->progs.ref_hash);
	build_pkt(&hit, f, sc.dst_hit);
	build_pkt(&miss, f, sc.dst_miss);

	/* The first packet takes the trie and caches the decision; whether
	 * it then passes tells whether this kernel has the kfunc. */
	kfunc0 = drop_count(xs, XS_DROP_KFUNC);
	test_run(xfd, &hit, 1, &ret);
	if (ret == TC_ACT_OK)
		b->kfunc_seen_ok = true;
	else if (drop_count(xs, XS_DROP_KFUNC) == kfunc0 + 1)
		b->kfunc_seen_missing = true;
	else {
		fprintf(stderr, "bench_egress: routed packet dropped for another reason\n");
		exit(1);
	}
	check_cached(&sc, xs, gens);

	empty = measure(b, efd, &hit, TC_ACT_OK);
	xs_hit = measure(b, xfd, &hit, ret);
	check_cached(&sc, xs, gens);
	hash_hit = measure(b, hfd, &hit, TC_ACT_OK);

	noroute0 = drop_count(xs, XS_DROP_NO_ROUTE);
	xs_miss = measure(b, xfd, &miss, TC_ACT_SHOT);
	if (drop_count(xs, XS_DROP_NO_ROUTE) - noroute0 !=
	    (uint64_t)b->repeat * b->runs + b->repeat / 20 + 1) {
		fprintf(stderr, "bench_egress: miss did not take the no-route path\n");
		exit(1);
	}
	hash_miss = measure(b, hfd, &miss, TC_ACT_SHOT);

	/* Last, because rewriting the cache entry moves it in its chain. */
	empty1 = measure_cold(b, efd, &hit, tgen);
	hash_hit1 = measure_cold(b, hfd, &hit, tgen);
	kfunc0 = drop_count(xs, XS_DROP_KFUNC);
	xs_cold = measure_cold(b, xfd, &hit, tgen);
	check_cached(&sc, xs, gens);
	if (ret != TC_ACT_OK &&
	    drop_count(xs, XS_DROP_KFUNC) - kfunc0 != (uint64_t)b->runs * b->samples) {
		fprintf(stderr, "bench_egress: cold-cache packets not steered\n");
		exit(1);
	}

	add_row(b, &sc, HIT, xs_hit, empty, hash_hit);
	add_row(b, &sc, HIT_COLD, xs_cold, empty1, hash_hit1);
	add_row(b, &sc, MISS, xs_miss, empty, hash_miss);

	munmap(gens, (size_t)bpf_map__max_entries(xs->maps.route_gens) * sizeof(*gens));
	xfrm_steer__destroy(xs);
	bench_ref__destroy(ref);
	free_scenario(&sc);
}

static uint32_t env_u32(const char *name, uint32_t def, uint32_t lo, uint32_t hi);
static const char *thousands(char *buf, size_t len, uint32_t v);

/* ------------------------------------------------------------------------
 * churn: egress cost per packet while unrelated routes change, and a
 * tenant's hit rate while another scans. memory: what an attached device's
 * maps and programs cost the kernel.
 */
#define CHURN_ROUTES 100000
#define CHURN_DESTS 10000
#define CHURN_HOSTS 1000 /* host routes added and deleted in turn */
#define CHURN_TUNNELS 8192 /* sizes as "attach tunnels 8192": a 16,384-entry cache */
#define SCAN_DESTS 1000000
#define SCAN_OWN 1000 /* the scanned-for tenant's destinations */
#define SCAN_EVERY 10 /* one of its packets per this many of the scanner's */

static const uint32_t churn_rates[] = { 0, 10, 100, 1000 };
#define NRATES (sizeof(churn_rates) / sizeof(churn_rates[0]))

enum churn_mode { CH_REGION, CH_GLOBAL, NMODES };
static const char *const mode_json[] = { "region", "global" };

struct churn_fam {
	double empty[NMODES][NRATES], hash[NMODES][NRATES]; /* mean ns per packet */
	double xs[NMODES][NRATES];
	double achieved[NMODES][NRATES]; /* changes per second made */
};

struct scan_res {
	double hit_rate[2]; /* [0] budget off (as before), [1] budget on */
	uint32_t cache, budget;
};

#define NMEM 6
struct mem_row {
	const char *label;
	uint32_t tunnels, routes; /* filled */
	uint32_t opt_tunnels, opt_routes; /* attach options */
	bool legacy;
	uint64_t maps, progs;
};

struct churner {
	pthread_t th;
	int stop;
	uint32_t rate;
	enum churn_mode mode;
	enum family fam;
	int rfd, cpu;
	__u64 *gens;
	uint32_t fine;
	const struct pfx *hosts;
	bool added[CHURN_HOSTS];
	uint64_t done;
};

static void bump_all_tenants(__u64 *gens, uint32_t fine)
{
	uint32_t i;

	for (i = 0; i < XS_GEN_TENANT_SLOTS; i++)
		__atomic_add_fetch(&gens[fine + i], 1, __ATOMIC_RELEASE);
}

/* As the loader's xs_route_changed() (region) or as every change did
 * before (global: every decision of every tenant stale). */
static void churn_bump(struct churner *c, const struct pfx *p)
{
	uint32_t first, count, i;

	if (c->mode == CH_GLOBAL) {
		bump_all_tenants(c->gens, c->fine);
		return;
	}
	xs_gen_plan(c->fam == V6, 0, p->addr, p->plen, c->fine, &first, &count);
	if (!count)
		__atomic_add_fetch(&c->gens[first], 1, __ATOMIC_RELEASE);
	for (i = 0; i < count; i++)
		__atomic_add_fetch(&c->gens[(first + i) & (c->fine - 1)], 1, __ATOMIC_RELEASE);
}

static void *churn_main(void *arg)
{
	struct churner *c = arg;
	uint64_t period = 1000000000ull / c->rate;
	struct timespec next;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(c->cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
		uint32_t i = (uint32_t)(c->done % CHURN_HOSTS);
		const struct pfx *p = &c->hosts[i];
		struct route_key_v6 k6 = { .prefixlen = 32 + p->plen };
		struct route_key_v4 k4 = { .prefixlen = 32 + p->plen };
		struct route_value v = { .if_id = 7, .tunnel_idx = 7 };
		void *k = c->fam == V4 ? (void *)&k4 : (void *)&k6;

		next.tv_nsec += (long)period;
		while (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		memcpy(&k4.addr, p->addr, 4);
		memcpy(k6.addr, p->addr, 16);
		if (c->added[i] ? bpf_map_delete_elem(c->rfd, k) :
				  bpf_map_update_elem(c->rfd, k, &v, BPF_NOEXIST))
			die("churn route change");
		c->added[i] = !c->added[i];
		churn_bump(c, p);
		c->done++;
	}
	return NULL;
}

/* Mean ns per packet over n single-packet runs cycling through pkts. */
static double cycle_mean(int prog_fd, const struct pkt *pkts, uint32_t npkts, uint32_t n)
{
	uint64_t sum = 0;
	uint32_t i;

	for (i = 0; i < n; i++)
		sum += test_run(prog_fd, &pkts[i % npkts], 1, NULL);
	return (double)sum / n;
}

static void run_churn(enum family f, struct churn_fam *out, uint32_t packets, int other_cpu)
{
	uint32_t cache = xs_size_cache(CHURN_TUNNELS), fine = xs_size_gen_fine(cache), i, zero = 0;
	struct meta_value m = { .magic = XS_META_MAGIC, .version = 1, .route_gen = 1 };
	struct pfx_set dsts, hosts;
	struct scenario sc;
	struct pkt *pkts;
	struct xfrm_steer *xs;
	struct bench_ref *ref;
	int rfd, hfd, xfd, efd, href;
	__u64 *gens;
	size_t r, mo;

	/* Routes as the egress scenario makes them (not its keys). */
	make_scenario(&sc, f, CHURN_ROUTES);
	xs = xfrm_steer__open();
	ref = bench_ref__open();
	if (!xs || !ref)
		die("open BPF objects");
	xs->rodata->cfg.tenant_mode = XS_TENANT_NONE;
	xs->rodata->cfg.gen_fine_slots = fine;
	xs->rodata->l3_off = ETH_HLEN;
	ref->rodata->l3_off = ETH_HLEN;
	bpf_map__set_max_entries(xs->maps.routes_v4, CHURN_ROUTES + CHURN_HOSTS + 16);
	bpf_map__set_max_entries(xs->maps.routes_v6, CHURN_ROUTES + CHURN_HOSTS + 16);
	bpf_map__set_max_entries(xs->maps.tunnel_by_ifid, NTUNNELS);
	bpf_map__set_max_entries(xs->maps.tunnel_stats, NTUNNELS + 1);
	bpf_map__set_max_entries(xs->maps.secpath, 64);
	bpf_map__set_max_entries(xs->maps.dcache_v4, cache);
	bpf_map__set_max_entries(xs->maps.dcache_v6, cache);
	bpf_map__set_max_entries(xs->maps.route_gens, fine + XS_GEN_TENANT_SLOTS);
	bpf_map__set_max_entries(ref->maps.ref_v4, cache);
	bpf_map__set_max_entries(ref->maps.ref_v6, cache);
	if (xfrm_steer__load(xs) || bench_ref__load(ref))
		die("load BPF objects");
	if (bpf_map_update_elem(bpf_map__fd(xs->maps.meta), &zero, &m, BPF_ANY))
		die("meta update");
	gens = map_mmap(xs->maps.route_gens);
	rfd = bpf_map__fd(f == V4 ? xs->maps.routes_v4 : xs->maps.routes_v6);
	for (i = 0; i < sc.routes.n; i++) {
		const struct pfx *p = &sc.routes.v[i];
		struct route_value v = { .if_id = 1 + i % NTUNNELS, .tunnel_idx = 1 + i % NTUNNELS };
		struct route_key_v6 k6 = { .prefixlen = 32 + p->plen };
		struct route_key_v4 k4 = { .prefixlen = 32 + p->plen };

		memcpy(&k4.addr, p->addr, 4);
		memcpy(k6.addr, p->addr, 16);
		if (bpf_map_update_elem(rfd, f == V4 ? (void *)&k4 : (void *)&k6, &v, BPF_NOEXIST))
			die("route update");
	}

	/* Active destinations, each inside a route; host routes elsewhere
	 * (never one of the destinations: the changes are unrelated). */
	set_init(&dsts, CHURN_DESTS);
	pkts = calloc(CHURN_DESTS, sizeof(*pkts));
	if (!pkts)
		die("malloc");
	hfd = bpf_map__fd(f == V4 ? ref->maps.ref_v4 : ref->maps.ref_v6);
	while (dsts.n < CHURN_DESTS) {
		const struct pfx *rp = &sc.routes.v[rnd() % sc.routes.n];
		uint8_t a[16], d[16];
		struct cache_value v = { .route = { .if_id = 1, .tunnel_idx = 1 } };
		struct cache_key_v6 k;
		struct pfx p;
		int j;

		rnd_addr(f, a);
		for (j = 0; j < 16; j++)
			d[j] = rp->addr[j] | (a[j] & (uint8_t)~mask_byte(rp->plen, j));
		mask_to(&p, d, plen_max(f));
		if (!set_add(&dsts, &p))
			continue;
		build_pkt(&pkts[dsts.n - 1], f, p.addr);
		fill_key(f, &k, p.addr);
		if (bpf_map_update_elem(hfd, &k, &v, BPF_NOEXIST))
			die("ref_hash update");
	}
	set_init(&hosts, CHURN_HOSTS);
	while (hosts.n < CHURN_HOSTS) {
		uint8_t a[16];
		struct pfx p;

		rnd_addr(f, a);
		mask_to(&p, a, plen_max(f));
		if (!set_has(&dsts, &p) && !set_has(&sc.routes, &p))
			set_add(&hosts, &p);
	}

	xfd = bpf_program__fd(xs->progs.xs_egress);
	efd = bpf_program__fd(ref->progs.ref_empty);
	href = bpf_program__fd(ref->progs.ref_hash);
	for (mo = 0; mo < NMODES; mo++) {
		for (r = 0; r < NRATES; r++) {
			static struct churner c;
			struct timespec t0, t1;

			memset(&c, 0, sizeof(c));
			/* Every decision cached and current to start with. */
			cycle_mean(xfd, pkts, CHURN_DESTS, 2 * CHURN_DESTS);
			c.rate = churn_rates[r];
			c.mode = (enum churn_mode)mo;
			c.fam = f;
			c.rfd = rfd;
			c.cpu = other_cpu;
			c.gens = gens;
			c.fine = fine;
			c.hosts = hosts.v;
			clock_gettime(CLOCK_MONOTONIC, &t0);
			if (c.rate && pthread_create(&c.th, NULL, churn_main, &c))
				die("pthread_create");
			/* The three programs in turn, one pass over the
			 * destinations each, so that they share whatever else
			 * the machine does; the median pass of each. */
			{
				uint32_t nb = packets / CHURN_DESTS, bl;
				double *ve = calloc(nb, sizeof(double)), *vh = calloc(nb, sizeof(double)),
				       *vx = calloc(nb, sizeof(double));

				if (!ve || !vh || !vx)
					die("malloc");
				for (bl = 0; bl < nb; bl++) {
					ve[bl] = cycle_mean(efd, pkts, CHURN_DESTS, CHURN_DESTS);
					vh[bl] = cycle_mean(href, pkts, CHURN_DESTS, CHURN_DESTS);
					vx[bl] = cycle_mean(xfd, pkts, CHURN_DESTS, CHURN_DESTS);
				}
				out->empty[mo][r] = summarise(ve, nb).median;
				out->hash[mo][r] = summarise(vh, nb).median;
				out->xs[mo][r] = summarise(vx, nb).median;
				free(ve);
				free(vh);
				free(vx);
			}
			__atomic_store_n(&c.stop, 1, __ATOMIC_RELEASE);
			if (c.rate)
				pthread_join(c.th, NULL);
			clock_gettime(CLOCK_MONOTONIC, &t1);
			out->achieved[mo][r] = c.done / ((double)(t1.tv_sec - t0.tv_sec) +
							 (t1.tv_nsec - t0.tv_nsec) / 1e9);
			/* Leave the routes as they were. */
			for (i = 0; i < CHURN_HOSTS; i++) {
				const struct pfx *p = &hosts.v[i];
				struct route_key_v6 k6 = { .prefixlen = 32 + p->plen };
				struct route_key_v4 k4 = { .prefixlen = 32 + p->plen };

				memcpy(&k4.addr, p->addr, 4);
				memcpy(k6.addr, p->addr, 16);
				if (c.added[i])
					bpf_map_delete_elem(rfd, f == V4 ? (void *)&k4 : (void *)&k6);
			}
		}
	}
	free(pkts);
	set_free(&dsts);
	set_free(&hosts);
	munmap(gens, (size_t)(fine + XS_GEN_TENANT_SLOTS) * sizeof(*gens));
	xfrm_steer__destroy(xs);
	bench_ref__destroy(ref);
	free_scenario(&sc);
}

static uint32_t run_mark(int prog_fd, const struct pkt *p, uint32_t mark)
{
	struct __sk_buff ctx = { .mark = mark };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = p->buf, .data_size_in = p->len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1);

	if (bpf_prog_test_run_opts(prog_fd, &opts))
		die("BPF_PROG_TEST_RUN");
	return opts.retval;
}

/* Tenant A (mark 0x100) sends to SCAN_OWN destinations over and over;
 * tenant B (0x200) to SCAN_DESTS new ones, SCAN_EVERY of its packets for
 * each of A's. Sizes of a default attach (1,024 tunnels). Returns A's hit
 * rate: the share of its packets whose decision was cached. */
static double run_scan(bool budget, struct scan_res *res)
{
	uint32_t cache = xs_size_cache(XS_DEFAULT_TUNNELS), fine = xs_size_gen_fine(cache);
	struct route_value v1 = { .if_id = 1, .tunnel_idx = 1 }, v2 = { .if_id = 2, .tunnel_idx = 2 };
	struct route_key_v4 ka = { .prefixlen = 32 + 8, .tenant = 0x100 },
			    kb = { .prefixlen = 32, .tenant = 0x200 };
	static uint8_t own[SCAN_OWN][16];
	uint64_t hits = 0, total = 0;
	struct timespec t0, t1;
	struct xfrm_steer *xs;
	struct pkt p;
	uint32_t i, j, zero = 0, pass;
	struct meta_value m = { .magic = XS_META_MAGIC, .version = 1, .route_gen = 1 };
	__u64 *gens;
	int xfd;

	xs = xfrm_steer__open();
	if (!xs)
		die("open xfrm_steer");
	xs->rodata->cfg.tenant_mode = XS_TENANT_MARK;
	xs->rodata->cfg.mark_mask = 0xff00;
	xs->rodata->cfg.gen_fine_slots = fine;
	xs->rodata->cfg.cache_budget = budget ? cache / 4 : 0; /* as attach sets it */
	xs->rodata->l3_off = ETH_HLEN;
	bpf_map__set_max_entries(xs->maps.routes_v4, 16);
	bpf_map__set_max_entries(xs->maps.routes_v6, 16);
	bpf_map__set_max_entries(xs->maps.tunnel_by_ifid, NTUNNELS);
	bpf_map__set_max_entries(xs->maps.tunnel_stats, NTUNNELS + 1);
	bpf_map__set_max_entries(xs->maps.dcache_v4, cache);
	bpf_map__set_max_entries(xs->maps.dcache_v6, cache);
	bpf_map__set_max_entries(xs->maps.route_gens, fine + XS_GEN_TENANT_SLOTS);
	if (xfrm_steer__load(xs))
		die("load xfrm_steer.bpf.o");
	if (bpf_map_update_elem(bpf_map__fd(xs->maps.meta), &zero, &m, BPF_ANY))
		die("meta update");
	gens = map_mmap(xs->maps.route_gens);
	inet_pton(AF_INET, "10.0.0.0", &ka.addr);
	kb.addr = 0;
	if (bpf_map_update_elem(bpf_map__fd(xs->maps.routes_v4), &ka, &v1, BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(xs->maps.routes_v4), &kb, &v2, BPF_ANY))
		die("route update");
	xfd = bpf_program__fd(xs->progs.xs_egress);
	rng_state = 0x5ca11ed;
	for (i = 0; i < SCAN_OWN; i++) {
		uint32_t a = htonl(0x0a000000u | (uint32_t)((rnd() % 0xfffffe) + 1));

		memset(own[i], 0, 16);
		memcpy(own[i], &a, 4);
	}
	/* A's decisions cached first (its budget refills in a second). */
	for (pass = 0; pass < 50; pass++) {
		for (i = 0, j = 0; i < SCAN_OWN; i++) {
			if (is_cached(V4, xs, gens, 0x100, own[i]))
				continue;
			build_pkt(&p, V4, own[i]);
			run_mark(xfd, &p, 0x100);
			j++;
		}
		if (!j)
			break;
		usleep(100000);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < SCAN_DESTS; i++) {
		uint32_t a = htonl(0x64000000u + i); /* 100.0.0.0 onwards */
		uint8_t d[16] = { 0 };

		memcpy(d, &a, 4);
		build_pkt(&p, V4, d);
		run_mark(xfd, &p, 0x200);
		if (i % SCAN_EVERY != SCAN_EVERY - 1)
			continue;
		j = (i / SCAN_EVERY) % SCAN_OWN;
		hits += is_cached(V4, xs, gens, 0x100, own[j]);
		total++;
		build_pkt(&p, V4, own[j]);
		run_mark(xfd, &p, 0x100);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	res->cache = cache;
	res->budget = cache / 4;
	munmap(gens, (size_t)(fine + XS_GEN_TENANT_SLOTS) * sizeof(*gens));
	xfrm_steer__destroy(xs);
	(void)t1;
	return total ? (double)hits / total : 0;
}

/* memlock of a BPF object's fd, from /proc/self/fdinfo: what the kernel
 * charges for a map (its own accounting of its memory) or a program. */
static uint64_t fd_memlock(int fd)
{
	char path[64], line[256];
	unsigned long long v = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	fp = fopen(path, "r");
	if (!fp)
		die(path);
	while (fgets(line, sizeof(line), fp))
		if (sscanf(line, "memlock: %llu", &v) == 1)
			break;
	fclose(fp);
	return v;
}

/* Load the object sized as attach sizes it (loader/attach.c), fill the
 * tunnels and routes of the row, and add up what its maps and programs
 * cost. legacy: the sizes of the previous version's defaults instead. */
static void run_memory(struct mem_row *row)
{
	uint32_t t = row->opt_tunnels, cache = xs_size_cache(t), i;
	struct xfrm_steer *xs = xfrm_steer__open();
	struct bpf_map *map;
	struct bpf_program *prog;
	int ncpu = libbpf_num_possible_cpus();
	struct tunnel_stats *zero;

	if (!xs)
		die("open xfrm_steer");
	bpf_map__set_max_entries(xs->maps.routes_v4, row->opt_routes);
	bpf_map__set_max_entries(xs->maps.routes_v6, row->opt_routes);
	bpf_map__set_max_entries(xs->maps.tunnel_by_ifid, t);
	bpf_map__set_max_entries(xs->maps.tunnel_stats, t + 1);
	bpf_map__set_max_entries(xs->maps.tunnel_names, t);
	bpf_map__set_max_entries(xs->maps.apply_routes, row->opt_routes);
	if (row->legacy) {
		bpf_map__set_max_entries(xs->maps.dcache_v4, 65536);
		bpf_map__set_max_entries(xs->maps.dcache_v6, 65536);
		bpf_map__set_max_entries(xs->maps.route_gens, 1);
		bpf_map__set_max_entries(xs->maps.cache_budget, 1);
		bpf_map__set_max_entries(xs->maps.secpath, 65536);
		bpf_map__set_max_entries(xs->maps.event_rl, 4096);
	} else {
		bpf_map__set_max_entries(xs->maps.dcache_v4, cache);
		bpf_map__set_max_entries(xs->maps.dcache_v6, cache);
		bpf_map__set_max_entries(xs->maps.route_gens,
					 xs_size_gen_fine(cache) + XS_GEN_TENANT_SLOTS);
		bpf_map__set_max_entries(xs->maps.secpath, xs_size_secpath(t));
		bpf_map__set_max_entries(xs->maps.event_rl, xs_size_event_rl(t));
		xs->rodata->cfg.gen_fine_slots = xs_size_gen_fine(cache);
	}
	if (xfrm_steer__load(xs))
		die("load xfrm_steer.bpf.o");
	zero = calloc((size_t)ncpu, sizeof(*zero));
	if (!zero)
		die("malloc");
	for (i = 1; i <= row->tunnels; i++) {
		struct tunnel_value tv = xs_tunnel_value(i, i, 0);

		if (bpf_map_update_elem(bpf_map__fd(xs->maps.tunnel_by_ifid), &i, &tv, BPF_NOEXIST))
			die("tunnel update");
	}
	for (i = 0; i < row->routes; i++) {
		/* One /24 each, in 10.0.0.0/8 and onwards. */
		struct route_key_v4 k = { .prefixlen = 32 + 24, .addr = htonl(0x0a000000u + (i << 8)) };
		struct route_value v = { .if_id = 1 + i % (row->tunnels ? row->tunnels : 1),
					 .tunnel_idx = 1 };

		if (bpf_map_update_elem(bpf_map__fd(xs->maps.routes_v4), &k, &v, BPF_NOEXIST))
			die("route update");
	}
	free(zero);
	row->maps = 0;
	bpf_object__for_each_map(map, xs->obj) {
		row->maps += fd_memlock(bpf_map__fd(map));
		if (getenv("BENCH_MEM_DEBUG"))
			fprintf(stderr, "%s %s: %llu\n", row->label, bpf_map__name(map),
				(unsigned long long)fd_memlock(bpf_map__fd(map)));
	}
	row->progs = 0;
	bpf_object__for_each_program(prog, xs->obj)
		row->progs += fd_memlock(bpf_program__fd(prog));
	xfrm_steer__destroy(xs);
}

static void print_churn(const struct churn_fam *cf, const struct scan_res *sr, uint32_t packets)
{
	char rt[16];
	enum family f;
	size_t r;

	printf("\n## Egress under route churn (BPF_PROG_TEST_RUN, this kernel)\n\n");
	printf("%s routes, %s active destinations (each inside a route, cache of %u), "
	       "single packets cycling through them, mean ns per packet over %u; "
	       "meanwhile another thread adds and deletes host routes (/32, /128) at "
	       "random addresses, none of them a destination, at the given rate. "
	       "\"region\": this version (the change's region generation moves); "
	       "\"global\": every change makes every decision stale, as before. "
	       "The three programs take turns, a pass over the destinations each; "
	       "each figure is the median pass (mean ns per packet within it). "
	       "ref_hash: one hash lookup of the destination (a plain hash of the "
	       "same keys and size); ratio = (xs − empty) / (hash − empty), the "
	       "global column against its own run's hash.\n\n",
	       thousands(rt, sizeof(rt), CHURN_ROUTES), "10,000",
	       xs_size_cache(CHURN_TUNNELS), packets);
	printf("| family | changes/s | ref_empty | ref_hash | hash − empty | region: xs_egress "
	       "| xs − empty | ratio | global: xs_egress | xs − empty | ratio | ≤ %.1fx at 100/s |\n",
	       TARGET_RATIO);
	printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
	for (f = V4; f < NFAMILIES; f++) {
		const struct churn_fam *c = &cf[f];

		for (r = 0; r < NRATES; r++) {
			double mh = c->hash[CH_REGION][r] - c->empty[CH_REGION][r];
			double mhg = c->hash[CH_GLOBAL][r] - c->empty[CH_GLOBAL][r];
			double mr = c->xs[CH_REGION][r] - c->empty[CH_REGION][r];
			double mg = c->xs[CH_GLOBAL][r] - c->empty[CH_GLOBAL][r];

			printf("| %s | %u (%.0f) | %.0f | %.0f | %.0f | %.0f | %.0f | %.2fx | %.0f | "
			       "%.0f | %.2fx | %s |\n",
			       family_name[f], churn_rates[r], c->achieved[CH_REGION][r],
			       c->empty[CH_REGION][r], c->hash[CH_REGION][r], mh,
			       c->xs[CH_REGION][r], mr, mh > 0 ? mr / mh : 0, c->xs[CH_GLOBAL][r],
			       mg, mhg > 0 ? mg / mhg : 0,
			       churn_rates[r] == 100 ? (mh > 0 && mr / mh <= TARGET_RATIO ? "met" :
											    "not met") :
						       "");
		}
	}
	printf("\n(changes/s: asked for (made).)\n");
	printf("\n### A tenant's hit rate while another scans\n\n");
	printf("Tenant A (mark 0x100) sends to %u destinations in turn, tenant B (0x200) to "
	       "%s new ones, %u of B's packets per A's; cache of %u entries (a default "
	       "attach). Hit rate: share of A's packets whose decision was cached.\n\n",
	       SCAN_OWN, "1,000,000", SCAN_EVERY, sr->cache);
	printf("| cache admission | A's hit rate | > 99%% |\n|---|---:|---|\n");
	printf("| shared LRU, no budget (as before) | %.2f%% | %s |\n", 100 * sr->hit_rate[0],
	       sr->hit_rate[0] > 0.99 ? "met" : "not met");
	printf("| budget of %u new entries per tenant slot and second (this version) | "
	       "%.2f%% | %s |\n",
	       sr->budget, 100 * sr->hit_rate[1], sr->hit_rate[1] > 0.99 ? "met" : "not met");
	fflush(stdout);
}

static void print_memory(const struct mem_row *rows, int n, long ncpu)
{
	int i;

	printf("\n## Kernel memory of an attached device (this kernel, %ld possible CPUs)\n\n",
	       ncpu);
	printf("memlock of the device's maps and programs as the kernel accounts them "
	       "(/proc/self/fdinfo), sized as attach sizes them, with the tunnels and "
	       "routes filled in (one /24 route per row's route). Per-CPU maps "
	       "(counters, SPI table) grow with the CPU count.\n\n");
	printf("| device | attach options | maps MB | programs MB | total MB |\n");
	printf("|---|---|---:|---:|---:|\n");
	for (i = 0; i < n; i++) {
		const struct mem_row *r = &rows[i];
		char opts[64];

		if (r->legacy)
			snprintf(opts, sizeof(opts), "previous version's defaults");
		else if (r->opt_tunnels == XS_DEFAULT_TUNNELS && r->opt_routes == XS_DEFAULT_ROUTES)
			snprintf(opts, sizeof(opts), "defaults");
		else
			snprintf(opts, sizeof(opts), "routes %u tunnels %u", r->opt_routes,
				 r->opt_tunnels);
		printf("| %s | %s | %.2f | %.2f | %.2f |\n", r->label, opts, r->maps / 1048576.0,
		       r->progs / 1048576.0, (r->maps + r->progs) / 1048576.0);
	}
	fflush(stdout);
}

static void json_extra(FILE *f, const struct churn_fam *cf, const struct scan_res *sr,
		       uint32_t packets, const struct mem_row *rows, int n, long ncpu)
{
	enum family fam;
	size_t r, mo;
	int i;

	fprintf(f, "  \"churn\": {\"routes\": %u, \"destinations\": %u, \"cache\": %u, "
		   "\"packets\": %u, \"unit\": \"mean ns per packet\", \"target_ratio\": %.1f, "
		   "\"families\": [\n",
		CHURN_ROUTES, CHURN_DESTS, xs_size_cache(CHURN_TUNNELS), packets, TARGET_RATIO);
	for (fam = V4; fam < NFAMILIES; fam++) {
		const struct churn_fam *c = &cf[fam];

		fprintf(f, "    {\"family\": \"%s\", \"runs\": [\n", family_json[fam]);
		for (mo = 0; mo < NMODES; mo++)
			for (r = 0; r < NRATES; r++) {
				double mx = c->xs[mo][r] - c->empty[mo][r];
				double mh = c->hash[mo][r] - c->empty[mo][r];

				fprintf(f, "      {\"mode\": \"%s\", \"changes_per_s\": %u, "
					   "\"achieved_per_s\": %.1f, \"ref_empty\": %.1f, "
					   "\"ref_hash\": %.1f, \"xs_egress\": %.1f, "
					   "\"marginal_ref_hash\": %.1f, "
					   "\"marginal_xs_egress\": %.1f, \"ratio\": %.3f, "
					   "\"target\": %s}%s\n",
					mode_json[mo], churn_rates[r], c->achieved[mo][r],
					c->empty[mo][r], c->hash[mo][r], c->xs[mo][r], mh, mx,
					mh > 0 ? mx / mh : 0,
					mo == CH_REGION && churn_rates[r] == 100 ?
						(mh > 0 && mx / mh <= TARGET_RATIO ? "\"met\"" :
										     "\"not met\"") :
						"null",
					mo + 1 == NMODES && r + 1 == NRATES ? "" : ",");
			}
		fprintf(f, "    ]}%s\n", fam + 1 < NFAMILIES ? "," : "");
	}
	fprintf(f, "  ], \"scan\": {\"own_destinations\": %u, \"scanned\": %u, "
		   "\"scanner_packets_per_own\": %u, \"cache\": %u, \"budget_per_s\": %u, "
		   "\"hit_rate_no_budget\": %.5f, \"hit_rate_budget\": %.5f, \"target\": 0.99}},\n",
		SCAN_OWN, SCAN_DESTS, SCAN_EVERY, sr->cache, sr->budget, sr->hit_rate[0],
		sr->hit_rate[1]);
	fprintf(f, "  \"memory\": {\"unit\": \"bytes (memlock)\", \"possible_cpus\": %ld, "
		   "\"target_10_tunnels_default\": 2097152, \"rows\": [\n",
		ncpu);
	for (i = 0; i < n; i++)
		fprintf(f, "    {\"device\": \"%s\", \"tunnels\": %u, \"routes\": %u, "
			   "\"opt_tunnels\": %u, \"opt_routes\": %u, \"previous_defaults\": %s, "
			   "\"maps\": %llu, \"programs\": %llu, \"total\": %llu}%s\n",
			rows[i].label, rows[i].tunnels, rows[i].routes, rows[i].opt_tunnels,
			rows[i].opt_routes, rows[i].legacy ? "true" : "false",
			(unsigned long long)rows[i].maps, (unsigned long long)rows[i].progs,
			(unsigned long long)(rows[i].maps + rows[i].progs), i + 1 < n ? "," : "");
	fprintf(f, "  ]},\n");
}

static uint32_t env_u32(const char *name, uint32_t def, uint32_t lo, uint32_t hi)
{
	const char *s = getenv(name);
	char *end;
	unsigned long v;

	if (!s || !*s)
		return def;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < lo || v > hi) {
		fprintf(stderr, "bench_egress: %s must be a number from %u to %u\n", name, lo,
			hi);
		exit(2);
	}
	return (uint32_t)v;
}

static const char *target_word(const struct row *r)
{
	if (r->kase != HIT || r->routes != TARGET_ROUTES)
		return NULL;
	return r->ratio > 0 && r->ratio <= TARGET_RATIO ? "met" : "not met";
}

/* 100000 -> "100,000": route counts are read at a glance. */
static const char *thousands(char *buf, size_t len, uint32_t v)
{
	if (v >= 1000000)
		snprintf(buf, len, "%u,%03u,%03u", v / 1000000, v / 1000 % 1000, v % 1000);
	else if (v >= 1000)
		snprintf(buf, len, "%u,%03u", v / 1000, v % 1000);
	else
		snprintf(buf, len, "%u", v);
	return buf;
}

static void fmt_stat(char *buf, size_t len, struct stat3 s)
{
	snprintf(buf, len, "%.0f (%.0f–%.0f)", s.median, s.min, s.max);
}

static void print_table(const struct bench *b, const char *kernel, long ncpu)
{
	char tr[16], rt[16];
	int i;

	thousands(tr, sizeof(tr), TARGET_ROUTES);
	printf("## Egress steering per packet (BPF_PROG_TEST_RUN, kernel %s, %ld CPUs)\n\n",
	       kernel, ncpu);
	printf("ns per packet: median of %u runs (min–max); hit and miss runs of %u packets "
	       "each, cold-cache runs the mean of the middle half of %u single packets "
	       "each.\n\n",
	       b->runs, b->repeat, b->samples);
	printf("| family | routes | case | xs_egress | ref_empty | ref_hash "
	       "| xs − empty | hash − empty | ratio | ≤ %.1fx at %s routes |\n",
	       TARGET_RATIO, tr);
	printf("|---|---:|---|---:|---:|---:|---:|---:|---:|---|\n");
	for (i = 0; i < b->nrows; i++) {
		const struct row *r = &b->rows[i];
		const char *t = target_word(r);
		char xs[48], em[48], ha[48];

		fmt_stat(xs, sizeof(xs), r->xs);
		fmt_stat(em, sizeof(em), r->empty);
		fmt_stat(ha, sizeof(ha), r->hash);
		printf("| %s | %s | %s | %s | %s | %s | %.0f | %.0f | %.2fx | %s |\n",
		       family_name[r->fam], thousands(rt, sizeof(rt), r->routes),
		       case_name[r->kase], xs, em, ha,
		       r->marg_xs, r->marg_hash, r->ratio, t ? t : "");
	}
	printf("\n");
	printf("- hit: the destination is routed and its decision is in xs_egress's cache "
	       "(repeated packets to one destination); ref_hash finds its key.\n");
	printf("- hit, cold cache: the destination's route generation bumped before every "
	       "packet, as a route change covering it does: cache entry stale, LPM trie "
	       "lookup, cache rewrite; ref_hash still one lookup.\n");
	printf("- miss: no route: cache miss, trie miss, drop (no_route); ref_hash misses.\n");
	printf("- The cache and ref_hash's map hold the same keys (as many as routes) with "
	       "the same bucket count and hash seed 0.\n");
	if (b->kfunc_seen_missing)
		printf("- Note: this kernel has no bpf_skb_set_xfrm_info kfunc, so xs_egress's "
		       "hit paths end in its kfunc-missing drop (tunnel tx_dropped and "
		       "drop_stats[kfunc] increments, both per-CPU array slots) instead of "
		       "the kfunc call.\n");
	if (b->kfunc_seen_ok)
		printf("- The kfunc is present: hit paths include bpf_skb_set_xfrm_info.\n");
	printf("- Durations come from the kernel in whole ns per packet: hit and miss "
	       "figures are ±1 ns, and ratios of small differences carry that error. "
	       "Single-packet (cold-cache) figures include a clock read, the same in all "
	       "three programs.\n");
	for (i = 0; i < b->nrows; i++) {
		const struct row *r = &b->rows[i];
		const char *t = target_word(r);

		if (t)
			printf("\nTarget, %s: marginal xs_egress hit / marginal ref_hash = "
			       "%.2fx at %s routes (≤ %.1fx): %s.",
			       family_name[r->fam], r->ratio, tr, TARGET_RATIO, t);
	}
	printf("\n");
	fflush(stdout);
}

static void json_stat(FILE *f, const char *name, struct stat3 s)
{
	fprintf(f, "\"%s\": {\"median\": %.1f, \"min\": %.1f, \"max\": %.1f}", name,
		s.median, s.min, s.max);
}

/* mkdir -p for the directory part of path. */
static void make_dirs(const char *path)
{
	char *p = strdup(path), *s;

	if (!p)
		die("malloc");
	for (s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(p, 0755) && errno != EEXIST)
			die(p);
		*s = '/';
	}
	free(p);
}

/* ---- groups: a route to a group of tunnels against one to an if_id ---- */

/* The egress cost of a route to a 2- and to an 8-member group (flow hash,
 * weights, the down mask) against a route to one if_id: IPv4, warm
 * cache, one route each. */
struct group_fig {
	struct stat3 single, g2, g8;
};

static void group_put(struct xfrm_steer *xs, const char *net, uint32_t gid, uint32_t n)
{
	struct route_key_v4 k = { .prefixlen = 32 + 16 };
	struct route_value v = { .if_id = gid, .tunnel_idx = 0 };
	struct route_group g = { .n = n };
	uint32_t i;

	for (i = 0; i < n; i++) {
		g.nh[i].if_id = 30 + i;
		g.nh[i].tunnel_idx = 1 + i;
		g.nh[i].weight = 1;
	}
	inet_pton(AF_INET, net, &k.addr);
	if (n && bpf_map_update_elem(bpf_map__fd(xs->maps.route_groups), &gid, &g, BPF_ANY))
		die("group update");
	if (!n)
		v = (struct route_value){ .if_id = 5, .tunnel_idx = 5 };
	if (bpf_map_update_elem(bpf_map__fd(xs->maps.routes_v4), &k, &v, BPF_ANY))
		die("route update");
}

static struct stat3 group_measure(const struct bench *b, int fd, const char *dst)
{
	struct pkt p;
	uint8_t a[4];
	uint32_t ret;

	inet_pton(AF_INET, dst, a);
	build_pkt(&p, V4, a);
	test_run(fd, &p, 1, &ret);
	return measure(b, fd, &p, ret);
}

static void run_groups(const struct bench *b, struct group_fig *g)
{
	struct meta_value m = { .magic = XS_META_MAGIC, .version = 1, .route_gen = 1 };
	struct xfrm_steer *xs = xfrm_steer__open();
	uint32_t zero = 0;
	int fd;

	if (!xs)
		die("open BPF object");
	xs->rodata->cfg.tenant_mode = XS_TENANT_NONE;
	xs->rodata->l3_off = ETH_HLEN;
	bpf_map__set_max_entries(xs->maps.routes_v4, 16);
	bpf_map__set_max_entries(xs->maps.routes_v6, 16);
	bpf_map__set_max_entries(xs->maps.tunnel_by_ifid, NTUNNELS);
	bpf_map__set_max_entries(xs->maps.tunnel_stats, NTUNNELS + 1);
	bpf_map__set_max_entries(xs->maps.secpath, 64);
	if (xfrm_steer__load(xs))
		die("load xfrm_steer.bpf.o");
	if (bpf_map_update_elem(bpf_map__fd(xs->maps.meta), &zero, &m, BPF_ANY))
		die("meta update");
	group_put(xs, "10.8.0.0", 0, 0);
	group_put(xs, "10.9.0.0", 1, 2);
	group_put(xs, "10.7.0.0", 2, XS_GROUP_MAX);
	fd = bpf_program__fd(xs->progs.xs_egress);
	g->single = group_measure(b, fd, "10.8.1.1");
	g->g2 = group_measure(b, fd, "10.9.1.1");
	g->g8 = group_measure(b, fd, "10.7.1.1");
	xfrm_steer__destroy(xs);
}

static void print_groups(const struct group_fig *g)
{
	printf("\n### Egress with route groups (ns per packet, median (min-max) of the runs)\n\n");
	printf("| route to | ns | against one if_id |\n|---|---:|---:|\n");
	printf("| one if_id | %.1f (%.1f-%.1f) | 1.0x |\n", g->single.median, g->single.min,
	       g->single.max);
	printf("| a group of 2 | %.1f (%.1f-%.1f) | %.1fx |\n", g->g2.median, g->g2.min, g->g2.max,
	       g->g2.median / g->single.median);
	printf("| a group of %d | %.1f (%.1f-%.1f) | %.1fx |\n", XS_GROUP_MAX, g->g8.median,
	       g->g8.min, g->g8.max, g->g8.median / g->single.median);
}

struct extra {
	bool egress, churn, memory, groups;
	struct group_fig gf;
	uint32_t packets;
	struct churn_fam cf[NFAMILIES];
	struct scan_res sr;
	struct mem_row mem[NMEM];
};

static void write_json(const struct bench *b, const struct extra *x, const char *path,
		       const char *kernel, long ncpu)
{
	char date[32];
	time_t now = time(NULL);
	FILE *f;
	int i;

	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	make_dirs(path);
	f = fopen(path, "w");
	if (!f)
		die(path);
	fprintf(f, "{\n  \"date\": \"%s\",\n", date);
	fprintf(f, "  \"machine\": {\"kernel\": \"%s\", \"nproc\": %ld},\n", kernel, ncpu);
	fprintf(f, "  \"method\": {\"tool\": \"BPF_PROG_TEST_RUN\", \"repeat\": %u, \"runs\": %u, "
		   "\"cold_samples\": %u, \"cpu\": %d, \"unit\": \"ns per packet\"},\n",
		b->repeat, b->runs, b->samples, b->cpu);
	fprintf(f, "  \"kfunc_present\": %s,\n", b->kfunc_seen_missing ? "false" : "true");
	fprintf(f, "  \"target\": {\"max_ratio\": %.1f, \"routes\": %u, \"case\": \"hit\"},\n",
		TARGET_RATIO, TARGET_ROUTES);
	if (x->churn || x->memory)
		json_extra(f, x->cf, &x->sr, x->packets, x->mem, x->memory ? NMEM : 0, ncpu);
	if (x->groups)
		fprintf(f,
			"  \"groups\": {\"single\": %.1f, \"group_2\": %.1f, \"group_%d\": %.1f},\n",
			x->gf.single.median, x->gf.g2.median, XS_GROUP_MAX, x->gf.g8.median);
	fprintf(f, "  \"egress\": [\n");
	for (i = 0; i < b->nrows; i++) {
		const struct row *r = &b->rows[i];
		const char *t = target_word(r);

		fprintf(f, "    {\"family\": \"%s\", \"routes\": %u, \"case\": \"%s\", ",
			family_json[r->fam], r->routes, case_json[r->kase]);
		json_stat(f, "xs_egress", r->xs);
		fprintf(f, ", ");
		json_stat(f, "ref_empty", r->empty);
		fprintf(f, ", ");
		json_stat(f, "ref_hash", r->hash);
		fprintf(f, ", \"marginal_xs_egress\": %.1f, \"marginal_ref_hash\": %.1f, "
			   "\"ratio\": %.3f, \"target\": ",
			r->marg_xs, r->marg_hash, r->ratio);
		if (t)
			fprintf(f, "\"%s\"}", t);
		else
			fprintf(f, "null}");
		fprintf(f, "%s\n", i + 1 < b->nrows ? "," : "");
	}
	fprintf(f, "  ]\n}\n");
	if (fclose(f))
		die(path);
}

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

int main(int argc, char **argv)
{
	const char *json = argc > 1 ? argv[1] : "build/bench/results.json";
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	static struct bench b;
	static struct extra x;
	const char *parts;
	struct utsname u;
	cpu_set_t set;
	enum family f;
	size_t i;

	if (argc > 2) {
		fprintf(stderr, "usage: %s [JSON_PATH]\n", argv[0]);
		return 2;
	}
	b.repeat = env_u32("BENCH_REPEAT", 2000000, 1000, 1000000000);
	b.runs = env_u32("BENCH_RUNS", 5, 1, MAX_RUNS);
	b.samples = env_u32("BENCH_SAMPLES", 1000, 1, 1000000);
	b.cpu = (int)env_u32("BENCH_CPU", (uint32_t)(ncpu - 1), 0, (uint32_t)(ncpu - 1));
	uname(&u);
	libbpf_set_print(quiet);

	/* All runs on one CPU: the per-CPU counters and caches stay put, and
	 * the figures do not mix two cores' states. */
	CPU_ZERO(&set);
	CPU_SET(b.cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		die("sched_setaffinity");

	parts = getenv("BENCH_PARTS");
	if (!parts || !*parts)
		parts = "egress churn memory groups";
	x.egress = strstr(parts, "egress") != NULL;
	x.churn = strstr(parts, "churn") != NULL;
	x.memory = strstr(parts, "memory") != NULL;
	x.groups = strstr(parts, "groups") != NULL;
	x.packets = env_u32("BENCH_CHURN_PACKETS", 200000, 1000, 100000000);
	if (x.egress) {
		for (f = V4; f < NFAMILIES; f++)
			for (i = 0; i < sizeof(route_counts) / sizeof(route_counts[0]); i++)
				run_scenario(&b, f, route_counts[i]);
		print_table(&b, u.release, ncpu);
	}
	if (x.churn) {
		int other = b.cpu == 0 ? (ncpu > 1 ? 1 : 0) : 0;

		for (f = V4; f < NFAMILIES; f++)
			run_churn(f, &x.cf[f], x.packets, other);
		x.sr.hit_rate[0] = run_scan(false, &x.sr);
		x.sr.hit_rate[1] = run_scan(true, &x.sr);
		print_churn(x.cf, &x.sr, x.packets);
	}
	if (x.memory) {
		static const struct mem_row rows[NMEM] = {
			{ "10 tunnels, 10 routes", 10, 10, XS_DEFAULT_TUNNELS, XS_DEFAULT_ROUTES,
			  false, 0, 0 },
			{ "10 tunnels, 10 routes", 10, 10, 65536, 65536, true, 0, 0 },
			{ "1,000 tunnels, 1,000 routes", 1000, 1000, 1000, 1000, false, 0, 0 },
			{ "10,000 tunnels, 10,000 routes", 10000, 10000, 10000, 10000, false, 0, 0 },
			{ "1,000 tunnels, 100,000 routes", 1000, 100000, 1000, 100000, false, 0, 0 },
			{ "100,000 tunnels, 100,000 routes", 100000, 100000, 100000, 100000, false,
			  0, 0 },
		};

		for (i = 0; i < NMEM; i++) {
			x.mem[i] = rows[i];
			run_memory(&x.mem[i]);
		}
		print_memory(x.mem, NMEM, libbpf_num_possible_cpus());
	}
	if (x.groups) {
		run_groups(&b, &x.gf);
		print_groups(&x.gf);
	}
	write_json(&b, &x, json, u.release, ncpu);
	fprintf(stderr, "results: %s\n", json);
	return 0;
}

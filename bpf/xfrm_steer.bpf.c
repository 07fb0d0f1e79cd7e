// SPDX-License-Identifier: GPL-2.0
/*
 * xfrm-steer datapath: tc programs for an external (collect_md) xfrm
 * interface.
 *
 * Egress picks each packet's if_id, and so its tunnel, by longest-prefix
 * match on (tenant, destination) and hands it to the kernel with the
 * bpf_skb_set_xfrm_info kfunc. Nothing that matches no route leaves: the
 * interface has no if_id of its own, so an unsteered packet would have no SA.
 *
 * Ingress learns the if_id and the decrypting SA of every packet and keeps
 * per-tunnel and per-SPI counters.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "xfrm_steer.h"
#include "events.h"

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif

/* The kfuncs live in the xfrm_interface module (kernel 6.2+). Declared weak
 * so that the object also loads on kernels without them (BPF-only tests);
 * every call is guarded by bpf_ksym_exists(). libbpf matches the struct by
 * kind only, so this local definition stands in for the kernel's. */
struct bpf_xfrm_info {
	__u32 if_id;
	int link;
};

extern int bpf_skb_set_xfrm_info(struct __sk_buff *skb_ctx,
				 const struct bpf_xfrm_info *from) __ksym __weak;
extern int bpf_skb_get_xfrm_info(struct __sk_buff *skb_ctx,
				 struct bpf_xfrm_info *to) __ksym __weak;

/* The fields of the kernel's struct sk_buff that ingress reads to learn
 * how many bytes a packet really has (real_l3_len()). No vmlinux.h here:
 * CO-RE finds them in the running kernel's BTF wherever they are. The
 * kfunc (6.3+) turns the context into the sk_buff; the verifier replaces
 * the call with a register move. */
struct sk_buff {
	unsigned int len;
	__u16 network_header;
	unsigned char *head;
	unsigned char *data;
} __attribute__((preserve_access_index));

extern void *bpf_cast_to_kern_ctx(void *obj) __ksym __weak;

/* Set by the loader before load. l3_off is where the L3 header starts in
 * skb->data on egress: 0 on an xfrm interface (no link-layer header), 14 in
 * BPF_PROG_TEST_RUN, which always hands the program an Ethernet frame. */
const volatile struct xs_config cfg = { .gen_fine_slots = XS_GEN_FINE_DEFAULT };
const volatile __u32 l3_off = 0;
/* Flow hash of group routes: 0, the program's own hash of addresses,
 * protocol and ports (the default); 1, the kernel's skb hash through
 * bpf_get_hash_recalc (kept to measure one against the other: the unit
 * tests' figures are in the README). */
const volatile __u32 flow_hash_kernel = 0;

/* Routes, written by the loader (`route add`), read by egress. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct route_key_v4);
	__type(value, struct route_value);
	__uint(max_entries, XS_DEFAULT_ROUTES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} routes_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct route_key_v6);
	__type(value, struct route_value);
	__uint(max_entries, XS_DEFAULT_ROUTES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} routes_v6 SEC(".maps");

/* Route groups by index (struct route_group), written copy-on-write by the
 * loader, read by egress for routes whose tunnel_idx is 0. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct route_group);
	__uint(max_entries, XS_DEFAULT_GROUPS);
} route_groups SEC(".maps");

/* Health by tunnel slot (XS_HEALTH_*), written by the daemon and by
 * `route nexthop`; the programs do not read it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, XS_DEFAULT_TUNNELS + 1);
} tun_health SEC(".maps");

/* Per group, a bit per member that is down: what egress reads, one
 * lookup per packet whatever the group's size. Its writers derive it from
 * tun_health whenever either changes. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, XS_DEFAULT_GROUPS);
} group_down SEC(".maps");

/* Per-destination decisions, written on a trie lookup, valid while the two
 * route generations they name have not moved (include/xfrm_steer.h). Keeps
 * the hot path at one hash lookup and two array reads. Named apart from the
 * cache_v4/cache_v6 of earlier versions, whose entries had no slots: an
 * upgrade starts these empty and retires those. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct cache_key_v4);
	__type(value, struct cache_value);
	__uint(max_entries, XS_DEFAULT_CACHE);
} dcache_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct cache_key_v6);
	__type(value, struct cache_value);
	__uint(max_entries, XS_DEFAULT_CACHE);
} dcache_v6 SEC(".maps");

/* Route generations by region and by tenant, bumped by the loader through
 * a mapping (one atomic add per slot), read by the programs. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, XS_GEN_FINE_DEFAULT + XS_GEN_TENANT_SLOTS);
	__uint(map_flags, BPF_F_MMAPABLE);
} route_gens SEC(".maps");

/* New cache entries each tenant slot may still make (struct cache_budget). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct cache_budget);
	__uint(max_entries, XS_GEN_TENANT_SLOTS);
} cache_budget SEC(".maps");

/* if_id -> tunnel_idx and tenant, sealed (struct tunnel_value), written by
 * the loader, read by ingress. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct tunnel_value);
	__uint(max_entries, XS_DEFAULT_TUNNELS);
} tunnel_by_ifid SEC(".maps");

/* Per-tunnel counters by tunnel_idx, written by both programs, summed over
 * CPUs by the loader. Slot 0 is never handed out. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct tunnel_stats);
	__uint(max_entries, XS_DEFAULT_TUNNELS + 1);
} tunnel_stats SEC(".maps");

/* Drop and note counters by enum xs_reason. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, XS_REASON_MAX);
} drop_stats SEC(".maps");

/* What ingress learnt per (SPI, if_id) from the decrypting SA. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__type(key, struct secpath_key);
	__type(value, struct secpath_value);
	__uint(max_entries, XS_DEFAULT_SECPATH);
} secpath SEC(".maps");

/* Events for `xfrm-steer monitor`: tenant violations seen by ingress, one
 * ring buffer per reader, put in a slot by that reader (events.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__type(key, __u32);
	__uint(max_entries, XS_EVENT_READERS);
	__array(values, struct xs_event_ring);
} event_readers SEC(".maps");

/* Per-(type, peer) rate limit of events. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct event_rl_key);
	__type(value, struct event_rl_value);
	__uint(max_entries, XS_DEFAULT_EVENT_RL);
} event_rl SEC(".maps");

/* The loader's record of the attach (struct meta_value); the programs do not
 * read it. Mappable so that the loader bumps route_gen with one atomic add. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct meta_value);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
} meta SEC(".maps");

static __always_inline int count_drop(__u32 reason)
{
	__u64 *cnt = bpf_map_lookup_elem(&drop_stats, &reason);

	if (cnt)
		*cnt += 1;
	return TC_ACT_SHOT;
}

static __always_inline void count_note(__u32 reason)
{
	__u64 *cnt = bpf_map_lookup_elem(&drop_stats, &reason);

	if (cnt)
		*cnt += 1;
}

/* The packet's tenant key, or -1 when it has none (counted as
 * XS_DROP_IIF_UNBOUND). tenant-key iif: a forwarded packet is some tenant's
 * only if the program of a binding stamped it on its way in (the binding
 * lives on the interface, so a new one with an old ifindex has none); the
 * stamp is cleared before the kernel's xfrm lookup sees the mark. */
static __always_inline int tenant_of(struct __sk_buff *skb, __u32 *tenant)
{
	switch (cfg.tenant_mode) {
	case XS_TENANT_MARK:
		*tenant = skb->mark & cfg.mark_mask;
		return 0;
	case XS_TENANT_IIF:
		*tenant = skb->ingress_ifindex;
		if (!*tenant) /* locally generated: tenant 0 */
			return 0;
		if (!(skb->mark & cfg.mark_mask))
			return -1;
		skb->mark &= ~cfg.mark_mask;
		return 0;
	default:
		*tenant = 0;
		return 0;
	}
}

/* Make sure len bytes from l3_off are in the linear area. Locally built
 * packets always have their headers there; pulling is the rare case. */
static __always_inline int l3_ready(struct __sk_buff *skb, __u32 len)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;

	if (data + l3_off + len <= data_end)
		return 0;
	if (skb->len < l3_off + len)
		return -1;
	return bpf_skb_pull_data(skb, l3_off + len);
}

static __always_inline int steer(struct __sk_buff *skb,
				 const struct route_value *rt)
{
	struct tunnel_stats *st;
	__u32 idx = rt->tunnel_idx;
	struct bpf_xfrm_info info = { .if_id = rt->if_id };

	st = bpf_map_lookup_elem(&tunnel_stats, &idx);
	if (!bpf_ksym_exists(bpf_skb_set_xfrm_info) ||
	    bpf_skb_set_xfrm_info(skb, &info)) {
		if (st)
			st->tx_dropped += 1;
		return count_drop(XS_DROP_KFUNC);
	}
	if (st) {
		st->tx_packets += 1;
		st->tx_bytes += skb->len - l3_off;
	}
	return TC_ACT_OK;
}

static __always_inline __u64 *gen_slot(__u32 idx)
{
	return bpf_map_lookup_elem(&route_gens, &idx);
}

/* Whether a new destination of the tenant slot may enter the cache: one
 * token each, cfg.cache_budget tokens a second, as many at most. Only on a
 * cache miss, never on the hot path. The bucket is shared by the CPUs
 * without a lock: a race costs a token or gives one, nothing more. */
static __always_inline bool budget_take(__u32 tslot)
{
	__u32 idx = tslot - cfg.gen_fine_slots;
	struct cache_budget *b;
	__u64 now, add, tok;

	if (!cfg.cache_budget)
		return true;
	b = bpf_map_lookup_elem(&cache_budget, &idx);
	if (!b)
		return false;
	now = bpf_ktime_get_ns();
	tok = b->tokens;
	if (now - b->last_ns >= 1000000000ull)
		add = cfg.cache_budget;
	else
		add = (now - b->last_ns) * cfg.cache_budget / 1000000000ull;
	/* A fraction of a token waits for the next call. */
	if (add) {
		tok += add;
		if (tok > cfg.cache_budget)
			tok = cfg.cache_budget;
		b->last_ns = now;
	}
	if (!tok) {
		b->tokens = 0;
		return false;
	}
	b->tokens = tok - 1;
	return true;
}

/* Whether a cached decision holds. The generations are read before the trie
 * (in fill()): a route changed after that read moves one of them, so a
 * decision made from the old route is stale as soon as it is cached. cv is
 * the program's own copy of the entry and seal what xs_cache_seal_*() gives
 * for the program's key and that copy (include/xfrm_steer.h). */
static __always_inline bool cache_valid(const struct cache_value *cv, __u64 seal)
{
	__u64 *f, *t;

	f = gen_slot(cv->fine);
	t = gen_slot(cv->tslot);
	return f && t && xs_cache_holds(cv, *(volatile __u64 *)f, *(volatile __u64 *)t, seal);
}

/* Copies a found entry out of the map: another CPU may recycle the element
 * while we read it, so each word is read once and only the copy is checked
 * and used. */
static __always_inline void cache_copy(struct cache_value *to, const struct cache_value *cv)
{
	const volatile __u64 *w = (const volatile __u64 *)cv;
	__u64 x[3] = { w[0], w[1], w[2] };

	_Static_assert(sizeof(*to) == sizeof(x), "struct cache_value is three words");
	__builtin_memcpy(to, x, sizeof(x));
}

static __always_inline __u64 seal_of(const void *ck, const struct cache_value *cv, bool v6)
{
	return v6 ? xs_cache_seal_v6(ck, cv) : xs_cache_seal_v4(ck, cv);
}

/* The miss path: generations first, then the trie, then the cache (unless
 * the tenant slot has used up its budget of new entries). fresh comes with
 * fine and tslot set. */
static __always_inline int fill(void *cache, const void *ck, void *routes, const void *rk,
				struct cache_value *fresh, bool v6, bool known,
				struct route_value *out)
{
	struct route_value *rt;
	__u64 *f, *t, gen;

	f = gen_slot(fresh->fine);
	t = gen_slot(fresh->tslot);
	gen = f && t ? xs_cache_gens(*(volatile __u64 *)f, *(volatile __u64 *)t) : 0;
	rt = bpf_map_lookup_elem(routes, rk);
	if (!rt)
		return -1;
	fresh->route = *rt;
	*out = fresh->route;
	/* Rewriting a stale entry makes no new one: no budget needed. */
	if (!f || !t || (!known && !budget_take(fresh->tslot)))
		return 0;
	fresh->seal = xs_cache_seal_make(gen, seal_of(ck, fresh, v6));
	bpf_map_update_elem(cache, ck, fresh, BPF_ANY);
	return 0;
}

/* Route lookups go through the per-destination cache first. The result is
 * copied into *out. Returns 0 when a route matched. Used for the egress
 * decision and the ingress RPF check. */
static __always_inline int lookup_v4(__u32 tenant, __be32 addr, struct route_value *out)
{
	struct cache_key_v4 ck = { .tenant = tenant, .addr = addr };
	struct route_key_v4 rk = { .prefixlen = 64, .tenant = tenant, .addr = addr };
	struct cache_value c, *cv;
	__u32 h = xs_gen_hash(tenant, 0);

	cv = bpf_map_lookup_elem(&dcache_v4, &ck);
	if (cv) {
		cache_copy(&c, cv);
		if (cache_valid(&c, seal_of(&ck, &c, false))) {
			*out = c.route;
			return 0;
		}
	}
	c.fine = xs_gen_fine_slot(h, xs_gen_region_v4(addr), cfg.gen_fine_slots);
	c.tslot = xs_gen_tenant_slot(h, cfg.gen_fine_slots);
	return fill(&dcache_v4, &ck, &routes_v4, &rk, &c, false, cv, out);
}

static __always_inline int lookup_v6(__u32 tenant, const __be32 *addr, struct route_value *out)
{
	struct cache_key_v6 ck = { .tenant = tenant };
	struct route_key_v6 rk = { .prefixlen = 32 + 128, .tenant = tenant };
	struct cache_value c, *cv;
	__u32 h = xs_gen_hash(tenant, 1);

	__builtin_memcpy(ck.addr, addr, sizeof(ck.addr));
	cv = bpf_map_lookup_elem(&dcache_v6, &ck);
	if (cv) {
		cache_copy(&c, cv);
		if (cache_valid(&c, seal_of(&ck, &c, true))) {
			*out = c.route;
			return 0;
		}
	}
	__builtin_memcpy(rk.addr, addr, sizeof(rk.addr));
	c.fine = xs_gen_fine_slot(h, xs_gen_region_v6(addr), cfg.gen_fine_slots);
	c.tslot = xs_gen_tenant_slot(h, cfg.gen_fine_slots);
	return fill(&dcache_v6, &ck, &routes_v6, &rk, &c, true, cv, out);
}

/* ------------------------------------------------------------------------
 * Route groups (include/xfrm_steer.h): a flow hash picks a member by weight
 * among the members that are up. Two bounded, unrolled walks over at most
 * XS_GROUP_MAX members, inlined array lookups only.
 */
static __always_inline __u32 mix3(__u32 a, __u32 b, __u32 c)
{
	__u32 h = a * 0x9e3779b1u;

	h ^= b;
	h *= 0x85ebca6bu;
	h ^= c + (h >> 15);
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	return h ^ (h >> 16);
}

static __always_inline bool l4_has_ports(__u8 proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP ||
	       proto == IPPROTO_UDPLITE;
}

/* Source and destination port as one word, 0 when the packet has none in
 * the linear area (fragments, other protocols). */
static __always_inline __u32 ports_at(void *l4, void *data_end)
{
	__u32 *p = l4;

	if ((void *)(p + 1) > data_end)
		return 0;
	return *p;
}

static __always_inline __u32 flow_hash_v4(struct __sk_buff *skb, struct iphdr *iph,
					  void *data_end)
{
	__u32 ports = 0;

	if (flow_hash_kernel)
		return bpf_get_hash_recalc(skb);
	if (!(iph->frag_off & bpf_htons(0x3fff)) && l4_has_ports(iph->protocol))
		ports = ports_at((void *)iph + ((iph->ihl & 0xf) << 2), data_end);
	return mix3(iph->saddr, iph->daddr ^ iph->protocol, ports);
}

static __always_inline __u32 flow_hash_v6(struct __sk_buff *skb, struct ipv6hdr *ip6h,
					  void *data_end)
{
	const __u32 *s = ip6h->saddr.in6_u.u6_addr32, *d = ip6h->daddr.in6_u.u6_addr32;
	__u32 ports = 0;

	if (flow_hash_kernel)
		return bpf_get_hash_recalc(skb);
	if (l4_has_ports(ip6h->nexthdr))
		ports = ports_at(ip6h + 1, data_end);
	return mix3(s[0] ^ s[1] ^ s[2] ^ s[3], d[0] ^ d[1] ^ d[2] ^ d[3] ^ ip6h->nexthdr, ports);
}

/* The member of mask (a bit per member) that hash falls on, the members
 * weighing their weight out of sum. Branch-free: the verifier walks one
 * path through it, not one per member combination. Two things keep it so:
 *  - barrier_var() hides a sign or a nonzero test from clang, which would
 *    otherwise compile it into a compare and a jump, one per member;
 *  - a 0/1 flag selects by multiplication, not by "& -flag": newer
 *    verifiers fork a scalar in [-1, 0] on an AND to stay precise.
 * Each of the two alone left the verifier 180,000-270,000 instructions to
 * walk through egress, most of the attach's time in an emulated VM; with
 * both it walks about 5,000. */
static __always_inline __u32 group_walk(const struct route_group *g, __u32 mask, __u32 sum,
					__u32 hash)
{
	__u64 target = ((__u64)hash * sum) >> 32, acc = 0, found = 0, idx = 0, lt, bit;

#pragma unroll
	for (int i = 0; i < XS_GROUP_MAX; i++) {
		bit = (mask >> i) & 1;
		acc += g->nh[i].weight * bit;
		lt = target - acc;
		barrier_var(lt);
		lt >>= 63; /* target < acc */
		idx |= i * (lt & ~found & 1);
		found |= lt;
	}
	return (__u32)idx;
}

struct group_sets {
	__u32 all, up; /* member bits */
	__u32 all_w, up_w; /* their weights */
};

static __always_inline void set_add(struct group_sets *s, __u32 in, __u32 m, __u32 w, __u32 up)
{
	s->all |= in << m;
	s->all_w += w * in;
	s->up |= (in & up) << m;
	s->up_w += w * (in & up);
}

/* Replace the group route *rt by the member this flow goes to. Members
 * past n have weight 0 and so never count (the loader zeroes them). */
static __always_inline int group_pick(struct route_value *rt, __u32 hash, __u32 dscp)
{
	struct group_sets cls = {}, pri = {}, bk = {}, *s;
	__u32 gid = rt->if_id, i, *dm, down;
	struct route_group *g;

	g = bpf_map_lookup_elem(&route_groups, &gid);
	dm = bpf_map_lookup_elem(&group_down, &gid);
	if (!g || !dm)
		return -1;
	down = *dm;
#pragma unroll
	for (int m = 0; m < XS_GROUP_MAX; m++) {
		const struct xs_nexthop *nh = &g->nh[m];
		__u32 w = nh->weight, up = ((down >> m) & 1) ^ 1, is_bk, has_dscp, in_cls;
		__u64 d = nh->dscp, nz = d | -d;

		is_bk = nh->flags & XS_NH_BACKUP;
		barrier_var(nz); /* as in group_walk() */
		has_dscp = (__u32)(nz >> 63);
		in_cls = (__u32)(d >> (dscp & 63)) & 1;
		set_add(&bk, is_bk, m, w, up);
		set_add(&pri, (is_bk | has_dscp) ^ 1, m, w, up);
		set_add(&cls, in_cls & (is_bk ^ 1), m, w, up);
	}
	if (cls.up_w)
		s = &cls;
	else if (pri.up_w)
		s = &pri;
	else if (bk.up_w)
		s = &bk;
	else
		return -1;
	/* First by weight among the whole set, so that a member going down
	 * moves its own flows only; then, for those, among the up ones. */
	i = group_walk(g, s->all, s->all_w, hash) & (XS_GROUP_MAX - 1);
	if (!(s->up & (1u << i)))
		i = group_walk(g, s->up, s->up_w, mix3(hash, 0x2545f491u, gid)) &
		    (XS_GROUP_MAX - 1);
	rt->if_id = g->nh[i].if_id;
	rt->tunnel_idx = g->nh[i].tunnel_idx;
	return 0;
}

/* Whether the group route rt has if_id among its members (ingress RPF). */
static __always_inline bool group_has(const struct route_value *rt, __u32 if_id)
{
	__u32 gid = rt->if_id;
	struct route_group *g = bpf_map_lookup_elem(&route_groups, &gid);

	if (!g)
		return false;
#pragma unroll
	for (int m = 0; m < XS_GROUP_MAX; m++) {
		if (m >= g->n)
			break;
		if (g->nh[m].if_id == if_id)
			return true;
	}
	return false;
}

SEC("tcx/egress")
int xs_egress(struct __sk_buff *skb)
{
	struct route_value rt;
	void *data, *data_end;
	__u32 tenant;

	if (tenant_of(skb, &tenant))
		return count_drop(XS_DROP_IIF_UNBOUND);

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph;

		if (l3_ready(skb, sizeof(*iph)))
			return count_drop(XS_DROP_PARSE);
		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
		iph = data + l3_off;
		if ((void *)(iph + 1) > data_end)
			return count_drop(XS_DROP_PARSE);
		if (iph->version != 4 || iph->ihl < 5)
			return count_drop(XS_DROP_PARSE);
		if (lookup_v4(tenant, iph->daddr, &rt))
			return count_drop(XS_DROP_NO_ROUTE);
		if (!rt.tunnel_idx &&
		    group_pick(&rt, flow_hash_v4(skb, iph, data_end), iph->tos >> 2))
			return count_drop(XS_DROP_GROUP_DOWN);
		return steer(skb, &rt);
	}

	if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6h;

		if (l3_ready(skb, sizeof(*ip6h)))
			return count_drop(XS_DROP_PARSE);
		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
		ip6h = data + l3_off;
		if ((void *)(ip6h + 1) > data_end)
			return count_drop(XS_DROP_PARSE);
		if (ip6h->version != 6)
			return count_drop(XS_DROP_PARSE);
		if (lookup_v6(tenant, ip6h->daddr.in6_u.u6_addr32, &rt)) {
			/* Keep no_route for traffic someone meant to send:
			 * the interface's own ND and MLD packets (ff00::/8,
			 * fe80::/10) have nowhere to go and are counted apart. */
			__u8 b0 = ip6h->daddr.in6_u.u6_addr8[0];
			__u8 b1 = ip6h->daddr.in6_u.u6_addr8[1];

			if (b0 == 0xff || (b0 == 0xfe && (b1 & 0xc0) == 0x80))
				return count_drop(XS_DROP_V6_LINK);
			return count_drop(XS_DROP_NO_ROUTE);
		}
		if (!rt.tunnel_idx &&
		    group_pick(&rt, flow_hash_v6(skb, ip6h, data_end),
			       ((ip6h->priority << 4) | (ip6h->flow_lbl[0] >> 4)) >> 2))
			return count_drop(XS_DROP_GROUP_DOWN);
		return steer(skb, &rt);
	}

	return count_drop(XS_DROP_NOT_IP);
}

/* What ingress needs of the decrypted (inner) packet. */
struct inner {
	__u64 claim; /* L3 length by the header: the peer's word only */
	__u16 family;
	__be32 src[4];
	__be32 dst[4]; /* IPv6 only: for v6_link_scoped() */
};

/* On ingress skb->data may start at a copy of the underlay's link-layer
 * header, whose length we do not know: load relative to the network
 * header instead of assuming an offset. */
static __always_inline int parse_inner(struct __sk_buff *skb, struct inner *in)
{
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr iph;

		if (bpf_skb_load_bytes_relative(skb, 0, &iph, sizeof(iph),
						BPF_HDR_START_NET))
			return -1;
		in->claim = bpf_ntohs(iph.tot_len);
		in->family = AF_INET;
		in->src[0] = iph.saddr;
		return 0;
	}
	if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6h;

		if (bpf_skb_load_bytes_relative(skb, 0, &ip6h, sizeof(ip6h),
						BPF_HDR_START_NET))
			return -1;
		in->claim = sizeof(ip6h) + bpf_ntohs(ip6h.payload_len);
		in->family = AF_INET6;
		__builtin_memcpy(in->src, ip6h.saddr.in6_u.u6_addr32, sizeof(in->src));
		__builtin_memcpy(in->dst, ip6h.daddr.in6_u.u6_addr32, sizeof(in->dst));
		return 0;
	}
	return -1;
}

/* The L3 bytes the packet really has: skb->len less what lies before the
 * network header (on an external interface a copy of the underlay's
 * link-layer header, of whatever length). That is what the SA's own byte
 * counter added when it decrypted the packet, whatever the inner header
 * claims: nothing checks that header before ingress runs, and a peer may
 * write any length there. Without the kfunc (kernel 6.2) the claim is
 * believed up to skb->len, which bounds what a peer can add. */
static __always_inline __u64 real_l3_len(struct __sk_buff *skb, __u64 claim)
{
	if (bpf_ksym_exists(bpf_cast_to_kern_ctx)) {
		struct sk_buff *k = bpf_cast_to_kern_ctx(skb);
		__u32 len = k->len;
		__u32 off = k->network_header - (__u32)(k->data - k->head);

		return len > off ? len - off : 0;
	}
	return claim < skb->len ? claim : skb->len;
}

static __always_inline void record_secpath(const struct bpf_xfrm_state *xs,
					   __u32 if_id, __u64 len)
{
	struct secpath_key key = { .spi = xs->spi, .if_id = if_id };
	struct secpath_value *sv;
	__u64 now = bpf_ktime_get_ns();

	sv = bpf_map_lookup_elem(&secpath, &key);
	if (sv) {
		sv->packets += 1;
		sv->bytes += len;
		sv->last_seen_ns = now;
		return;
	}

	struct secpath_value fresh = {
		.reqid = xs->reqid,
		.family = xs->family,
		.packets = 1,
		.bytes = len,
		.last_seen_ns = now,
	};
	__builtin_memcpy(fresh.peer, xs->remote_ipv6, sizeof(fresh.peer));
	bpf_map_update_elem(&secpath, &key, &fresh, BPF_NOEXIST);
}

static __always_inline void report_violation(struct __sk_buff *skb,
					     const struct bpf_xfrm_state *xs,
					     __u32 if_id, __u32 tenant,
					     const struct inner *in, __u32 routed)
{
	__u64 now = bpf_ktime_get_ns();
	struct xs_event ev = {};
	__u32 suppressed;

	if (!event_allowed(&event_rl, XS_EV_TENANT_VIOLATION, xs->family, xs->remote_ipv6,
			   cfg.event_interval_ms, now, &suppressed))
		return;
	ev.ts_ns = now;
	ev.type = XS_EV_TENANT_VIOLATION;
	ev.ifindex = skb->ifindex;
	ev.if_id = if_id;
	ev.spi = xs->spi;
	ev.family = xs->family;
	ev.inner_family = in->family;
	ev.tenant = tenant;
	__builtin_memcpy(ev.peer, xs->remote_ipv6, sizeof(ev.peer));
	__builtin_memcpy(ev.inner_src, in->src, sizeof(ev.inner_src));
	ev.routed_if_id = routed;
	ev.suppressed = suppressed;
	event_send(&event_readers, &ev);
}

/* IPv6 traffic that never leaves a link: a peer's router solicitations,
 * MLD reports and DAD probes (source fe80::/10 or ::, destination ff02::
 * and the other link-scope groups, or fe80::/10). A classic xfrm interface
 * at the far end sends them into the tunnel by itself; they mean nothing
 * to this gateway and are no attempt to speak for another tenant. */
static __always_inline bool v6_link_scoped(const struct inner *in)
{
	const __u8 *s = (const __u8 *)in->src, *d = (const __u8 *)in->dst;

	if ((s[0] == 0xfe && (s[1] & 0xc0) == 0x80) ||
	    !(in->src[0] | in->src[1] | in->src[2] | in->src[3]))
		return true;
	return (d[0] == 0xfe && (d[1] & 0xc0) == 0x80) || (d[0] == 0xff && (d[1] & 0x0f) == 2);
}

/* if_id's tunnel entry, copied into out: each word read once, and the copy
 * trusted only if it holds for if_id (include/xfrm_steer.h, struct
 * tunnel_value). An element handed to another if_id while we read it fails,
 * and one more lookup finds the if_id's entry now, if there is one. */
static __always_inline bool tunnel_of(__u32 if_id, struct tunnel_value *out)
{
	int i;

	_Static_assert(sizeof(*out) == 2 * sizeof(__u64), "struct tunnel_value is two words");
	for (i = 0; i < 2; i++) {
		const volatile __u64 *w = bpf_map_lookup_elem(&tunnel_by_ifid, &if_id);
		__u64 x[2];

		if (!w)
			return false;
		x[0] = w[0];
		x[1] = w[1];
		__builtin_memcpy(out, x, sizeof(x));
		if (xs_tunnel_holds(out, if_id))
			return true;
	}
	return false;
}

SEC("tcx/ingress")
int xs_ingress(struct __sk_buff *skb)
{
	struct bpf_xfrm_info info = {};
	struct bpf_xfrm_state xs = {};
	struct inner in = {};
	struct tunnel_value tv;
	struct tunnel_stats *st = NULL;
	struct route_value rt;
	__u32 tenant = 0;
	bool have_xs, have_tv;
	__u64 len;

	/* Every packet an external interface receives was decrypted by an SA
	 * and carries its if_id; one that does not cannot be attributed. */
	if (!bpf_ksym_exists(bpf_skb_get_xfrm_info) ||
	    bpf_skb_get_xfrm_info(skb, &info))
		return count_drop(XS_DROP_NO_XFRM_INFO);

	/* From here on every packet is counted to its tunnel once, passed or
	 * dropped: rx_packets + rx_dropped is what its SAs decrypted. */
	have_tv = tunnel_of(info.if_id, &tv);
	if (have_tv) {
		tenant = tv.tenant;
		st = bpf_map_lookup_elem(&tunnel_stats, &tv.tunnel_idx);
	}
	if (parse_inner(skb, &in)) {
		if (st)
			st->rx_dropped += 1;
		return count_drop(XS_DROP_RX_PARSE);
	}

	if ((cfg.flags & XS_CFG_RPF) && in.family == AF_INET6 && v6_link_scoped(&in)) {
		if (st)
			st->rx_dropped += 1;
		return count_drop(XS_DROP_RX_V6_LINK);
	}
	have_xs = !bpf_skb_get_xfrm_state(skb, 0, &xs, sizeof(xs), 0);

	if (cfg.flags & XS_CFG_RPF) {
		/* Tenant isolation: the inner source must be routed, in the
		 * tunnel's tenant, back into the very tunnel it came from.
		 * Otherwise a peer could speak with another tenant's
		 * addresses, which wildcard SA selectors do not prevent. */
		__u32 routed = 0;
		int miss;

		if (in.family == AF_INET)
			miss = lookup_v4(tenant, in.src[0], &rt);
		else
			miss = lookup_v6(tenant, in.src, &rt);
		if (!miss)
			routed = rt.tunnel_idx ? rt.if_id :
				 group_has(&rt, info.if_id) ? info.if_id : 0;
		if (!have_tv || routed != info.if_id) {
			if (st)
				st->rx_dropped += 1;
			if (have_xs)
				report_violation(skb, &xs, info.if_id, tenant, &in, routed);
			return count_drop(XS_DROP_RPF);
		}
	}

	len = real_l3_len(skb, in.claim);
	if (st) {
		st->rx_packets += 1;
		st->rx_bytes += len;
	} else {
		count_note(XS_NOTE_RX_UNTRACKED);
	}
	if ((cfg.flags & XS_CFG_MARK_INGRESS) && have_tv && cfg.tenant_mode == XS_TENANT_MARK)
		skb->mark = (skb->mark & ~cfg.mark_mask) | tenant;
	if (have_xs)
		record_secpath(&xs, info.if_id, len);
	else
		count_note(XS_NOTE_NO_SECPATH);
	return TC_ACT_OK;
}

/* ------------------------------------------------------------------------
 * Loader-only state of named tunnels and of the routes `apply` owns
 * (include/xfrm_steer.h). Declared here so that attach creates and pins
 * them with the rest; no program touches them. Not preallocated: most
 * devices hold a few entries of the many allowed.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct tunnel_name_key);
	__type(value, struct tunnel_rec);
	__uint(max_entries, XS_DEFAULT_TUNNELS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} tunnel_names SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct apply_route_key);
	__type(value, struct apply_route_value);
	__uint(max_entries, XS_DEFAULT_ROUTES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} apply_routes SEC(".maps");

/* The daemon's IKE routes and ranges (include/xfrm_steer.h). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct apply_route_key);
	__type(value, struct apply_route_value);
	__uint(max_entries, XS_DEFAULT_ROUTES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} ike_routes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct ike_range_value);
	__uint(max_entries, XS_IKE_RANGES_MAX);
} ike_ranges SEC(".maps");

char LICENSE[] SEC("license") = "GPL";

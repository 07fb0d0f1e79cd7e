/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * xfrm-steer ABI shared by the BPF programs (bpf/) and the loader (loader/):
 * map keys and values, enums, configuration and pin names. Only fixed-width
 * types, explicit padding, no pointers: both sides see the same bytes.
 */
#ifndef XFRM_STEER_H
#define XFRM_STEER_H

#include <linux/types.h>

/* Pins live under XS_PIN_ROOT/<netns inode>/<ifname>/ so that two network
 * namespaces may each have an interface of the same name. */
#define XS_PIN_ROOT "/sys/fs/bpf/xfrm-steer"
#define XS_PIN_EGRESS_LINK "link_egress"
#define XS_PIN_INGRESS_LINK "link_ingress"

/* Default map sizes; `attach ... routes N tunnels N` overrides them. The
 * route tries and the loader's record maps are not preallocated: routes
 * cost memory as they are added, but for the record maps' hash buckets (16
 * bytes per route allowed). Everything preallocated (the decision caches,
 * the counters, the SPI table, the event rate limit) follows the tunnel
 * count through the xs_size_*() rules below, so that a small gateway's
 * device costs little (1.5 MB with 2 CPUs) and a large one is sized by
 * "tunnels N". */
#define XS_DEFAULT_ROUTES 16384
#define XS_DEFAULT_TUNNELS 1024
#define XS_DEFAULT_CACHE 2048 /* xs_size_cache(XS_DEFAULT_TUNNELS) */
#define XS_DEFAULT_SECPATH 2048 /* xs_size_secpath(XS_DEFAULT_TUNNELS) */
#define XS_DEFAULT_EVENT_RL 1024 /* xs_size_event_rl(XS_DEFAULT_TUNNELS) */
#define XS_DEFAULT_EVENT_INTERVAL_MS 1000

static inline __u32 xs_pow2_clamp(__u64 want, __u32 lo, __u32 hi)
{
	__u64 v = lo;

	while (v < want && v < hi)
		v <<= 1;
	return (__u32)v;
}

/* Decision cache entries per family: two per tunnel, 1,024 to 65,536. */
static inline __u32 xs_size_cache(__u32 tunnels)
{
	return xs_pow2_clamp((__u64)tunnels * 2, 1024, 65536);
}

/* (SPI, if_id) pairs seen by ingress: two per tunnel (a rekey overlaps). */
static inline __u32 xs_size_secpath(__u32 tunnels)
{
	return xs_pow2_clamp((__u64)tunnels * 2, 64, 1u << 20);
}

/* Event rate limit entries, one per peer: 256 to 4,096. */
static inline __u32 xs_size_event_rl(__u32 tunnels)
{
	return xs_pow2_clamp(tunnels, 256, 4096);
}

/* How the egress program derives a packet's tenant. */
enum xs_tenant_mode {
	XS_TENANT_NONE = 0, /* one tenant, key 0 */
	XS_TENANT_MARK = 1, /* skb->mark & mark_mask */
	XS_TENANT_IIF = 2, /* skb->ingress_ifindex */
};

/* Why a packet was dropped (or, for the XS_NOTE_* entries, merely noted).
 * Index into the drop_stats per-CPU array. Append only: the numbers are ABI. */
enum xs_reason {
	XS_DROP_NO_ROUTE = 0, /* egress: no route for (tenant, destination) */
	XS_DROP_PARSE = 1, /* egress: truncated or malformed L3 header */
	XS_DROP_NOT_IP = 2, /* egress: neither IPv4 nor IPv6 */
	XS_DROP_KFUNC = 3, /* egress: bpf_skb_set_xfrm_info missing or failed */
	XS_DROP_NO_XFRM_INFO = 4, /* ingress: no xfrm metadata on the packet */
	XS_NOTE_RX_UNTRACKED = 5, /* ingress: if_id with no tunnel entry (passed) */
	XS_NOTE_NO_SECPATH = 6, /* ingress: no secpath state (passed) */
	XS_DROP_V6_LINK = 7, /* egress: no route, IPv6 multicast or link-local
			      * destination (the kernel's own ND/MLD chatter) */
	XS_DROP_RPF = 8, /* ingress: inner source not routed to the tunnel
			  * the packet arrived on (tenant isolation) */
	XS_DROP_RX_PARSE = 9, /* ingress: decrypted packet without an IP header */
	XS_DROP_RX_V6_LINK = 10, /* ingress, rpf strict: the peer's own IPv6
				  * link-scoped traffic (router solicitations,
				  * MLD, DAD: source fe80::/10 or ::, or
				  * destination fe80::/10 or link-scope
				  * multicast). Dropped, never an event. */
	XS_DROP_IIF_UNBOUND = 11, /* egress, tenant-key iif: forwarded from an
				   * interface that is no tenant's (no stamp:
				   * new, or re-created and not bound again) */
	XS_DROP_GROUP_DOWN = 12, /* egress: routed to a group with no member up
				  * (or no such group) */
	XS_REASON_MAX,
};

/* Longest-prefix-match route keys. The LPM prefix covers the tenant (always
 * all 32 bits) and then the destination prefix: prefixlen = 32 + plen. */
struct route_key_v4 {
	__u32 prefixlen;
	__u32 tenant; /* host order */
	__be32 addr;
};

struct route_key_v6 {
	__u32 prefixlen;
	__u32 tenant; /* host order */
	__be32 addr[4];
};

/* Route value: the tunnel a prefix steers to. tunnel_idx is the slot of that
 * if_id in tunnel_stats, allocated by the loader, so the datapath reaches its
 * counters with an array access instead of a second hash lookup. */
struct route_value {
	__u32 if_id;
	__u32 tunnel_idx;
};

/* Route groups (multipath). A route whose tunnel_idx is 0 (the reserved
 * counter slot, which no tunnel ever has) names a group instead of a
 * tunnel: its if_id is the group's index in the route_groups array. The
 * layout of struct route_value is the one earlier versions pinned.
 *
 * Per packet egress hashes the flow (addresses, protocol, ports) and picks
 * a member by weight, among:
 *  1. the up members whose dscp mask has the packet's class, if any is up;
 *  2. else the up primaries without a dscp mask;
 *  3. else the up backup members (XS_NH_BACKUP), whatever their mask.
 * A member is first chosen by weight among all members of that set, up or
 * not; only if it is down is a second pick made, by weight among the up
 * ones with a second hash. So the flows of a member that goes down move to
 * the others, and the flows of the others stay where they are.
 *
 * Groups are written copy-on-write: a changed group gets a new index, the
 * route moves to it in one update, the old index is freed (n = 0). Decision
 * caches hold the group, never the member, so health applies at once. */
#define XS_GROUP_MAX 8 /* members per group */
#define XS_NH_BACKUP (1u << 0) /* used only while no primary is up */
#define XS_DEFAULT_GROUPS 512 /* xs_size_groups(XS_DEFAULT_TUNNELS) */

struct xs_nexthop {
	__u32 if_id;
	__u32 tunnel_idx; /* its slot: counters and health */
	__u64 dscp; /* bit c: takes DSCP class c only; 0: any class */
	__u16 weight; /* 1..65535; 0 ends the member list */
	__u16 flags; /* XS_NH_* */
	__u32 pad;
};

struct route_group {
	__u32 n; /* members in use; 0: free index */
	__u32 tenant; /* of the route that owns it */
	struct xs_nexthop nh[XS_GROUP_MAX];
};

/* Groups: one per two tunnels, 64 to 65,536. */
static inline __u32 xs_size_groups(__u32 tunnels)
{
	return xs_pow2_clamp(tunnels / 2, 64, 65536);
}

/* tun_health: array by tunnel slot (as tunnel_stats), one __u32 each. Zero
 * is up: a device without a daemon, or a slot never written, steers to
 * every member. The daemon sets XS_HEALTH_AUTO_DOWN while the kernel has
 * no usable outbound SA with the if_id; `route nexthop down|up` sets
 * XS_HEALTH_ADMIN_DOWN or XS_HEALTH_ADMIN_UP, which win over it (`auto`
 * clears both). Writers keep XS_HEALTH_DOWN, the effective state and the
 * bit that counts, consistent with the others (xs_health_effective()).
 * The datapath reads none of it: group_down, an array by group index of a
 * bit per member that is down, is derived from it by the same writers
 * whenever a group or a health changes (one lookup per packet, and a walk
 * the verifier sees as one path). */
#define XS_HEALTH_AUTO_DOWN (1u << 0)
#define XS_HEALTH_ADMIN_DOWN (1u << 1)
#define XS_HEALTH_ADMIN_UP (1u << 2)
#define XS_HEALTH_DOWN (1u << 31)

static inline __u32 xs_health_effective(__u32 v)
{
	__u32 down;

	v &= ~XS_HEALTH_DOWN;
	if (v & XS_HEALTH_ADMIN_UP)
		down = 0;
	else
		down = v & (XS_HEALTH_ADMIN_DOWN | XS_HEALTH_AUTO_DOWN);
	return down ? v | XS_HEALTH_DOWN : v;
}

/* Per-destination cache in front of the LPM tries (maps dcache_v4 and
 * dcache_v6). A decision is valid while the two route generations it was
 * made under have not moved: route_gens[fine] + route_gens[tslot] is what
 * it was (and its seal holds: below, struct cache_value).
 *
 * route_gens is an array of XS_GEN_FINE slots (a power of two, the loader's
 * choice, told to the programs in xs_config.gen_fine_slots) followed by
 * XS_GEN_TENANT_SLOTS. A destination's fine slot belongs to its tenant and
 * its address region (the /24 of an IPv4 address, the /56 of an IPv6 one);
 * its tenant slot to its tenant alone. Both are hashed (xs_gen_*()), so two
 * regions or tenants may share a slot: that costs a needless cache miss,
 * never a wrong answer. After changing the route P/len of tenant T the
 * loader bumps (xs_gen_plan()):
 *  - len at least the region's: the fine slot of P's region;
 *  - a few regions' worth (up to XS_GEN_SPAN_MAX): the fine slot of each
 *    region P covers (consecutive slots: the slot is tenant hash + region);
 *  - shorter: the tenant slot of T, all of T's decisions at once.
 * Every route that covers a destination is in one of these cases, so every
 * change that can alter a destination's answer moves one of its two slots,
 * and changes elsewhere, or in another tenant, leave its decision alone. */
#define XS_GEN_TENANT_SLOTS 1024
#define XS_GEN_FINE_DEFAULT 4096 /* xs_size_gen_fine(XS_DEFAULT_CACHE) */
#define XS_GEN_V4_BITS 24 /* region: the /24 */
#define XS_GEN_V6_BITS 56 /* region: the /56 */
#define XS_GEN_SPAN_MAX 256 /* regions bumped one by one, at most */

/* Fine slots: twice the cache entries, so that the regions of the cached
 * destinations seldom share one. */
static inline __u32 xs_size_gen_fine(__u32 cache)
{
	return xs_pow2_clamp((__u64)cache * 2, 1024, 1u << 20);
}

static inline __u32 xs_gen_hash(__u32 tenant, __u32 v6)
{
	__u32 h = (tenant ^ (v6 ? 0x5bd1e995u : 0)) * 0x9e3779b1u;

	return h ^ (h >> 16);
}

/* The low 32 bits of a destination's region number (network order in). */
static inline __u32 xs_gen_region_v4(__be32 addr)
{
	return __builtin_bswap32(addr) >> (32 - XS_GEN_V4_BITS);
}

static inline __u32 xs_gen_region_v6(const __be32 *addr)
{
	/* Bits 24..55 of the address: the /56's number, low 32 bits. */
	return (__builtin_bswap32(addr[0]) << 24) | (__builtin_bswap32(addr[1]) >> 8);
}

static inline __u32 xs_gen_fine_slot(__u32 hash, __u32 region, __u32 fine_slots)
{
	return (hash + region) & (fine_slots - 1);
}

static inline __u32 xs_gen_tenant_slot(__u32 hash, __u32 fine_slots)
{
	return fine_slots + (hash & (XS_GEN_TENANT_SLOTS - 1));
}

/* Which slots a change of route addr/plen (network order bytes, IPv4 in
 * the first 4) of tenant must bump: *count consecutive fine slots from
 * *first (wrapping at fine_slots), or, when *count is 0, the tenant slot
 * *first. */
static inline void xs_gen_plan(int v6, __u32 tenant, const __u8 *addr, __u32 plen,
			       __u32 fine_slots, __u32 *first, __u32 *count)
{
	__u32 bits = v6 ? XS_GEN_V6_BITS : XS_GEN_V4_BITS, h = xs_gen_hash(tenant, v6), region;
	__be32 a[2];

	__builtin_memcpy(a, addr, v6 ? 8 : 4);
	region = v6 ? xs_gen_region_v6(a) : xs_gen_region_v4(a[0]);
	if (plen >= bits) {
		*first = xs_gen_fine_slot(h, region, fine_slots);
		*count = 1;
	} else if (bits - plen <= 8 && (1u << (bits - plen)) <= XS_GEN_SPAN_MAX &&
		   (1u << (bits - plen)) <= fine_slots) {
		/* The prefix's host bits are zero: region is its first. */
		*first = xs_gen_fine_slot(h, region, fine_slots);
		*count = 1u << (bits - plen);
	} else {
		*first = xs_gen_tenant_slot(h, fine_slots);
		*count = 0;
	}
}

struct cache_key_v4 {
	__u32 tenant;
	__be32 addr;
};

struct cache_key_v6 {
	__u32 tenant;
	__be32 addr[4];
};

struct cache_value {
	struct route_value route;
	__u64 seal; /* route_gens[fine] + route_gens[tslot] when made, plus the
		     * entry's xs_cache_seal_*() */
	__u32 fine; /* indexes into route_gens */
	__u32 tslot;
};

/* The seal binds a cached decision to the key it was made for. The cache
 * is a preallocated LRU hash, and an insert on one CPU may take the element
 * another CPU has just found and is reading, without a grace period: when
 * it evicts the least recently used entry to make room, or frees the entry
 * it replaces (an update always takes a fresh element). The new owner's key
 * and value are then copied in with a plain memcpy. The reader holds
 * another key's decision, or a mix of two: another tenant's tunnel. So the
 * programs copy an entry, and trust the copy only if its seal matches what
 * they compute from their own key, the copy's route and slots, and the
 * slots' generations now:
 *   seal == route_gens[fine] + route_gens[tslot] + xs_cache_seal_*(key, copy)
 * An entry of another key, or one mixed of two (whole words or bytes),
 * passes only by chance, and otherwise the program takes the trie: the
 * words are multiplied by odd constants and XORed, and a final mix spreads
 * any difference over all 64 bits, far from the few steps a generation sum
 * moves. Versions before the seal stored the bare
 * generation sum: their entries fail too, and are rewritten. Always
 * inlined: in the programs a call would cost more than the seal. */
#define XS_SEAL_INLINE static inline __attribute__((always_inline))

XS_SEAL_INLINE __u64 xs_seal_word(__u64 lo, __u64 hi)
{
	return lo | hi << 32;
}

XS_SEAL_INLINE __u64 xs_seal_fold(__u64 h, const struct cache_value *v)
{
	h ^= xs_seal_word(v->route.if_id, v->route.tunnel_idx) * 0xc2b2ae3d27d4eb4full;
	h ^= xs_seal_word(v->fine, v->tslot) * 0x165667b19e3779f9ull;
	h ^= h >> 29;
	h *= 0x9e3779b97f4a7c15ull;
	return h ^ (h >> 32);
}

XS_SEAL_INLINE __u64 xs_cache_seal_v4(const struct cache_key_v4 *k, const struct cache_value *v)
{
	return xs_seal_fold(xs_seal_word(k->tenant, k->addr) * 0x87c37b91114253d5ull, v);
}

XS_SEAL_INLINE __u64 xs_cache_seal_v6(const struct cache_key_v6 *k, const struct cache_value *v)
{
	__u64 h = xs_seal_word(k->tenant, k->addr[0]) * 0x87c37b91114253d5ull;

	h ^= xs_seal_word(k->addr[1], k->addr[2]) * 0x4cf5ad432745937full;
	h ^= (__u64)k->addr[3] * 0xff51afd7ed558ccdull;
	return xs_seal_fold(h, v);
}

/* The one rule for a cached decision, made and judged: gen_fine and
 * gen_tslot are route_gens[v->fine] and route_gens[v->tslot], key_seal is
 * xs_cache_seal_*(key, v). The programs (fill(), cache_valid()), the unit
 * tests and the benchmark all make and judge entries with these. */
XS_SEAL_INLINE __u64 xs_cache_gens(__u64 gen_fine, __u64 gen_tslot)
{
	return gen_fine + gen_tslot;
}

XS_SEAL_INLINE __u64 xs_cache_seal_make(__u64 gens, __u64 key_seal)
{
	return gens + key_seal;
}

XS_SEAL_INLINE int xs_cache_holds(const struct cache_value *v, __u64 gen_fine, __u64 gen_tslot,
				  __u64 key_seal)
{
	return v->seal == xs_cache_seal_make(xs_cache_gens(gen_fine, gen_tslot), key_seal);
}

/* cache_budget, one per tenant slot: how many new destinations the tenants
 * of that slot may still add to the decision cache (a token bucket refilled
 * at xs_config.cache_budget per second, up to as many). A tenant that sends
 * to ever new destinations (a scan) then takes the trie for the rest and
 * cannot push the other tenants' decisions out of the shared LRU. Off
 * (cache_budget 0) with one tenant. */
struct cache_budget {
	__u64 last_ns;
	__u64 tokens;
};

/* tunnel_by_ifid: if_id -> its counter slot and the tenant it belongs to, written by
 * the loader, read by ingress. A tunnel serves one tenant: all routes to an
 * if_id carry the same tenant, which the reverse-path check relies on.
 * This is a preallocated hash too: a delete followed by an insert, or an
 * update (which always takes a fresh element), may hand the element that
 * ingress has just found on another CPU to another if_id, and fill it with
 * a plain memcpy while ingress reads. Ingress would then count the packet
 * to another tunnel and, with rpf off, mark it with another tenant. So the
 * value names its key again and carries a seal of its three words
 * (xs_tunnel_value()); ingress copies the value once and trusts the copy
 * only if xs_tunnel_holds() for the if_id it looked up, and otherwise looks
 * up once more. Versions before 2026-12 kept the first two words only, in
 * the pin "tunnels": attach carries it over into this map, tunnel_by_ifid
 * (lib/state.h, xs_old_tunnels_carry()). */
struct tunnel_value {
	__u32 tunnel_idx;
	__u32 tenant;
	__u32 if_id; /* the key */
	__u32 seal; /* xs_tunnel_seal() of the three */
};

/* A tunnel entry's seal: the words multiplied by odd constants, a constant
 * so that an all-zero element seals nothing, and a final mix, as the cache
 * seal's. Made and judged only through the two functions below. */
XS_SEAL_INLINE __u32 xs_tunnel_seal(__u32 if_id, __u32 tunnel_idx, __u32 tenant)
{
	__u64 h = xs_seal_word(if_id, tunnel_idx) * 0x87c37b91114253d5ull;

	h ^= ((__u64)tenant ^ 0x7f4a7c15ull) * 0x4cf5ad432745937full;
	h ^= h >> 29;
	h *= 0x9e3779b97f4a7c15ull;
	return (__u32)(h ^ (h >> 32));
}

XS_SEAL_INLINE struct tunnel_value xs_tunnel_value(__u32 if_id, __u32 tunnel_idx, __u32 tenant)
{
	struct tunnel_value v = {
		.tunnel_idx = tunnel_idx,
		.tenant = tenant,
		.if_id = if_id,
		.seal = xs_tunnel_seal(if_id, tunnel_idx, tenant),
	};

	return v;
}

/* Whether v, a copy of an element of tunnel_by_ifid found under if_id, is
 * that if_id's entry as the loader wrote it. */
XS_SEAL_INLINE int xs_tunnel_holds(const struct tunnel_value *v, __u32 if_id)
{
	return v->if_id == if_id && v->seal == xs_tunnel_seal(v->if_id, v->tunnel_idx, v->tenant);
}

/* tunnel_stats: per-CPU array indexed by tunnel_idx. Slot 0 is reserved.
 * Every packet a tunnel's inbound SAs decrypt and the kernel hands to the
 * interface is counted once, in rx_packets (passed) or rx_dropped (dropped
 * by ingress: rpf, link-scoped IPv6, no IP header), so their sum equals
 * what the SAs' own packet counters added. Bytes are L3 lengths, the
 * bytes the packet really has, never what its IP header claims: egress
 * skb->len from the L3 header, ingress skb->len less what precedes the
 * network header. So rx_bytes, like rx_packets, is what the SAs' own
 * counters added (a peer writes the inner header as it likes). */
struct tunnel_stats {
	__u64 tx_packets;
	__u64 tx_bytes;
	__u64 rx_packets;
	__u64 rx_bytes; /* of the rx_packets */
	__u64 tx_dropped; /* route found but the kfunc failed */
	__u64 rx_dropped; /* decrypted, then dropped by ingress */
};

/* secpath: per-CPU hash of what ingress learnt from the decrypting SA. */
struct secpath_key {
	__be32 spi;
	__u32 if_id;
};

struct secpath_value {
	__u32 reqid;
	__u16 family; /* AF_INET or AF_INET6 */
	__u16 pad;
	__be32 peer[4]; /* outer source address of the SA */
	__u64 packets;
	__u64 bytes; /* real L3 bytes, as rx_bytes of struct tunnel_stats */
	__u64 last_seen_ns; /* bpf_ktime_get_ns() */
};

/* meta: a one-entry array, the loader's record of how the interface was
 * attached, so that later commands (route, stats, a re-attach) find the
 * same settings. route_gen moves on every route change: the programs of
 * versions before route_gens read it (a device attached by one of them and
 * changed by this version stays right), the loader uses it to tell whether
 * its cached tunnel slots are still current. */
#define XS_META_MAGIC 0x78667331 /* "xfs1" */
struct meta_value {
	__u32 magic;
	__u32 version;
	__u64 route_gen;
	__u32 ifindex;
	__u32 tenant_mode; /* enum xs_tenant_mode */
	__u32 mark_mask;
	__u32 max_routes;
	__u32 max_tunnels;
	__u32 max_cache;
	__u32 max_secpath;
	__u32 flags; /* XS_CFG_* as attached */
	__u32 event_interval_ms;
	__u32 pad;
};

/* tenant-key iif: the tenant of a forwarded packet is the interface it came
 * in on, bound by name when a route names it. A binding lives ON that
 * interface: a tcx ingress program (bpf/iif_stamp.bpf.c) that sets the stamp
 * bit in skb->mark, kept in meta.mark_mask (the mark mask is unused in this
 * mode). The kernel removes the program with the interface, so a new device
 * that gets the old ifindex has none; egress drops a forwarded packet
 * without the stamp (XS_DROP_IIF_UNBOUND) and clears the bit of the others
 * before the kernel's xfrm lookup. The link is pinned in the xfrm device's
 * pin directory as XS_PIN_IIF_LINK_FMT (its ifindex), the binding's record
 * in XS_PIN_IIF_BINDS, a hash tenant (the ifindex at bind time) -> struct
 * iif_bind, which no program reads. */
#define XS_IIF_STAMP_DEFAULT 0x80000000u
#define XS_PIN_IIF_BINDS "iif_binds"
#define XS_PIN_IIF_LINK_FMT "iif_%u"
#define XS_IIF_NAME_LEN 16 /* IF_NAMESIZE */

struct iif_bind {
	char name[XS_IIF_NAME_LEN]; /* the interface's name when bound */
	__u32 ifindex; /* == the key */
	__u32 link_id; /* of the pinned tcx link: the binding is live while
			* that link is attached to ifindex */
	__u64 bound_at; /* CLOCK_REALTIME seconds */
};

/* Read-only program configuration (the skeleton's .rodata). */
#define XS_CFG_RPF (1u << 0) /* ingress reverse-path check (tenant isolation) */
#define XS_CFG_MARK_INGRESS (1u << 1) /* ingress sets mark to the tenant key */
struct xs_config {
	__u32 tenant_mode;
	__u32 mark_mask; /* tenant-key iif: the stamp bit */
	__u32 flags; /* XS_CFG_* */
	__u32 event_interval_ms; /* at most one event per peer and type per interval */
	__u32 gen_fine_slots; /* fine slots of route_gens, a power of two */
	__u32 cache_budget; /* new cache entries per tenant slot and second; 0: no limit */
};

/* Events go to every reader at once: each reader (a `monitor`) makes a ring
 * buffer of its own and puts it in a free slot of the program's pinned
 * array of maps (event_readers, ul_ev_readers); the programs copy each
 * event into every slot that holds one. A reader owns its slot while it
 * holds the abstract unix socket named by XS_EVENT_SLOT_FMT (outer map id,
 * slot) in the namespace: the kernel frees the name when the reader dies,
 * however it dies, so a dead reader's slot is taken again. */
#define XS_EVENT_READERS 8
#define XS_EVENT_RING_SIZE (256 * 1024)
#define XS_EVENT_SLOT_FMT "xfrm-steer/events/%u/%u"

enum xs_event_type {
	XS_EV_TENANT_VIOLATION = 1, /* ingress RPF drop */
	XS_EV_UNKNOWN_SPI = 2, /* underlay XDP: ESP for an SPI with no SA */
};

struct xs_event {
	__u64 ts_ns; /* bpf_ktime_get_ns() */
	__u32 type; /* enum xs_event_type */
	__u32 ifindex; /* device the packet was seen on */
	__u32 if_id; /* tunnel it arrived on (violation) */
	__be32 spi;
	__u16 family; /* of peer (and of dst), AF_INET or AF_INET6 */
	__u16 inner_family; /* of inner_src (violation); unknown SPI: family */
	__u32 tenant; /* tenant of the tunnel (violation) */
	__be32 peer[4]; /* outer source: the SA's peer or the ESP sender */
	/* One address, named by event type. The two share their bytes so
	 * that the layout stays the one readers of either know. */
	union {
		__be32 inner_src[4]; /* violation: the inner source address */
		__be32 dst[4]; /* unknown SPI: the outer destination */
	};
	__u32 routed_if_id; /* violation: where inner_src is routed, 0 if nowhere */
	__u32 suppressed; /* events of this key dropped by the rate limit since
			   * the last one sent */
};

/* Ring buffer readers built before dst had its name read these offsets. */
_Static_assert(sizeof(struct xs_event) == 72, "xs_event size");
_Static_assert(__builtin_offsetof(struct xs_event, inner_src) == 48, "xs_event inner_src");
_Static_assert(__builtin_offsetof(struct xs_event, dst) == 48, "xs_event dst");
_Static_assert(__builtin_offsetof(struct xs_event, routed_if_id) == 64, "xs_event routed_if_id");

/* Rate-limit state per (type, peer). */
struct event_rl_key {
	__u32 type;
	__u32 family;
	__be32 peer[4];
};

struct event_rl_value {
	__u64 last_ns;
	__u32 suppressed;
	__u32 pad;
};

/* ------------------------------------------------------------------------
 * Underlay XDP program (bpf/xdp_underlay.bpf.c, `xfrm-steer underlay`).
 * It runs on the device ESP arrives on and is pinned in that device's own
 * directory, XS_PIN_ROOT/<netns inode>/<ifname>/: the link as
 * XS_PIN_XDP_LINK, its maps under their names, which all start with "ul_"
 * so that they never meet the tc object's.
 *
 * Its unknown-SPI events are struct xs_event with type XS_EV_UNKNOWN_SPI:
 * ifindex (the underlay), spi, family and peer (the ESP sender), dst (the
 * outer destination, of the same family as peer). inner_family is set to
 * family too, as it was when dst was read through inner_src, which is the
 * same bytes; if_id, tenant and routed_if_id are 0.
 */
#define XS_PIN_XDP_LINK "link_xdp"

#define XS_UL_DEFAULT_SA_STATS 16384 /* per-SPI counters of SPIs with an SA */
#define XS_UL_DEFAULT_NOSA_STATS 4096 /* per-SPI counters of unknown SPIs */
#define XS_UL_DEFAULT_KNOWN_SPIS 65536 /* SA list for kernels without the kfunc */

/* An SPI as the kernel finds its SA: outer destination, SPI, family. Key
 * of the per-SPI counters and of the known-SPI set. */
struct ul_spi_key {
	__be32 daddr[4]; /* IPv4 in daddr[0], the rest zero */
	__be32 spi;
	__u16 family; /* AF_INET or AF_INET6 */
	__u16 pad;
};

/* Per-CPU counters of one SPI, before decryption. */
struct ul_spi_stats {
	__u64 packets;
	__u64 bytes; /* outer IP packet length (IP header included), by
		      * the header, of packets the frame holds in full */
};

/* known_spis value: what the loader found in the SA list. */
struct ul_known_value {
	__u32 if_id;
	__u32 reqid;
};

/* What the underlay program noted besides per-SPI counts. Index into the
 * ul_reasons per-CPU array; append only. Only ESP and UDP 4500 packets are
 * ever counted here: other traffic goes through uncounted. */
enum xs_ul_reason {
	XS_UL_UNKNOWN_SPI = 0, /* ESP to a local address, no SA for its SPI */
	XS_UL_DROPPED = 1, /* of those, dropped (drop-unknown) */
	XS_UL_TRANSIT = 2, /* ESP without an SA here, routed onwards (passed) */
	XS_UL_IKE = 3, /* UDP 4500 with the non-ESP marker and at least an
			* IKE header: IKE (passed) */
	XS_UL_KEEPALIVE = 4, /* UDP 4500 NAT keepalive, one 0xff byte (passed) */
	XS_UL_TRUNCATED = 5, /* ESP or UDP header cut short, UDP 4500 too
			      * short for any of ESP, IKE and keepalive, or ESP
			      * whose IP length runs past the frame, which the
			      * kernel drops (passed, not counted per SPI) */
	XS_UL_FRAGMENT = 6, /* fragment of ESP or UDP (passed, not counted) */
	XS_UL_V6_EXT = 7, /* IPv6 with extension headers (passed, not parsed) */
	XS_UL_EVENT_LOST = 8, /* a reader's ring buffer full: event not sent to it */
	XS_UL_REASON_MAX,
};

/* Read-only program configuration (the skeleton's .rodata). */
#define XS_UL_CFG_DROP_UNKNOWN (1u << 0) /* XDP_DROP ESP with no SA */
#define XS_UL_CFG_SA_MAP (1u << 1) /* look SPIs up in known_spis only */
struct ul_config {
	__u32 flags; /* XS_UL_CFG_* */
	__u32 event_interval_ms; /* at most one event per peer per interval */
};

/* How the program decides whether an SPI has an SA. */
enum xs_ul_lookup {
	XS_UL_LOOKUP_KFUNC = 1, /* bpf_xdp_get_xfrm_state (kernel 6.8+) */
	XS_UL_LOOKUP_MAP = 2, /* known_spis, filled by attach and sync */
};

/* ul_meta: one entry, the loader's record of how the device was attached. */
#define XS_UL_META_MAGIC 0x78737531 /* "xsu1" */
struct ul_meta_value {
	__u32 magic;
	__u32 version;
	__u32 ifindex;
	__u32 flags; /* XS_UL_CFG_* as attached */
	__u32 event_interval_ms;
	__u32 lookup; /* enum xs_ul_lookup */
	__u32 known_spis; /* entries after the last sync */
	__u32 pad;
	__u64 synced_at; /* CLOCK_REALTIME seconds of the last sync */
};

/* ------------------------------------------------------------------------
 * Named tunnels (`xfrm-steer tunnel`, `xfrm-steer apply`). The loader keeps
 * what each tunnel is made of in the pinned map tunnel_names, and the loose
 * routes that `apply` made in apply_routes, so that later commands find them
 * and `apply` knows what it owns. The programs never read either map. No key
 * material is ever stored here: the SAs in the kernel hold the keys.
 */
#define XS_TUNNEL_NAME_LEN 32 /* with the terminating NUL */
#define XS_ALG_NAME_LEN 64 /* the kernel's CRYPTO_MAX_ALG_NAME */
#define XS_TUNNEL_MAGIC 0x78737431 /* "xst1" */

struct tunnel_name_key {
	char name[XS_TUNNEL_NAME_LEN]; /* NUL-padded */
};

/* A record is written before the kernel objects it names are made (state
 * XS_TUN_ADDING) and marked XS_TUN_READY once all of them are there, so that
 * a command killed half way leaves a record that covers what it made. */
enum xs_tunnel_state {
	XS_TUN_ADDING = 1,
	XS_TUN_READY = 2,
};

#define XS_TUNF_ESN (1u << 0) /* SAs with extended sequence numbers */
/* Made by `tunnel add`, not by a file: apply leaves it alone unless its
 * file names it (then the file takes it over). Records of versions before
 * the bit are a file's, as they were treated then. */
#define XS_TUNF_CLI (1u << 1)

struct tunnel_rec {
	__u32 magic; /* XS_TUNNEL_MAGIC */
	__u32 state; /* enum xs_tunnel_state */
	__u64 gen; /* run that last wrote it: CLOCK_REALTIME ns at its start */
	__u32 if_id;
	__u32 tenant;
	__u32 family; /* of local and remote: AF_INET or AF_INET6 */
	__be32 local[4]; /* outer addresses; IPv4 in [0] */
	__be32 remote[4];
	__u32 spi_in; /* host order: SA remote -> local */
	__u32 spi_out; /* SA local -> remote */
	__u32 reqid;
	__u32 replay_window;
	__u8 mode; /* XFRM_MODE_TUNNEL or XFRM_MODE_TRANSPORT */
	__u8 flags; /* XS_TUNF_* */
	__u16 encap_type; /* 0 or UDP_ENCAP_ESPINUDP */
	__u16 encap_sport;
	__u16 encap_dport;
	__u32 icv_bits; /* AEAD ICV length */
	__u32 trunc_bits; /* auth truncation */
	char aead[XS_ALG_NAME_LEN]; /* kernel names; "" when absent */
	char enc[XS_ALG_NAME_LEN];
	char auth[XS_ALG_NAME_LEN];
	__u32 pad; /* what the alignment of gen left at the end, named: records
		    * are compared whole, and unnamed padding is not copied */
};

/* apply_routes: routes of the file's "routes" list that `apply` made or
 * took over, so that it removes them when the file drops them and leaves
 * every other loose route (`route add`, strongSwan's updown) alone. A
 * route to a named tunnel's if_id belongs to that tunnel instead. */
struct apply_route_key {
	__u32 family; /* AF_INET or AF_INET6 */
	__u32 tenant;
	__u32 plen;
	__u8 addr[16]; /* network order; IPv4 in the first 4 bytes */
};

struct apply_route_value {
	__u64 gen; /* run that made it */
	__u32 if_id;
	__u32 pad;
};

/* ike_routes: routes the daemon (`xfrm-steer daemon ... ike if_ids A-B`)
 * made from the kernel's outbound policies and SAs of an IKE daemon. Same
 * key and value as apply_routes: a route is the daemon's while it still
 * leads where the daemon put it. apply and route add leave these alone. */

/* ike_ranges: the if_id ranges the daemon manages, written when it starts,
 * so that tunnel add, apply and route add refuse an if_id in one of them.
 * An entry with used == 0 is free. */
#define XS_IKE_RANGES_MAX 16
struct ike_range_value {
	__u32 used; /* 1: in force */
	__u32 lo, hi; /* if_ids, inclusive */
	__u32 tenant; /* of the routes made for it */
	__u32 problems; /* selectors refused in the last reconcile */
	__u32 routes; /* routes it held after the last reconcile */
	__u64 at; /* CLOCK_REALTIME seconds of the last reconcile */
};

#endif /* XFRM_STEER_H */

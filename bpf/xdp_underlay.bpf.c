// SPDX-License-Identifier: GPL-2.0
/*
 * xfrm-steer underlay: an XDP program on the device ESP arrives on.
 *
 * It counts ESP (IP protocol 50, and ESP in UDP to port 4500) per outer
 * destination and SPI before the kernel decrypts it, and finds SPIs that
 * have no SA: those are reported as events, at most one per peer per
 * interval, and with drop-unknown dropped here instead of costing the
 * kernel an SA lookup and an ICMP-less drop later. Everything else passes
 * untouched, and traffic other than ESP and UDP 4500 is not even counted.
 *
 * Parsing: Ethernet, at most one VLAN tag, IPv4 (any header length) or
 * IPv6 without extension headers: ESP behind IPv6 extension headers and
 * fragments of ESP are passed and noted, not counted per SPI (the kernel
 * reassembles fragments after this hook).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
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

#define ESP_IN_UDP_PORT 4500
#define IKE_HDR_LEN 28
#define IP_MF 0x2000
#define IP_OFFMASK 0x1fff
#define NEXTHDR_HOP 0
#define NEXTHDR_ROUTING 43
#define NEXTHDR_FRAGMENT 44
#define NEXTHDR_DEST 60

struct vlan_hdr {
	__be16 tci;
	__be16 proto;
};

/* The xfrm state kfuncs (kernel 6.8+, XDP only). The options struct is the
 * kernel's layout (net/xfrm/xfrm_state_bpf.c); the kernel checks only its
 * size, passed as opts__sz. The state itself stays opaque: the program
 * needs to know whether there is one, and must give it back. Weak, so
 * that the object loads where they are missing; every call is guarded.
 *
 * The state is an empty struct, not a bare declaration: libbpf (1.4)
 * matches a kfunc's prototype against the kernel's by kind, a forward
 * declaration is not a struct to it, and a weak kfunc that does not match
 * is quietly left unresolved, as if the kernel lacked it. */
struct xfrm_state {
};

struct bpf_xfrm_state_opts {
	__s32 error;
	__s32 netns_id;
	__u32 mark;
	__be32 daddr[4]; /* xfrm_address_t */
	__be32 spi;
	__u8 proto;
	__u8 pad; /* implicit in the kernel's struct */
	__u16 family;
};

_Static_assert(sizeof(struct bpf_xfrm_state_opts) == 36, "bpf_xfrm_state_opts layout");

extern struct xfrm_state *bpf_xdp_get_xfrm_state(struct xdp_md *ctx,
						 struct bpf_xfrm_state_opts *opts,
						 __u32 opts__sz) __ksym __weak;
extern void bpf_xdp_xfrm_state_release(struct xfrm_state *x) __ksym __weak;

/* Set by the loader before load. */
const volatile struct ul_config cfg = {};

/* Per-SPI counters of ESP whose SA exists, written here, read by
 * `underlay show`. LRU: entries of SAs long gone make room by themselves. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__type(key, struct ul_spi_key);
	__type(value, struct ul_spi_stats);
	__uint(max_entries, XS_UL_DEFAULT_SA_STATS);
} ul_sa_stats SEC(".maps");

/* The same for SPIs without an SA. A separate map, so that a sender
 * spraying random SPIs evicts only its own entries. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__type(key, struct ul_spi_key);
	__type(value, struct ul_spi_stats);
	__uint(max_entries, XS_UL_DEFAULT_NOSA_STATS);
} ul_nosa_stats SEC(".maps");

/* The kernel's SAs as of the last `underlay attach` or `underlay sync`,
 * written by the loader. Consulted only without the kfunc (or with
 * sa-lookup map). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct ul_spi_key);
	__type(value, struct ul_known_value);
	__uint(max_entries, XS_UL_DEFAULT_KNOWN_SPIS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} ul_known_spis SEC(".maps");

/* Counters by enum xs_ul_reason. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, XS_UL_REASON_MAX);
} ul_reasons SEC(".maps");

/* Unknown-SPI events for `xfrm-steer monitor`, one ring buffer per reader
 * (events.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__type(key, __u32);
	__uint(max_entries, XS_EVENT_READERS);
	__array(values, struct xs_event_ring);
} ul_ev_readers SEC(".maps");

/* Per-peer rate limit of events. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct event_rl_key);
	__type(value, struct event_rl_value);
	__uint(max_entries, 4096);
} ul_event_rl SEC(".maps");

/* The loader's record of the attach; the program does not read it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct ul_meta_value);
	__uint(max_entries, 1);
} ul_meta SEC(".maps");

/* One ESP packet as parsed. */
struct esp_pkt {
	struct ul_spi_key key;
	__be32 saddr[4];
	__u64 len; /* outer IP packet length, all of it in the frame */
};

static __always_inline void note(__u32 reason)
{
	__u64 *cnt = bpf_map_lookup_elem(&ul_reasons, &reason);

	if (cnt)
		*cnt += 1;
}

/* Parse the L4 part of an ESP candidate at l4 (protocol proto), l4len
 * bytes long by its IP header. Returns 1 with the SPI in pkt when it is
 * ESP, 0 when it is something else (noted if it is IKE, a keepalive or cut
 * short), and the packet passes then. The IP length, not the frame, says
 * where the packet ends: the frame may hold Ethernet padding. */
static __always_inline int parse_l4(void *l4, void *data_end, __u8 proto, __u32 l4len,
				    struct esp_pkt *pkt)
{
	__be32 *spi;

	if (proto == IPPROTO_UDP) {
		struct udphdr *udp = l4;
		__u8 *payload = (void *)(udp + 1);
		__u16 ulen;

		if ((void *)(udp + 1) > data_end) {
			/* Too short for its port: not counted, not ours. */
			return 0;
		}
		if (udp->dest != bpf_htons(ESP_IN_UDP_PORT))
			return 0;
		ulen = bpf_ntohs(udp->len);
		/* What RFC 3948 (2.2, 2.3) allows on port 4500, decided by the
		 * UDP length (the frame may carry Ethernet padding beyond it)
		 * as the kernel's UDP encap receive decides:
		 * - one 0xff byte: a NAT keepalive;
		 * - the non-ESP marker, four zero bytes, and an IKE header
		 *   (28 bytes, RFC 7296 3.1) at least: IKE;
		 * - a non-zero SPI and more than SPI and sequence number:
		 *   ESP (the kernel wants more than those 8 bytes too);
		 * - anything else, a bad UDP length included, is cut short:
		 *   the kernel hands it to the IKE socket, but it is neither
		 *   IKE nor ESP; one longer than the IP packet it drops. */
		if (ulen > l4len) {
			note(XS_UL_TRUNCATED);
			return 0;
		}
		if (ulen < sizeof(*udp) + 4) {
			if (ulen == sizeof(*udp) + 1 && (void *)(payload + 1) <= data_end &&
			    payload[0] == 0xff)
				note(XS_UL_KEEPALIVE);
			else
				note(XS_UL_TRUNCATED);
			return 0;
		}
		spi = (void *)payload;
		if ((void *)(spi + 1) > data_end) {
			note(XS_UL_TRUNCATED);
			return 0;
		}
		if (*spi == 0) {
			note(ulen >= sizeof(*udp) + 4 + IKE_HDR_LEN ? XS_UL_IKE : XS_UL_TRUNCATED);
			return 0;
		}
		if (ulen <= sizeof(*udp) + 8 || (void *)(spi + 2) > data_end) {
			note(XS_UL_TRUNCATED);
			return 0;
		}
		pkt->key.spi = *spi;
		return 1;
	}

	/* ESP: SPI and sequence number. That much is enough for the kernel
	 * to look the SA up. */
	spi = l4;
	if (l4len < 8 || (void *)(spi + 2) > data_end) {
		note(XS_UL_TRUNCATED);
		return 0;
	}
	pkt->key.spi = *spi;
	return 1;
}

/* Does the frame hold all claim bytes of the IP packet at l3? The length
 * is the sender's word: without this check, spoofed ESP to a known SPI
 * could add any length it liked to that SPI's counters. A packet longer
 * than its frame is cut short, which the kernel drops (ip_rcv, ip6_rcv) and
 * this program notes as XS_UL_TRUNCATED and does not count per SPI, like
 * ESP whose header is cut short. The linear part answers almost always; a
 * multi-buffer frame holds the rest in fragments, which only the helper
 * counts, so it is asked only then. */
static __always_inline bool whole(struct xdp_md *ctx, void *l3, void *data_end, __u32 claim)
{
	void *data = (void *)(long)ctx->data;

	if (claim <= (__u32)(data_end - l3))
		return true;
	return claim <= bpf_xdp_get_buff_len(ctx) - (__u64)(l3 - data);
}

/* Returns 1 for an ESP packet (pkt filled in), 0 for anything else. */
static __always_inline int parse(struct xdp_md *ctx, struct esp_pkt *pkt)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	void *l3;
	__be16 proto;

	if ((void *)(eth + 1) > data_end)
		return 0;
	proto = eth->h_proto;
	l3 = eth + 1;
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD)) {
		struct vlan_hdr *vh = l3;

		if ((void *)(vh + 1) > data_end)
			return 0;
		proto = vh->proto;
		l3 = vh + 1;
	}

	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = l3;
		__u32 hlen, tot_len;

		if ((void *)(iph + 1) > data_end)
			return 0;
		if (iph->protocol != IPPROTO_ESP && iph->protocol != IPPROTO_UDP)
			return 0;
		hlen = iph->ihl * 4;
		if (iph->version != 4 || hlen < sizeof(*iph))
			return 0;
		if (iph->frag_off & bpf_htons(IP_MF | IP_OFFMASK)) {
			/* Only a UDP fragment to port 4500 could be ESP;
			 * later fragments do not say. Note ESP only. */
			if (iph->protocol == IPPROTO_ESP)
				note(XS_UL_FRAGMENT);
			return 0;
		}
		if (l3 + hlen > data_end) {
			note(XS_UL_TRUNCATED);
			return 0;
		}
		/* A total length below the header's leaves no L4 at all. */
		tot_len = bpf_ntohs(iph->tot_len);
		if (!parse_l4(l3 + hlen, data_end, iph->protocol,
			      tot_len > hlen ? tot_len - hlen : 0, pkt))
			return 0;
		if (!whole(ctx, l3, data_end, tot_len)) {
			note(XS_UL_TRUNCATED);
			return 0;
		}
		pkt->key.family = AF_INET;
		pkt->key.daddr[0] = iph->daddr;
		pkt->saddr[0] = iph->saddr;
		pkt->len = tot_len;
		return 1;
	}

	if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6h = l3;
		__u8 nh;

		/* Not IPv6 unless complete and of version 6, as IPv4 above:
		 * only then does nexthdr mean anything. */
		if ((void *)(ip6h + 1) > data_end || ip6h->version != 6)
			return 0;
		nh = ip6h->nexthdr;
		if (nh != IPPROTO_ESP && nh != IPPROTO_UDP) {
			if (nh == NEXTHDR_FRAGMENT)
				note(XS_UL_FRAGMENT);
			else if (nh == NEXTHDR_HOP || nh == NEXTHDR_ROUTING || nh == NEXTHDR_DEST)
				note(XS_UL_V6_EXT);
			return 0;
		}
		if (!parse_l4(ip6h + 1, data_end, nh, bpf_ntohs(ip6h->payload_len), pkt))
			return 0;
		pkt->len = sizeof(*ip6h) + bpf_ntohs(ip6h->payload_len);
		if (!whole(ctx, l3, data_end, pkt->len)) {
			note(XS_UL_TRUNCATED);
			return 0;
		}
		pkt->key.family = AF_INET6;
		__builtin_memcpy(pkt->key.daddr, ip6h->daddr.in6_u.u6_addr32,
				 sizeof(pkt->key.daddr));
		__builtin_memcpy(pkt->saddr, ip6h->saddr.in6_u.u6_addr32, sizeof(pkt->saddr));
		return 1;
	}
	return 0;
}

/* Does the kernel hold an SA for this SPI? Asks the kernel itself where it
 * can: one SA hash lookup, the one xfrm_input() will make anyway. XDP has
 * no packet mark, so the lookup uses mark 0 and does not find SAs with a
 * mark; sa-lookup map is the way for those. */
static __always_inline bool sa_known(struct xdp_md *ctx, const struct ul_spi_key *key)
{
	if (!(cfg.flags & XS_UL_CFG_SA_MAP) && bpf_ksym_exists(bpf_xdp_get_xfrm_state) &&
	    bpf_ksym_exists(bpf_xdp_xfrm_state_release)) {
		struct bpf_xfrm_state_opts opts;
		struct xfrm_state *x;

		__builtin_memset(&opts, 0, sizeof(opts));
		opts.netns_id = BPF_F_CURRENT_NETNS;
		__builtin_memcpy(opts.daddr, key->daddr, sizeof(opts.daddr));
		opts.spi = key->spi;
		opts.proto = IPPROTO_ESP;
		opts.family = key->family;
		x = bpf_xdp_get_xfrm_state(ctx, &opts, sizeof(opts));
		if (!x)
			return false;
		bpf_xdp_xfrm_state_release(x);
		return true;
	}
	return bpf_map_lookup_elem(&ul_known_spis, key) != NULL;
}

static __always_inline void count_spi(void *map, const struct esp_pkt *pkt)
{
	struct ul_spi_stats *st = bpf_map_lookup_elem(map, &pkt->key);
	struct ul_spi_stats fresh = { .packets = 1, .bytes = pkt->len };

	if (!st) {
		if (!bpf_map_update_elem(map, &pkt->key, &fresh, BPF_NOEXIST))
			return;
		/* Another CPU made it first. */
		st = bpf_map_lookup_elem(map, &pkt->key);
		if (!st)
			return;
	}
	st->packets += 1;
	st->bytes += pkt->len;
}

/* ESP without an SA here may be on its way elsewhere: the kernel forwards
 * it untouched, so it is none of our business. Only a route that forwards
 * (a neighbour may still be missing) says so; a local, unroutable or
 * not-forwarding destination is ours. */
static __always_inline bool routed_onwards(struct xdp_md *ctx, const struct esp_pkt *pkt)
{
	struct bpf_fib_lookup fib = {};
	long rc;

	fib.family = pkt->key.family;
	fib.l4_protocol = IPPROTO_ESP;
	fib.ifindex = ctx->ingress_ifindex;
	if (pkt->key.family == AF_INET) {
		fib.ipv4_src = pkt->saddr[0];
		fib.ipv4_dst = pkt->key.daddr[0];
	} else {
		__builtin_memcpy(fib.ipv6_src, pkt->saddr, sizeof(fib.ipv6_src));
		__builtin_memcpy(fib.ipv6_dst, pkt->key.daddr, sizeof(fib.ipv6_dst));
	}
	rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
	return rc == BPF_FIB_LKUP_RET_SUCCESS || rc == BPF_FIB_LKUP_RET_NO_NEIGH;
}

static __always_inline void report_unknown(struct xdp_md *ctx, const struct esp_pkt *pkt)
{
	__u64 now = bpf_ktime_get_ns();
	struct xs_event ev = {};
	__u32 suppressed;

	if (!event_allowed(&ul_event_rl, XS_EV_UNKNOWN_SPI, pkt->key.family, pkt->saddr,
			   cfg.event_interval_ms, now, &suppressed))
		return;
	ev.ts_ns = now;
	ev.type = XS_EV_UNKNOWN_SPI;
	ev.ifindex = ctx->ingress_ifindex;
	ev.spi = pkt->key.spi;
	ev.family = pkt->key.family;
	ev.inner_family = pkt->key.family;
	__builtin_memcpy(ev.peer, pkt->saddr, sizeof(ev.peer));
	__builtin_memcpy(ev.dst, pkt->key.daddr, sizeof(ev.dst));
	ev.suppressed = suppressed;
	if (event_send(&ul_ev_readers, &ev))
		note(XS_UL_EVENT_LOST);
}

SEC("xdp.frags")
int xs_underlay(struct xdp_md *ctx)
{
	struct esp_pkt pkt = {};

	if (!parse(ctx, &pkt))
		return XDP_PASS;
	if (sa_known(ctx, &pkt.key)) {
		count_spi(&ul_sa_stats, &pkt);
		return XDP_PASS;
	}
	if (routed_onwards(ctx, &pkt)) {
		note(XS_UL_TRANSIT);
		return XDP_PASS;
	}
	count_spi(&ul_nosa_stats, &pkt);
	note(XS_UL_UNKNOWN_SPI);
	report_unknown(ctx, &pkt);
	if (cfg.flags & XS_UL_CFG_DROP_UNKNOWN) {
		note(XS_UL_DROPPED);
		return XDP_DROP;
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";

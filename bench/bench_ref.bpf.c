// SPDX-License-Identifier: GPL-2.0
/*
 * Reference programs for the egress benchmark (bench/bench_egress.c).
 *
 * They give xs_egress's cost something to be compared against:
 *   ref_empty  the floor: what BPF_PROG_TEST_RUN itself costs per packet;
 *   ref_hash   the cheapest conceivable steering: xs_egress's L3 parsing,
 *              then exactly one lookup in a plain hash map keyed like
 *              xs_egress's cache (tenant, destination).
 * Neither is ever attached anywhere.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "xfrm_steer.h"

/* Where L3 starts in skb->data, as in xs_egress: 14 under BPF_PROG_TEST_RUN,
 * which always hands the program an Ethernet frame. */
const volatile __u32 l3_off = 0;

/* Same key and value layout, and (set by the benchmark before load) the same
 * max_entries and so the same bucket count, as xs_egress's cache maps; plain
 * preallocated hash instead of LRU. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct cache_key_v4);
	__type(value, struct cache_value);
	__uint(max_entries, XS_DEFAULT_CACHE);
} ref_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct cache_key_v6);
	__type(value, struct cache_value);
	__uint(max_entries, XS_DEFAULT_CACHE);
} ref_v6 SEC(".maps");

SEC("tc")
int ref_empty(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}

/* Copy of xs_egress's l3_ready(): the comparison should differ in the
 * lookups only, not in how the header is reached. */
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

SEC("tc")
int ref_hash(struct __sk_buff *skb)
{
	void *data, *data_end;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		/* Tenant 0: the benchmark steers for tenant 0 only, and
		 * xs_egress's tenant mode is "none" there. */
		struct cache_key_v4 ck = { .tenant = 0 };
		struct iphdr *iph;

		if (l3_ready(skb, sizeof(*iph)))
			return TC_ACT_SHOT;
		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
		iph = data + l3_off;
		if ((void *)(iph + 1) > data_end)
			return TC_ACT_SHOT;
		if (iph->version != 4 || iph->ihl < 5)
			return TC_ACT_SHOT;
		ck.addr = iph->daddr;
		return bpf_map_lookup_elem(&ref_v4, &ck) ? TC_ACT_OK :
							   TC_ACT_SHOT;
	}

	if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct cache_key_v6 ck = { .tenant = 0 };
		struct ipv6hdr *ip6h;

		if (l3_ready(skb, sizeof(*ip6h)))
			return TC_ACT_SHOT;
		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
		ip6h = data + l3_off;
		if ((void *)(ip6h + 1) > data_end)
			return TC_ACT_SHOT;
		if (ip6h->version != 6)
			return TC_ACT_SHOT;
		__builtin_memcpy(ck.addr, &ip6h->daddr, sizeof(ck.addr));
		return bpf_map_lookup_elem(&ref_v6, &ck) ? TC_ACT_OK :
							   TC_ACT_SHOT;
	}

	return TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "GPL";

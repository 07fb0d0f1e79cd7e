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

/* Default map sizes; `attach ... routes N tunnels N` overrides them. */
#define XS_DEFAULT_ROUTES 65536
#define XS_DEFAULT_TUNNELS 65536
#define XS_DEFAULT_CACHE 65536
#define XS_DEFAULT_SECPATH 65536

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

/* Per-destination cache in front of the LPM tries. An entry is valid only if
 * its gen equals meta.route_gen: the loader bumps route_gen after every route
 * change, which invalidates every cached decision at once. */
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
	__u64 gen;
};

/* tunnels: if_id -> tunnel_idx, written by the loader, read by ingress. */
struct tunnel_value {
	__u32 tunnel_idx;
	__u32 pad;
};

/* tunnel_stats: per-CPU array indexed by tunnel_idx. Slot 0 is reserved. */
struct tunnel_stats {
	__u64 tx_packets;
	__u64 tx_bytes;
	__u64 rx_packets;
	__u64 rx_bytes;
	__u64 tx_dropped; /* route found but the kfunc failed */
	__u64 rx_dropped; /* reserved for ingress policy drops */
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
	__u64 bytes;
	__u64 last_seen_ns; /* bpf_ktime_get_ns() */
};

/* meta: a one-entry array. The datapath reads route_gen; the rest is the
 * loader's record of how the interface was attached, so that later commands
 * (route, stats, a re-attach) find the same settings. */
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
	__u32 pad;
};

/* Read-only program configuration (the skeleton's .rodata). */
struct xs_config {
	__u32 tenant_mode;
	__u32 mark_mask;
};

#endif /* XFRM_STEER_H */

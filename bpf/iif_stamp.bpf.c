// SPDX-License-Identifier: GPL-2.0
/*
 * xfrm-steer, tenant-key iif: the binding of a tenant to its LAN interface.
 * Attached at tcx ingress of that interface when a route names it; it sets
 * the stamp bit in skb->mark, which the egress program of the xfrm
 * interface requires of every forwarded packet (and clears). The kernel
 * removes it with the interface: a new interface that gets the old ifindex
 * is no tenant's (include/xfrm_steer.h, struct iif_bind).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* Set by the loader before load: meta.mark_mask of the xfrm device. */
const volatile __u32 stamp = 0x80000000u;

SEC("tcx/ingress")
int xs_iif_stamp(struct __sk_buff *skb)
{
	skb->mark |= stamp;
	return TCX_NEXT; /* whatever else runs here decides */
}

char LICENSE[] SEC("license") = "GPL";

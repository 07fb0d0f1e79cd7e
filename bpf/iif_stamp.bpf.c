// SPDX-License-Identifier: GPL-2.0
/*
 * xfrm-steer, tenant-key iif: the binding of a tenant to its LAN interface.
 * Attached at tcx ingress of that interface when a route names it; it sets
 * the stamp bit in skb->mark, which the egress program of the xfrm
 * interface requires of every forwarded packet (and clears). The kernel
 * removes it with the interface: a new interface that gets the old ifindex
 * is no tenant's (include/xfrm_steer.h, struct iif_bind).
 *
 * A tcx program stays with its device when the device moves to another
 * network namespace, where the device may keep its ifindex and meet a
 * gateway of its own: it stamps only in the namespace it was bound in.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

/* The kernel's types, as far as this program reads them; CO-RE finds the
 * fields in the running kernel's BTF. */
struct ns_common {
	unsigned int inum;
} __attribute__((preserve_access_index));

struct net {
	struct ns_common ns;
} __attribute__((preserve_access_index));

typedef struct {
	struct net *net;
} __attribute__((preserve_access_index)) possible_net_t;

struct net_device {
	possible_net_t nd_net;
} __attribute__((preserve_access_index));

struct sk_buff {
	struct net_device *dev;
} __attribute__((preserve_access_index));

extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;

/* Set by the loader before load: meta.mark_mask of the xfrm device, and
 * the inode of the network namespace the binding was made in. */
const volatile __u32 stamp = 0x80000000u;
const volatile __u32 netns_ino = 0;

SEC("tcx/ingress")
int xs_iif_stamp(struct __sk_buff *skb)
{
	struct sk_buff *k = bpf_cast_to_kern_ctx(skb);

	if (BPF_CORE_READ(k, dev, nd_net.net, ns.inum) == netns_ino)
		skb->mark |= stamp;
	return TCX_NEXT; /* whatever else runs here decides */
}

char LICENSE[] SEC("license") = "GPL";

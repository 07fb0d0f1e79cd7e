// SPDX-License-Identifier: GPL-2.0
/*
 * For the datapath unit tests only: what an external xfrm interface does
 * to a packet before xs_ingress runs, as far as BPF_PROG_TEST_RUN lets a
 * program do it. It puts an if_id on the packet with bpf_skb_set_xfrm_info,
 * where bpf_skb_get_xfrm_info finds it, and tail-calls the program in
 * slot 0 of next (xs_ingress). Without the kfunc it returns SHIM_NO_KFUNC.
 * Its section is xs_ingress's: kernels refuse tail calls between programs
 * of different attach types.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#define SHIM_NO_KFUNC 1000
#define SHIM_NO_TAIL_CALL 1001

struct bpf_xfrm_info {
	__u32 if_id;
	int link;
};

extern int bpf_skb_set_xfrm_info(struct __sk_buff *skb_ctx,
				 const struct bpf_xfrm_info *from) __ksym __weak;

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} next SEC(".maps");

__u32 shim_if_id;

SEC("tcx/ingress")
int ingress_shim(struct __sk_buff *skb)
{
	struct bpf_xfrm_info info = { .if_id = shim_if_id };

	if (!bpf_ksym_exists(bpf_skb_set_xfrm_info) || bpf_skb_set_xfrm_info(skb, &info))
		return SHIM_NO_KFUNC;
	bpf_tail_call(skb, &next, 0);
	return SHIM_NO_TAIL_CALL;
}

char LICENSE[] SEC("license") = "GPL";

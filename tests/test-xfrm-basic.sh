#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The pieces everything else stands on, each checked against what the kernel
# reports: an external xfrm interface, an AES-GCM ESP SA with an if_id, and
# our tc programs (which call bpf_skb_set_xfrm_info) attached to it.
. "$(dirname "$0")/lib.sh"

need_kernel_feature xfrm_interface "no xfrm interfaces in this kernel"
ns=$NSP-basic
ip netns add "$ns"
trap '$XS -n "$ns" detach dev ipsec0 2>/dev/null; ip netns del "$ns" 2>/dev/null || true' EXIT

step "external xfrm interface"
$XS -n "$ns" link add ipsec0
ip -n "$ns" -d link show ipsec0 | tee /dev/stderr | grep -q 'xfrm .*external' ||
	fail "ip -d link show does not say external"
assert_eq "$(ip -n "$ns" -j link show ipsec0 | jq -r '.[0].flags | index("UP") != null')" true "ipsec0 is up"
assert_eq "$($XS -n "$ns" -j link show ipsec0 | jq -r '.[0].external')" true "link show: external"

step "ESP SA with rfc4106(gcm(aes)) and if_id 7"
ip -n "$ns" xfrm state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x100 reqid 1 \
	mode tunnel if_id 7 aead 'rfc4106(gcm(aes))' 0x0102030405060708091011121314151617181920 128
state=$(ip -n "$ns" xfrm state)
echo "$state"
grep -q 'if_id 0x7' <<<"$state" || fail "ip xfrm state does not show if_id 0x7"
grep -q 'rfc4106(gcm(aes))' <<<"$state" || fail "ip xfrm state does not show the AEAD"

step "tc programs calling bpf_skb_set_xfrm_info"
$XS -n "$ns" attach dev ipsec0
net=$(ip netns exec "$ns" bpftool -j net show dev ipsec0)
echo "$net"
assert_eq "$(jq -r '[.[0].tc[] | select(.kind == "tcx/egress") | .name] | join(",")' <<<"$net")" \
	xs_egress "tcx egress program on ipsec0"
assert_eq "$(jq -r '[.[0].tc[] | select(.kind == "tcx/ingress") | .name] | join(",")' <<<"$net")" \
	xs_ingress "tcx ingress program on ipsec0"
# The loaded program really references the kfunc (it would be a no-op
# otherwise): look for the call in the translated instructions.
id=$(jq -r '.[0].tc[] | select(.kind == "tcx/egress") | .prog_id' <<<"$net")
xlated=$(bpftool prog dump xlated id "$id")
grep -q 'call bpf_skb_set_xfrm_info' <<<"$xlated" ||
	fail "egress program does not call bpf_skb_set_xfrm_info"
echo "ok: egress program calls bpf_skb_set_xfrm_info"

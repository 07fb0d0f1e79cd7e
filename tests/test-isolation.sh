#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Tenant isolation on ingress: a peer of tenant A that sends, inside its own
# tunnel, packets with another tenant's source address (or with the address
# of another tunnel of its own tenant) is dropped and counted; its legitimate
# traffic still passes. With "rpf off" the same packets get through, which
# shows that the kernel's wildcard policies alone do not stop them.
. "$(dirname "$0")/lib.sh"

need_kernel_feature xfrm_interface "no xfrm interfaces in this kernel"
topo_gateway
# mark-ingress gives decrypted packets their tenant's mark, and with
# fwmark_reflect the gateway's own replies carry it back into the tunnel.
ip netns exec "$GW" sysctl -qw net.ipv4.fwmark_reflect=1 net.ipv6.fwmark_reflect=1
$XS -n "$GW" attach dev ipsec0 tenant-key mark 0xff00 mark-ingress on
topo_peer 1 101 192.168.1.200 2001:db8:1::200
topo_peer 2 102 192.168.2.200 2001:db8:2::200
topo_peer 3 103 192.168.3.200 2001:db8:3::200
$XS -n "$GW" route add 192.168.1.0/24 if_id 101 tenant 0x100 dev ipsec0
$XS -n "$GW" route add 192.168.3.0/24 if_id 103 tenant 0x100 dev ipsec0
$XS -n "$GW" route add 192.168.2.0/24 if_id 102 tenant 0x200 dev ipsec0
$XS -n "$GW" route add 2001:db8:1::/64 if_id 101 tenant 0x100 dev ipsec0
$XS -n "$GW" route add 2001:db8:2::/64 if_id 102 tenant 0x200 dev ipsec0

p1=$(peer_ns 1)
gw_in1() { sa_counters "$GW" 10.0.1.2 10.0.1.1 "$(spi_in 1)" | cut -d' ' -f1; }
t101() { xsj "$GW" stats dev ipsec0 if_id 101 | jq -r ".[0].$1"; }
rpf() { xsj "$GW" stats drops dev ipsec0 | jq '.[] | select(.reason == "rpf") | .packets'; }

# Peer 1 may now send, through its own tunnel, from addresses it does not own.
spoof_from() { # ADDR
	local fam=4 net=10.255.0.0/16 len=32
	case $1 in *:*) fam=6 net=fd00:255::/64 len=128 ;; esac
	ip -n "$p1" addr add "$1/$len" dev lo nodad 2>/dev/null || ip -n "$p1" addr add "$1/$len" dev lo
	ip -n "$p1" xfrm policy add dir out src "$1/$len" dst "$net" \
		tmpl src 10.0.1.2 dst 10.0.1.1 proto esp reqid 1 mode tunnel
}
spoof_from 192.168.2.200 # tenant 0x200's address
spoof_from 192.168.3.77  # tenant 0x100, but routed to tunnel 103
spoof_from 2001:db8:2::200

step "legitimate traffic of peer 1 passes"
ip netns exec "$GW" ping -q -c 2 -i 0.2 -W 2 -m 256 192.168.1.200
ip netns exec "$p1" ping -q -c 2 -i 0.2 -W 2 -I 192.168.1.200 10.255.0.1
assert_eq "$(t101 rx_dropped)" 0 "rx_dropped on if_id 101"
rx0=$(t101 rx_packets)
in0=$(gw_in1)
r0=$(rpf)

step "spoofed sources are decrypted by the kernel, then dropped by xfrm-steer"
assert_fails "ping with tenant B's source" ip netns exec "$p1" ping -q -c 3 -i 0.2 -W 1 -I 192.168.2.200 10.255.0.1
assert_fails "ping with a source of another tunnel" ip netns exec "$p1" ping -q -c 2 -i 0.2 -W 1 -I 192.168.3.77 10.255.0.1
assert_fails "IPv6 ping with tenant B's source" ip netns exec "$p1" ping -6 -q -c 1 -W 1 -I 2001:db8:2::200 fd00:255::1
assert_eq "$(($(gw_in1) - in0))" 6 "packets the gateway's SA decrypted"
assert_eq "$(($(rpf) - r0))" 6 "rpf drops"
assert_eq "$(t101 rx_dropped)" 6 "rx_dropped on if_id 101"
assert_eq "$(t101 rx_packets)" "$rx0" "rx_packets on if_id 101 unchanged"

step "legitimate traffic still passes"
ip netns exec "$p1" ping -q -c 2 -i 0.2 -W 2 -I 192.168.1.200 10.255.0.1
assert_eq "$(($(t101 rx_packets) - rx0))" 2 "rx_packets after the spoofing"

step "rpf off: the same packets are delivered (the check is what stopped them)"
$XS -n "$GW" attach dev ipsec0 rpf off
rx1=$(t101 rx_packets)
r1=$(rpf)
# The replies have no route back into tenant 0x100's tunnel, so the pings
# still fail; what matters is that the gateway accepted the requests.
ip netns exec "$p1" ping -q -c 3 -i 0.2 -W 1 -I 192.168.2.200 10.255.0.1 || true
assert_eq "$(($(t101 rx_packets) - rx1))" 3 "spoofed packets received with rpf off"
assert_eq "$(rpf)" "$r1" "rpf drops with rpf off"

step "rpf strict again"
$XS -n "$GW" attach dev ipsec0 rpf strict
assert_fails "spoofed ping with rpf strict" ip netns exec "$p1" ping -q -c 1 -W 1 -I 192.168.2.200 10.255.0.1
assert_eq "$(($(rpf) - r1))" 1 "rpf drops after re-enabling"

step "a tunnel serves one tenant"
assert_fails "route to if_id 101 for tenant 0x200" \
	$XS -n "$GW" route add 192.168.9.0/24 if_id 101 tenant 0x200 dev ipsec0

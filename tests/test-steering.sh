#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Multi-tenant steering end to end: one external interface, three peers, two
# of them with the same inner addresses, tenants chosen by packet mark. Which
# peer got the traffic is read from the peers' own SA counters.
. "$(dirname "$0")/lib.sh"

need_kernel_feature xfrm_interface "no xfrm interfaces in this kernel"

step "topology"
topo_gateway
$XS -n "$GW" attach dev ipsec0 tenant-key mark 0xff00
topo_peer 1 101 192.168.1.200 2001:db8:1::200
topo_peer 2 102 192.168.1.200 2001:db8:1::200
topo_peer 3 103 192.168.3.200 2001:db8:3::200
# tenant 0x100 owns peers 1 and 3, tenant 0x200 owns peer 2
$XS -n "$GW" route add 192.168.1.0/24 if_id 101 tenant 0x100 dev ipsec0
$XS -n "$GW" route add 2001:db8:1::/64 if_id 101 tenant 0x100 dev ipsec0
$XS -n "$GW" route add 192.168.3.0/24 if_id 103 tenant 0x100 dev ipsec0
$XS -n "$GW" route add 2001:db8:3::/64 if_id 103 tenant 0x100 dev ipsec0
$XS -n "$GW" route add 192.168.1.0/24 if_id 102 tenant 0x200 dev ipsec0
$XS -n "$GW" route add 2001:db8:1::/64 if_id 102 tenant 0x200 dev ipsec0
$XS -n "$GW" route show dev ipsec0
assert_eq "$(xsj "$GW" route show dev ipsec0 | jq length)" 6 "routes installed"

# peer k's inbound SA counts what the gateway steered to it.
peer_rx() { sa_counters "$(peer_ns "$1")" "10.0.$1.1" "10.0.$1.2" "$(spi_out "$1")" | cut -d' ' -f1; }
gw_rx() { sa_counters "$GW" "10.0.$1.2" "10.0.$1.1" "$(spi_in "$1")" | cut -d' ' -f1; }

step "tenant 0x100 reaches peer 1, tenant 0x200 peer 2: same inner address"
ip netns exec "$GW" ping -q -c 3 -i 0.2 -W 2 -m 256 192.168.1.200
ip netns exec "$GW" ping -q -c 2 -i 0.2 -W 2 -m 512 192.168.1.200
assert_eq "$(peer_rx 1)" 3 "peer 1 SA packets (tenant 0x100)"
assert_eq "$(peer_rx 2)" 2 "peer 2 SA packets (tenant 0x200)"
assert_eq "$(gw_rx 1)" 3 "replies decrypted from peer 1"
assert_eq "$(gw_rx 2)" 2 "replies decrypted from peer 2"

step "IPv6 inner traffic through the same interface"
ip netns exec "$GW" ping -6 -q -c 2 -i 0.2 -W 2 -m 512 2001:db8:1::200
ip netns exec "$GW" ping -6 -q -c 4 -i 0.2 -W 2 -m 256 2001:db8:3::200
assert_eq "$(peer_rx 2)" 4 "peer 2 SA packets after IPv6 ping"
assert_eq "$(peer_rx 3)" 4 "peer 3 SA packets (IPv6)"
assert_eq "$(peer_rx 1)" 3 "peer 1 untouched by other tenants' traffic"

step "per-tunnel statistics equal the kernel's SA counters"
stats=$(xsj "$GW" stats dev ipsec0)
echo "$stats" | jq -c '.[]'
$XS -n "$GW" stats
for k in 1 2 3; do
	read -r sa_tx_p sa_tx_b <<<"$(sa_counters "$GW" "10.0.$k.1" "10.0.$k.2" "$(spi_out "$k")")"
	read -r sa_rx_p sa_rx_b <<<"$(sa_counters "$GW" "10.0.$k.2" "10.0.$k.1" "$(spi_in "$k")")"
	row=$(jq -c ".[] | select(.if_id == 10$k)" <<<"$stats")
	assert_eq "$(jq .tx_packets <<<"$row")" "$sa_tx_p" "if_id 10$k tx_packets vs SA"
	assert_eq "$(jq .tx_bytes <<<"$row")" "$sa_tx_b" "if_id 10$k tx_bytes vs SA"
	assert_eq "$(jq .rx_packets <<<"$row")" "$sa_rx_p" "if_id 10$k rx_packets vs SA"
	assert_eq "$(jq .rx_bytes <<<"$row")" "$sa_rx_b" "if_id 10$k rx_bytes vs SA"
done

step "unrouted destination and unknown tenant: dropped, counted, nothing on the underlay"
ul_tx() { ip -n "$GW" -j -s link show "ul$1" | jq '.[0].stats64.tx.packets'; }
before="$(ul_tx 1) $(ul_tx 2) $(ul_tx 3)"
nr0=$(xsj "$GW" stats drops dev ipsec0 | jq '.[] | select(.reason == "no_route") | .packets')
assert_fails "ping to an unrouted prefix" ip netns exec "$GW" ping -q -c 2 -i 0.2 -W 1 -m 256 192.168.9.9
assert_fails "ping from a tenant with no routes" ip netns exec "$GW" ping -q -c 2 -i 0.2 -W 1 -m 768 192.168.1.200
nr1=$(xsj "$GW" stats drops dev ipsec0 | jq '.[] | select(.reason == "no_route") | .packets')
# ping retries a request that the local stack refused (ENOBUFS) a varying
# number of times, so 4 requests make at least 4 counted attempts.
assert_ge "$((nr1 - nr0))" 4 "no_route drops"
assert_eq "$(ul_tx 1) $(ul_tx 2) $(ul_tx 3)" "$before" "underlay transmit counters"
assert_eq "$(peer_rx 1) $(peer_rx 2) $(peer_rx 3)" "3 4 4" "peer SA counters unchanged"

step "route replace moves a prefix to another tunnel at once"
$XS -n "$GW" route add 192.168.3.0/24 if_id 101 tenant 0x100 dev ipsec0
assert_eq "$(xsj "$GW" route show dev ipsec0 | jq '[.[] | select(.prefix == "192.168.3.0/24")] | .[0].if_id')" 101 "replaced route"
assert_fails "ping over the replaced route (peer 1 lacks 192.168.3.200)" \
	ip netns exec "$GW" ping -q -c 1 -W 1 -m 256 192.168.3.200
assert_eq "$(peer_rx 1)" 4 "peer 1 got the packet for 192.168.3.200"
assert_eq "$(peer_rx 3)" 4 "peer 3 no longer gets it"

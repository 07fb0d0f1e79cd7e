#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The gateway case for "tenant-key iif": hosts of two tenants, each behind its
# own LAN interface of the gateway, reach the same inner address through
# different tunnels, and only their FORWARDED packets are steered, by the
# interface they came in on. A third LAN with no routes is no tenant (no route
# bound it) and gets nothing out: its packets are counted as iif_unbound
# exactly once each and the underlay stays silent. The peers' and the
# gateway's own SA counters are the judges.
. "$(dirname "$0")/lib.sh"

need_kernel_feature xfrm_interface "no xfrm interfaces in this kernel"

# A tenant host netns "$NSP-t<x>" whose eth0 is the far end of the gateway's
# lan-<x>: IPv4 10.255.<n>.2/24 behind 10.255.<n>.1, IPv6 fd00:255::<n>:2/128
# behind the gateway's fe80::1 on lan-<x>. Both families sit inside the
# prefixes the peers' policies cover (10.255.0.0/16, fd00:255::/64).
tenant_host() { # X N
	local n=$2 ns="$NSP-t$1" lan="lan-$1"
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
		net.ipv6.conf.default.accept_dad=0
	ip link add "$lan" netns "$GW" type veth peer name eth0 netns "$ns"
	ip netns exec "$GW" sysctl -qw "net.ipv4.conf.$lan.rp_filter=0" \
		"net.ipv6.conf.$lan.accept_dad=0"
	ip -n "$GW" addr add "10.255.$n.1/24" dev "$lan"
	ip -n "$GW" addr add fe80::1/64 dev "$lan" nodad
	ip -n "$GW" link set "$lan" up
	ip -n "$GW" -6 route add "fd00:255::$n:2/128" dev "$lan"
	ip -n "$ns" addr add "10.255.$n.2/24" dev eth0
	ip -n "$ns" addr add "fd00:255::$n:2/128" dev eth0 nodad
	ip -n "$ns" link set eth0 up
	ip -n "$ns" route add default via "10.255.$n.1"
	ip -n "$ns" -6 route add default via fe80::1 dev eth0
}

step "topology: gateway with tenant-key iif; peers 1 and 2 share an inner address"
topo_gateway
ip netns exec "$GW" sysctl -qw net.ipv6.conf.all.forwarding=1
$XS -n "$GW" attach dev ipsec0 tenant-key iif
assert_eq "$(xsj "$GW" link show ipsec0 | jq -r '.[0].external')" true "ipsec0 is external"
topo_peer 1 101 192.168.1.200 2001:db8:1::200
topo_peer 2 102 192.168.1.200 2001:db8:1::200
topo_peer 3 103 192.168.3.200 2001:db8:3::200
tenant_host a 1
tenant_host b 2
tenant_host c 3
# tenant lan-a owns peer 1, tenant lan-b peer 2, tenant lan-c nothing;
# peer 3 is for the gateway itself (tenant 0), routed further down
$XS -n "$GW" route add 192.168.1.0/24 if_id 101 tenant lan-a dev ipsec0
$XS -n "$GW" route add 2001:db8:1::/64 if_id 101 tenant lan-a dev ipsec0
$XS -n "$GW" route add 192.168.1.0/24 if_id 102 tenant lan-b dev ipsec0
$XS -n "$GW" route add 2001:db8:1::/64 if_id 102 tenant lan-b dev ipsec0
$XS -n "$GW" route show dev ipsec0
routes=$(xsj "$GW" route show dev ipsec0)
assert_eq "$(jq length <<<"$routes")" 4 "routes installed"

peer_rx() { sa_counters "$(peer_ns "$1")" "10.0.$1.1" "10.0.$1.2" "$(spi_out "$1")" | cut -d' ' -f1; }
gw_rx() { sa_counters "$GW" "10.0.$1.2" "10.0.$1.1" "$(spi_in "$1")" | cut -d' ' -f1; }
ul_tx() { ip -n "$GW" -j -s link show "ul$1" | jq '.[0].stats64.tx.packets'; }
drops() { xsj "$GW" stats drops dev ipsec0 | jq --arg r "$1" '[.[] | select(.reason == $r) | .packets] | add // 0'; }
no_route() { drops no_route; }
host_ping() { # X ARGS...
	local ns="$NSP-t$1"
	shift
	ip netns exec "$ns" ping -q -i 0.2 -W 2 "$@"
}

step "forwarded IPv4: tenant A reaches peer 1, tenant B peer 2, replies come back"
host_ping a -c 3 192.168.1.200
host_ping b -c 2 192.168.1.200
assert_eq "$(peer_rx 1)" 3 "peer 1 SA packets (tenant lan-a)"
assert_eq "$(peer_rx 2)" 2 "peer 2 SA packets (tenant lan-b)"
assert_eq "$(gw_rx 1)" 3 "replies decrypted from peer 1"
assert_eq "$(gw_rx 2)" 2 "replies decrypted from peer 2"

step "forwarded IPv6: the same, through the same interface"
host_ping a -6 -c 4 2001:db8:1::200
host_ping b -6 -c 1 2001:db8:1::200
assert_eq "$(peer_rx 1)" 7 "peer 1 SA packets after IPv6"
assert_eq "$(peer_rx 2)" 3 "peer 2 SA packets after IPv6"
assert_eq "$(gw_rx 1)" 7 "replies decrypted from peer 1 after IPv6"
assert_eq "$(gw_rx 2)" 3 "replies decrypted from peer 2 after IPv6"

step "the tenant of a route is the LAN interface, by name, bound by its stamp program"
for lan_ifid in lan-a:101 lan-b:102; do
	lan=${lan_ifid%:*} ifid=${lan_ifid#*:}
	assert_eq "$(jq -c "[.[] | select(.tenant == \"$lan\") | .if_id]" <<<"$routes")" \
		"[$ifid,$ifid]" "if_ids of the routes with tenant $lan"
	assert_eq "$(ip netns exec "$GW" bpftool net show dev "$lan" | grep -c xs_iif_stamp)" 1 \
		"stamp programs on $lan"
done
assert_fails "route with a tenant interface that does not exist" \
	"$XS" -n "$GW" route add 192.168.1.0/24 if_id 101 tenant lan-z dev ipsec0

step "the gateway's own packets came in on no interface: tenant 0"
nr0=$(no_route)
assert_fails "local ping from the gateway to tenant A's prefix" \
	ip netns exec "$GW" ping -q -c 1 -W 1 192.168.1.200
assert_ge "$(($(no_route) - nr0))" 1 "no_route drops for the local ping"
assert_eq "$(peer_rx 1) $(peer_rx 2)" "7 3" "peer SA counters unchanged by the local ping"
# peer 3 serves tenant 0 only: the gateway reaches it, the LAN hosts do not.
$XS -n "$GW" route add 192.168.3.0/24 if_id 103 tenant 0 dev ipsec0
ip netns exec "$GW" ping -q -c 2 -i 0.2 -W 2 192.168.3.200
assert_eq "$(peer_rx 3)" 2 "local pings went to peer 3 by the tenant 0 route"
nr0=$(no_route)
assert_fails "tenant A to tenant 0's prefix" host_ping a -c 2 -W 1 192.168.3.200
assert_eq "$(($(no_route) - nr0))" 2 "no_route drops for tenant A's 2 requests"
assert_eq "$(peer_rx 1) $(peer_rx 2) $(peer_rx 3)" "7 3 2" "peer SA counters"

step "per-tunnel statistics equal the gateway's SA counters"
stats=$(xsj "$GW" stats dev ipsec0)
jq -c '.[]' <<<"$stats"
for k in 1 2 3; do
	read -r sa_tx_p sa_tx_b <<<"$(sa_counters "$GW" "10.0.$k.1" "10.0.$k.2" "$(spi_out "$k")")"
	read -r sa_rx_p sa_rx_b <<<"$(sa_counters "$GW" "10.0.$k.2" "10.0.$k.1" "$(spi_in "$k")")"
	row=$(jq -c ".[] | select(.if_id == 10$k)" <<<"$stats")
	assert_eq "$(jq .tx_packets <<<"$row")" "$sa_tx_p" "if_id 10$k tx_packets vs SA"
	assert_eq "$(jq .tx_bytes <<<"$row")" "$sa_tx_b" "if_id 10$k tx_bytes vs SA"
	assert_eq "$(jq .rx_packets <<<"$row")" "$sa_rx_p" "if_id 10$k rx_packets vs SA"
	assert_eq "$(jq .rx_bytes <<<"$row")" "$sa_rx_b" "if_id 10$k rx_bytes vs SA"
done

step "lan-c is no tenant (no route names it): dropped once per packet, nothing on the underlay"
before="$(ul_tx 1) $(ul_tx 2) $(ul_tx 3)"
nr0=$(no_route)
un0=$(drops iif_unbound)
assert_fails "IPv4 ping from lan-c" host_ping c -c 3 -W 1 192.168.1.200
assert_fails "IPv6 ping from lan-c" host_ping c -6 -c 2 -W 1 2001:db8:1::200
# Forwarded packets are not retried the way a local sender retries ENOBUFS:
# every echo request is exactly one drop.
assert_eq "$(($(drops iif_unbound) - un0))" 5 "iif_unbound drops for lan-c's 5 requests"
assert_eq "$(($(no_route) - nr0))" 0 "no_route drops for lan-c"
assert_eq "$(ul_tx 1) $(ul_tx 2) $(ul_tx 3)" "$before" "underlay transmit counters"
assert_eq "$(peer_rx 1) $(peer_rx 2) $(peer_rx 3)" "7 3 2" "peer SA counters unchanged"

step "a routed tenant, an unrouted destination: one drop per packet too"
nr0=$(no_route)
assert_fails "tenant A to an unrouted prefix" host_ping a -c 2 -W 1 192.168.9.9
assert_eq "$(($(no_route) - nr0))" 2 "no_route drops for tenant A's unrouted requests"
assert_eq "$(ul_tx 1) $(ul_tx 2) $(ul_tx 3)" "$before" "underlay transmit counters"

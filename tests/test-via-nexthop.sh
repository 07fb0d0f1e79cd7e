#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The README's and the man page's advice for many inner destinations, done
# as written there: route into ipsec0 through a next hop that is never
# sent anywhere (IPv4 "via 169.254.0.1 dev ipsec0 onlink", IPv6 "via
# fe80::1 dev ipsec0"). Steering stays per packet (each tunnel's SAs count
# exactly its traffic, and xfrm-steer's per-tunnel counters agree), the
# kernel keeps the one NOARP neighbour entry the README describes instead
# of one per destination, and an unrouted destination is still dropped and
# counted. Half of it runs as operators do, under "ip netns exec".
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-tunnel.sh"

NH4=169.254.0.1
NH6=fe80::1
# The routes as the documents give them (the README wraps its line).
ROUTE4="ip route add 192.168.0.0/16 via $NH4 dev ipsec0 onlink src $GW_IN4"
VIA6="via $NH6 dev ipsec0"

step "the README and the man page give these routes"
flat() { tr -s ' \n' '  ' <"$1"; }
flat README.md | grep -qF "\`$ROUTE4\`" || fail "README.md no longer says \`$ROUTE4\`: update this test"
flat README.md | grep -qF "(IPv6: \`$VIA6\`)" || fail "README.md no longer says (IPv6: \`$VIA6\`)"
flat man/xfrm-steer.8 | grep -qF ".B $ROUTE4 " || fail "man/xfrm-steer.8 no longer says $ROUTE4"
flat man/xfrm-steer.8 | grep -qF ".BR \"$VIA6\" )" || fail "man/xfrm-steer.8 no longer says $VIA6"
echo "ok: documents"

need_kernel_feature xfrm_interface "no xfrm interfaces in this kernel"

step "topology: two peers; the gateway's kernel routes through the next hop"
topo_gateway
# In place of topo_gateway's plain "dev ipsec0" routes, as the README says.
ip -n "$GW" route del 192.168.0.0/16
ip -n "$GW" -6 route del 2001:db8::/32
# shellcheck disable=SC2086
ip -n "$GW" ${ROUTE4#ip }
# shellcheck disable=SC2086
ip -n "$GW" -6 route add 2001:db8::/32 $VIA6
assert_eq "$(ip -n "$GW" -j route show 192.168.0.0/16 | jq -c '.[] | [.gateway, .dev, (.flags | index("onlink") != null)]')" \
	"[\"$NH4\",\"ipsec0\",true]" "IPv4 route's next hop"
assert_eq "$(ip -n "$GW" -6 -j route show 2001:db8::/32 | jq -c '.[] | [.gateway, .dev]')" \
	"[\"$NH6\",\"ipsec0\"]" "IPv6 route's next hop"
$XS -n "$GW" attach dev ipsec0
topo_peer 1 101 192.168.1.200 2001:db8:1::200
topo_peer 2 102 192.168.2.200 2001:db8:2::200
xe() { ip netns exec "$GW" "$XS" "$@"; }
# Tunnel 1's routes with -n, tunnel 2's under ip netns exec.
$XS -n "$GW" route add 192.168.1.0/24 if_id 101 dev ipsec0
$XS -n "$GW" route add 2001:db8:1::/64 if_id 101 dev ipsec0
xe route add 192.168.2.0/24 if_id 102 dev ipsec0
xe route add 2001:db8:2::/64 if_id 102 dev ipsec0
assert_eq "$(xsj "$GW" route show dev ipsec0 | jq -c '[.[] | [.prefix, .if_id]] | sort')" \
	'[["192.168.1.0/24",101],["192.168.2.0/24",102],["2001:db8:1::/64",101],["2001:db8:2::/64",102]]' \
	"routes (-n)"

# Packets the peers' SAs from the gateway decrypted: what went to each.
counts() { echo "$(peer_rx 1) $(peer_rx 2)"; }

step "traffic: each ping reaches its own peer, the other's SAs stay still"
gping() { ip netns exec "$GW" ping -q -i 0.2 -W 2 "$@" >/dev/null || fail "ping $*"; }
gping -c 3 192.168.1.200
assert_eq "$(counts)" "3 0" "peer 1 and peer 2 SA packets after 3 to 192.168.1.200"
gping -c 2 192.168.2.200
assert_eq "$(counts)" "3 2" "after 2 to 192.168.2.200"
gping -6 -c 2 2001:db8:1::200
assert_eq "$(counts)" "5 2" "after 2 to 2001:db8:1::200"
gping -6 -c 4 2001:db8:2::200
assert_eq "$(counts)" "5 6" "after 4 to 2001:db8:2::200"

step "stats (-n and ip netns exec) equal the gateway's SA counters"
want=$(for k in 1 2; do
	read -r txp txb <<<"$(sa_counters "$GW" "10.0.$k.1" "10.0.$k.2" "$(spi_out "$k")")"
	read -r rxp rxb <<<"$(sa_counters "$GW" "10.0.$k.2" "10.0.$k.1" "$(spi_in "$k")")"
	echo "10$k $txp $txb $rxp $rxb"
done)
rows='.[] | "\(.if_id) \(.tx_packets) \(.tx_bytes) \(.rx_packets) \(.rx_bytes)"'
stats=$(xsj "$GW" stats dev ipsec0)
assert_eq "$(jq -r "$rows" <<<"$stats")" "$want" "stats -n"
assert_eq "$(jq -c '[.[] | [.if_id, .tx_packets, .rx_packets]]' <<<"$stats")" '[[101,5,5],[102,6,6]]' "packets per tunnel"
assert_eq "$(xe -j stats dev ipsec0 | jq -r "$rows")" "$want" "stats under ip netns exec"

step "unrouted destinations under the next-hop routes: dropped and counted"
ul_tx() { ip -n "$GW" -j -s link show "ul$1" | jq '.[0].stats64.tx.packets'; }
no_route() { "$@" -j stats drops dev ipsec0 | jq '.[] | select(.reason == "no_route") | .packets'; }
before="$(ul_tx 1) $(ul_tx 2)"
nr0=$(no_route xe)
assert_eq "$(no_route "$XS" -n "$GW")" "$nr0" "no_route drops: -n = ip netns exec"
# Each destination's drops read in turn with -n and under ip netns exec
# (ping retries a refused request, so at least one each).
i=0
for dst in 192.168.99.1 2001:db8:99::1; do
	assert_fails "ping $dst (no xfrm-steer route)" \
		ip netns exec "$GW" ping -q -c 1 -W 1 "$dst"
	if ((i++ % 2)); then
		nr1=$(no_route xe) how="ip netns exec"
	else
		nr1=$(no_route "$XS" -n "$GW") how=-n
	fi
	assert_ge "$((nr1 - nr0))" 1 "no_route drops for $dst ($how)"
	nr0=$nr1
done
assert_eq "$(ul_tx 1) $(ul_tx 2)" "$before" "underlay transmit counters"
assert_eq "$(counts)" "5 6" "peer SA packets"

step "ipsec0's neighbours: the one next hop for every destination, NOARP"
ip -n "$GW" neigh show nud all dev ipsec0
ip -n "$GW" -d link show ipsec0 | head -1
# What the README says: ipsec0 is NOARP, and its entries show with
# "nud all" only.
assert_eq "$(ip -n "$GW" -j link show ipsec0 | jq '.[0].flags | index("NOARP") != null')" true "ipsec0 NOARP"
assert_eq "$(ip -n "$GW" -4 -j neigh show nud all dev ipsec0 | jq -c '[.[] | [.dst, .state]]')" \
	"[[\"$NH4\",[\"NOARP\"]]]" "IPv4 neighbours (after 3 destinations)"
# The interface's own IPv6 multicast (MLD, router solicitations) has
# entries of its own: only unicast destinations are the routes' doing.
assert_eq "$(ip -n "$GW" -6 -j neigh show nud all dev ipsec0 |
	jq -c '[.[] | select(.dst | startswith("ff") | not) | [.dst, .state]]')" \
	"[[\"$NH6\",[\"NOARP\"]]]" "IPv6 unicast neighbours (after 3 destinations)"
assert_eq "$(ip -n "$GW" neigh show dev ipsec0)" "" "plain ip neigh show dev ipsec0"

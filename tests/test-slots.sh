#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# A tunnel's counter slot lives as long as something refers to its if_id (a
# route or a named tunnel): when the last route goes, its slot, counters and
# tenant binding go too. So a table of 100 serves 10,000 if_ids over time
# (road warriors with if_id %unique, one route add and del per CHILD_SA),
# stats lists only if_ids that are in use, and an if_id used again starts
# from zero.
. "$(dirname "$0")/lib.sh"

need_kernel_feature xfrm_interface "no xfrm interfaces in this kernel"
tmp=$(mktemp)
trap 'rm -f "$tmp"; topo_cleanup' EXIT
topo_gateway
$XS -n "$GW" attach dev ipsec0 tunnels 100
topo_peer 1 101 192.168.1.200 2001:db8:1::200
$XS -n "$GW" route add 192.168.1.0/24 if_id 101 dev ipsec0
$XS -n "$GW" route add 2001:db8:1::/64 if_id 101 dev ipsec0
rows() { xsj "$GW" stats dev ipsec0 | jq -c '[.[].if_id]'; }

step "10,000 new if_ids, one route each, added and deleted in turn (one -batch)"
for ((i = 1; i <= 10000; i++)); do
	p="10.$((100 + i / 250)).$((i % 250)).0/24"
	echo "route add $p if_id $((1000 + i)) dev ipsec0"
	echo "route del $p dev ipsec0"
done >"$tmp"
t0=$(date +%s%N)
$XS -n "$GW" -batch "$tmp"
echo "ok: 20,000 commands in $((($(date +%s%N) - t0) / 1000000)) ms"
assert_eq "$(rows)" "[101]" "if_ids with a stats row"

step "the same again, one command at a time, past the size of a smaller table"
# A table of 5: eight commands each, so the test stays short under emulation.
$XS -n "$GW" detach dev ipsec0
$XS -n "$GW" attach dev ipsec0 tunnels 5
$XS -n "$GW" route add 192.168.1.0/24 if_id 101 dev ipsec0
$XS -n "$GW" route add 2001:db8:1::/64 if_id 101 dev ipsec0
for ((i = 1; i <= 8; i++)); do
	$XS -n "$GW" route add "10.99.$i.0/24" if_id $((20000 + i)) tenant 0 dev ipsec0
	$XS -n "$GW" route del "10.99.$i.0/24" dev ipsec0
done
assert_eq "$(rows)" "[101]" "if_ids with a stats row"

step "a slot stays while one route still leads to it"
ip netns exec "$GW" ping -q -c 2 -i 0.2 -W 2 192.168.1.200 >/dev/null
assert_eq "$(xsj "$GW" stats dev ipsec0 if_id 101 | jq '.[0].tx_packets')" 2 "tx_packets"
$XS -n "$GW" route del 2001:db8:1::/64 dev ipsec0
assert_eq "$(xsj "$GW" stats dev ipsec0 if_id 101 | jq '.[0].tx_packets')" 2 "tx_packets with one route left"
step "and goes with the last; the if_id used again starts from zero"
$XS -n "$GW" route del 192.168.1.0/24 dev ipsec0
assert_eq "$(rows)" "[]" "if_ids with a stats row"
$XS -n "$GW" route add 192.168.1.0/24 if_id 101 dev ipsec0
assert_eq "$(xsj "$GW" stats dev ipsec0 if_id 101 | jq '.[0].tx_packets')" 0 "tx_packets of the re-used if_id"
ip netns exec "$GW" ping -q -c 1 -W 2 192.168.1.200 >/dev/null
assert_eq "$(xsj "$GW" stats dev ipsec0 if_id 101 | jq '.[0].tx_packets')" 1 "tx_packets"

step "a route moved to another if_id frees the old one's slot"
$XS -n "$GW" route add 192.168.1.0/24 if_id 102 dev ipsec0
assert_eq "$(rows)" "[102]" "if_ids with a stats row"

step "a named tunnel keeps its slot without routes of its own"
$XS -n "$GW" tunnel add t1 if_id 301 local 10.0.1.1 remote 10.0.1.2 spi-in 0x7001 spi-out 0x7002 \
	aead aes-gcm 0x0123456789abcdef0123456789abcdef01234567 128 prefix 192.168.30.0/24 dev ipsec0
# Its own prefix taken away by hand: no route leads to 301, the record does.
$XS -n "$GW" route del 192.168.30.0/24 dev ipsec0
assert_eq "$(xsj "$GW" route show | jq '[.[] | select(.if_id == 301)] | length')" 0 "routes to if_id 301"
xsj "$GW" stats dev ipsec0 | jq -e 'any(.[]; .if_id == 301)' >/dev/null || fail "tunnel t1 lost its stats row"
echo "ok: t1's row stays with no route"

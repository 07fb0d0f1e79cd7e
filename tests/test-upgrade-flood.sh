#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Atomic upgrade: re-attaching the programs over and over while sequence-
# numbered packets flow loses none of them (every echo request is answered),
# and routes and counters carry on across the program replacements.
. "$(dirname "$0")/lib.sh"

need_kernel_feature xfrm_interface "no xfrm interfaces in this kernel"
topo_gateway
$XS -n "$GW" attach dev ipsec0
topo_peer 1 101 192.168.1.200 2001:db8:1::200
$XS -n "$GW" route add 192.168.1.0/24 if_id 101 dev ipsec0
peer_rx() { sa_counters "$(peer_ns 1)" 10.0.1.1 10.0.1.2 "$(spi_out 1)" | cut -d' ' -f1; }
tx() { xsj "$GW" stats dev ipsec0 if_id 101 | jq '.[0].tx_packets'; }

ip netns exec "$GW" ping -q -c 3 -i 0.2 -W 2 192.168.1.200 >/dev/null
tx0=$(tx)
rx0=$(peer_rx)
assert_eq "$tx0" 3 "tx_packets before the flood"

step "3000 echo requests at 5 ms intervals, upgrades for as long as they flow"
log=$(mktemp)
ip netns exec "$GW" ping -q -c 3000 -i 0.005 -W 5 192.168.1.200 >"$log" 2>&1 &
pid=$!
sleep 0.5
# Upgrade again and again while the flood lasts; count only upgrades that
# completed with packets still flowing, so a slow machine cannot pass the
# test without an upgrade under traffic.
ids=()
upgrades=0
while kill -0 "$pid" 2>/dev/null; do
	$XS -n "$GW" attach dev ipsec0
	kill -0 "$pid" 2>/dev/null || break
	upgrades=$((upgrades + 1))
	ids+=("$(ip netns exec "$GW" bpftool -j net show dev ipsec0 | jq '.[0].tc[] | select(.kind == "tcx/egress") | .prog_id')")
done
wait "$pid" || true
cat "$log"
assert_ge "$upgrades" 1 "upgrades completed during the flood"
[ "$(printf '%s\n' "${ids[@]}" | sort -u | wc -l)" -eq "$upgrades" ] ||
	fail "the program was not replaced on each attach (ids ${ids[*]})"
echo "ok: egress program ids across upgrades: ${ids[*]}"
grep -q '3000 packets transmitted, 3000 received' "$log" || fail "packets were lost across the upgrades"
echo "ok: 3000 of 3000 answered"
assert_eq "$(($(peer_rx) - rx0))" 3000 "requests the peer's SA decrypted"
assert_eq "$(($(tx) - tx0))" 3000 "tx_packets counted across upgrades"

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Atomic upgrade: re-attaching the programs three times while sequence-
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

step "1500 echo requests at 5 ms intervals, three upgrades meanwhile"
log=$(mktemp)
ip netns exec "$GW" ping -q -c 1500 -i 0.005 -W 5 192.168.1.200 >"$log" 2>&1 &
pid=$!
sleep 0.5
ids=()
for i in 1 2 3; do
	$XS -n "$GW" attach dev ipsec0
	ids+=("$(ip netns exec "$GW" bpftool -j net show dev ipsec0 | jq '.[0].tc[] | select(.kind == "tcx/egress") | .prog_id')")
	sleep 0.2
done
kill -0 "$pid" 2>/dev/null || fail "the flood ended before the upgrades did; make it longer"
wait "$pid" || true
cat "$log"
[ "${ids[0]}" != "${ids[1]}" ] && [ "${ids[1]}" != "${ids[2]}" ] ||
	fail "the program was not replaced on each attach (ids ${ids[*]})"
echo "ok: egress program ids across upgrades: ${ids[*]}"
grep -q '1500 packets transmitted, 1500 received' "$log" || fail "packets were lost across the upgrades"
echo "ok: 1500 of 1500 answered"
assert_eq "$(($(peer_rx) - rx0))" 1500 "requests the peer's SA decrypted"
assert_eq "$(($(tx) - tx0))" 1500 "tx_packets counted across upgrades"

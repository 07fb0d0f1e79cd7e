#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Attach, upgrade in place, detach, attach again: routes and counters survive
# an upgrade, the programs work after the CLI exits, a detached interface
# sends nothing (fail closed), and detach leaves no pins behind.
. "$(dirname "$0")/lib.sh"

need_kernel_feature xfrm_interface "no xfrm interfaces in this kernel"
topo_gateway
topo_peer 1 101 192.168.1.200 2001:db8:1::200
peer_rx() { sa_counters "$(peer_ns 1)" 10.0.1.1 10.0.1.2 "$(spi_out 1)" | cut -d' ' -f1; }
tx_packets() { xsj "$GW" stats dev ipsec0 if_id 101 | jq '.[0].tx_packets'; }

step "attach and route"
$XS -n "$GW" attach dev ipsec0
$XS -n "$GW" route add 192.168.1.0/24 if_id 101 dev ipsec0
pindir=$(ls -d /sys/fs/bpf/xfrm-steer/*/ipsec0)
assert_eq "$(stat -c %a "$(dirname "$pindir")")" 700 "pin directory mode"
ip netns exec "$GW" ping -q -c 2 -i 0.2 -W 2 192.168.1.200
assert_eq "$(peer_rx)" 2 "peer SA packets"
assert_eq "$(tx_packets)" 2 "tx_packets"

step "attach again: upgrade keeps routes and counters"
id0=$(ip netns exec "$GW" bpftool -j net show dev ipsec0 | jq '.[0].tc[] | select(.kind == "tcx/egress") | .prog_id')
$XS -n "$GW" attach dev ipsec0
id1=$(ip netns exec "$GW" bpftool -j net show dev ipsec0 | jq '.[0].tc[] | select(.kind == "tcx/egress") | .prog_id')
[ "$id0" != "$id1" ] || fail "program id did not change on upgrade ($id0)"
echo "ok: egress program replaced ($id0 -> $id1)"
assert_eq "$(ip netns exec "$GW" bpftool -j net show dev ipsec0 | jq '[.[0].tc[] | select(.kind == "tcx/egress")] | length')" 1 "one egress program after upgrade"
assert_eq "$(xsj "$GW" route show dev ipsec0 | jq length)" 1 "routes after upgrade"
assert_eq "$(tx_packets)" 2 "counters after upgrade"
ip netns exec "$GW" ping -q -c 3 -i 0.2 -W 2 192.168.1.200
assert_eq "$(peer_rx)" 5 "peer SA packets after upgrade"
assert_eq "$(tx_packets)" 5 "tx_packets continue after upgrade"

step "a different tenant key on a live device is refused"
assert_fails "attach with another tenant key" $XS -n "$GW" attach dev ipsec0 tenant-key mark 0xff
assert_eq "$(tx_packets)" 5 "state untouched by the refused attach"

step "detach: fail closed, no pins left"
$XS -n "$GW" detach dev ipsec0
assert_eq "$(ip netns exec "$GW" bpftool -j net show dev ipsec0 | jq '.[0].tc | length')" 0 "programs on ipsec0 after detach"
[ ! -e "$pindir" ] || fail "pin directory $pindir still exists"
echo "ok: pin directory removed"
ul0=$(ip -n "$GW" -j -s link show ul1 | jq '.[0].stats64.tx.packets')
assert_fails "ping without programs" ip netns exec "$GW" ping -q -c 2 -i 0.2 -W 1 192.168.1.200
assert_eq "$(ip -n "$GW" -j -s link show ul1 | jq '.[0].stats64.tx.packets')" "$ul0" "underlay transmit counter while detached"
assert_eq "$(peer_rx)" 5 "peer SA packets while detached"
assert_fails "route add on a detached device" $XS -n "$GW" route add 10.0.0.0/8 if_id 1 dev ipsec0

step "attach again after detach starts empty"
$XS -n "$GW" attach dev ipsec0
assert_eq "$(xsj "$GW" route show dev ipsec0 | jq length)" 0 "routes after re-attach"
$XS -n "$GW" route add 192.168.1.0/24 if_id 101 dev ipsec0
ip netns exec "$GW" ping -q -c 1 -W 2 192.168.1.200
assert_eq "$(peer_rx)" 6 "peer SA packets after re-attach"

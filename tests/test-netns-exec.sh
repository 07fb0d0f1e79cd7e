#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `ip netns exec NS xfrm-steer ...`, the way operators run tools in a
# namespace, gives the same answers as `xfrm-steer -n NS ...`. ip netns exec
# remounts /sys in a mount namespace of its own, so /sys/fs/bpf there is
# not the BPF file system that holds the pinned state: before, every
# listing was empty with exit 0, and what was written vanished.
. "$(dirname "$0")/lib.sh"

need_kernel_feature xfrm_interface "no xfrm interfaces in this kernel"
MON=
mon_out=$(mktemp)
trap '[ -n "$MON" ] && kill "$MON" 2>/dev/null; rm -f "$mon_out"; topo_cleanup' EXIT
topo_gateway
$XS -n "$GW" attach dev ipsec0
topo_peer 1 101 192.168.1.200 2001:db8:1::200
$XS -n "$GW" route add 192.168.1.0/24 if_id 101 dev ipsec0
ip netns exec "$GW" ping -q -c 2 -i 0.2 -W 2 192.168.1.200 >/dev/null
xe() { ip netns exec "$GW" "$XS" "$@"; }
ip netns exec "$GW" sh -c 'stat -f -c %T /sys/fs/bpf 2>&1 || true'

step "reads: the same as -n"
for cmd in "route show" "stats" "stats drops" "show" "tunnel show" "secpath"; do
	# Ages (secpath's last_seen) move between the two reads.
	norm='walk(if type == "object" then del(.last_seen) else . end)'
	# Counters may move between the two reads (the gateway's own MLD
	# and router solicitations are dropped as v6_link_local at any
	# time): the two must agree in one of three tries.
	for ((try = 0; try < 3; try++)); do
		# shellcheck disable=SC2086
		a=$($XS -n "$GW" -j $cmd | jq -c "$norm")
		# shellcheck disable=SC2086
		b=$(xe -j $cmd | jq -c "$norm")
		[ "$a" = "$b" ] && break
		sleep 0.5
	done
	[ "$a" = "$b" ] || fail "$cmd under ip netns exec: '$b', with -n: '$a'"
	echo "ok: $cmd: the same"
done
assert_eq "$(xe -j route show | jq length)" 1 "routes seen under ip netns exec"
assert_eq "$(xe -j stats dev ipsec0 if_id 101 | jq '.[0].tx_packets')" 2 "tx_packets under ip netns exec"

step "writes persist"
xe route add 192.168.2.0/24 if_id 101 dev ipsec0
assert_eq "$($XS -n "$GW" -j route show | jq length)" 2 "routes seen with -n after a route add under ip netns exec"
xe route del 192.168.2.0/24 dev ipsec0
assert_eq "$($XS -n "$GW" -j route show | jq length)" 1 "routes after the del"

step "a monitor under ip netns exec sees events"
ip -n "$(peer_ns 1)" addr add 192.168.9.9/32 dev lo
ip -n "$(peer_ns 1)" xfrm policy add dir out src 192.168.9.9/32 dst 10.255.0.0/16 \
	tmpl src 10.0.1.2 dst 10.0.1.1 proto esp reqid 1 mode tunnel
xe -j monitor dev ipsec0 count 1 >"$mon_out" &
MON=$!
sleep 1.5
ip netns exec "$(peer_ns 1)" ping -q -c 1 -W 1 -I 192.168.9.9 10.255.0.1 >/dev/null || true
timeout 10 tail --pid="$MON" -f /dev/null || fail "no event reached the monitor under ip netns exec"
MON=
assert_eq "$(jq -r .type "$mon_out")" tenant_violation "event type"

step "detach under ip netns exec"
xe detach dev ipsec0
assert_fails "route show with -n after the detach" $XS -n "$GW" route show dev ipsec0

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Two scripts adding routes to one device at the same time: every route
# lands, and every new tunnel gets a counter slot of its own (the commands
# serialise on the device's lock, so slot allocation does not race).
. "$(dirname "$0")/lib.sh"

need_kernel_feature xfrm_interface "no xfrm interfaces in this kernel"
N=${XS_CONCURRENCY_ROUTES:-1000}
topo_gateway
# 2N tunnels: more than a default attach sizes for (1,024).
$XS -n "$GW" attach dev ipsec0 tunnels $((4 * N))

# Each writer is one batch of N commands (xfrm-steer -batch), so the two
# interleave command by command, as two scripts would, without paying a
# process start per route in the VM.
writer() { # BASE
	local i f
	f=$(mktemp)
	for ((i = 0; i < N; i++)); do
		echo "route add 10.$(($1 + i / 256)).$((i % 256)).0/24 if_id $(($1 * 1000 + i + 1)) dev ipsec0"
	done >"$f"
	$XS -n "$GW" --batch "$f"
}

step "two writers of $N routes each, in parallel"
writer 20 &
a=$!
writer 100 &
b=$!
wait "$a" || fail "writer 1 failed"
wait "$b" || fail "writer 2 failed"

assert_eq "$(xsj "$GW" route show dev ipsec0 | jq length)" $((2 * N)) "routes present"
assert_eq "$(xsj "$GW" stats dev ipsec0 | jq length)" $((2 * N)) "tunnels present"
pin=$(ls -d /sys/fs/bpf/xfrm-steer/*/ipsec0 | head -n1)
slots=$(bpftool -j map dump pinned "$pin/tunnel_by_ifid" | jq '[.[] | (.formatted // .) | .value.tunnel_idx] | unique | length')
assert_eq "$slots" $((2 * N)) "distinct counter slots"

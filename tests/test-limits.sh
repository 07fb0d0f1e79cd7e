#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Limits and privileges: a full route or tunnel table is refused with the
# limit and how to raise it, and nothing half-added stays; an unprivileged
# caller is refused up front; the pin directory is private to root.
. "$(dirname "$0")/lib.sh"

need_kernel_feature xfrm_interface "no xfrm interfaces in this kernel"
BATCH_TMP=$(mktemp)
trap 'rm -f "$BATCH_TMP"; topo_cleanup' EXIT
topo_gateway
$XS -n "$GW" attach dev ipsec0 routes 3 tunnels 2

step "pin directory"
pin=$(ls -d /sys/fs/bpf/xfrm-steer/*/ipsec0 | head -n1)
assert_eq "$(stat -c %a "$(dirname "$pin")")" 700 "mode of the netns pin directory"
assert_eq "$(stat -c %a "$pin")" 700 "mode of the device pin directory"

step "full route table"
for p in 10.0.0.0/8 11.0.0.0/8 12.0.0.0/8; do
	$XS -n "$GW" route add $p if_id 1 dev ipsec0
done
out=$($XS -n "$GW" route add 13.0.0.0/8 if_id 1 dev ipsec0 2>&1) && fail "a 4th route was accepted"
echo "$out"
grep -q 'route table .* full (3 routes' <<<"$out" || fail "the error does not name the limit"
grep -q 'routes N' <<<"$out" || fail "the error does not say how to raise it"
assert_eq "$(xsj "$GW" route show dev ipsec0 | jq length)" 3 "routes after the refused add"

step "full tunnel table"
$XS -n "$GW" route del 12.0.0.0/8 dev ipsec0
$XS -n "$GW" route add 12.0.0.0/8 if_id 2 dev ipsec0
out=$($XS -n "$GW" route add 12.0.0.0/8 if_id 3 dev ipsec0 2>&1) && fail "a 3rd tunnel was accepted"
echo "$out"
grep -q 'tunnel table .* full (2 tunnels)' <<<"$out" || fail "the error does not name the limit"
assert_eq "$(xsj "$GW" route show dev ipsec0 | jq '[.[] | select(.prefix == "12.0.0.0/8")][0].if_id')" 2 \
	"the route kept its tunnel"
assert_eq "$(xsj "$GW" stats dev ipsec0 | jq length)" 2 "tunnels after the refused add"

step "apply's record maps follow the device's size; a re-attach keeps a pinned map's size"
mapinfo() { bpftool -j map show pinned "$pin/$1"; }
assert_eq "$(mapinfo tunnel_names | jq .max_entries)" 2 "tunnel_names entries (tunnels 2)"
assert_eq "$(mapinfo apply_routes | jq .max_entries)" 3 "apply_routes entries (routes 3)"
# State pinned by a version that made tunnel_names 65,536 entries: an
# upgrade must reuse it as it is, not fail on the size.
info=$(mapinfo tunnel_names)
rm "$pin/tunnel_names"
bpftool map create "$pin/tunnel_names" type hash key "$(jq .bytes_key <<<"$info")" \
	value "$(jq .bytes_value <<<"$info")" entries 65536 name tunnel_names flags 1
$XS -n "$GW" attach dev ipsec0 || fail "re-attach over a pinned map of another size failed"
assert_eq "$(mapinfo tunnel_names | jq .max_entries)" 65536 "tunnel_names kept its pinned size"

step "what is preallocated follows the tunnel count (at its floors for 2 tunnels)"
assert_eq "$(mapinfo dcache_v4 | jq .max_entries)" 1024 "dcache_v4 entries"
assert_eq "$(mapinfo dcache_v6 | jq .max_entries)" 1024 "dcache_v6 entries"
assert_eq "$(mapinfo route_gens | jq .max_entries)" $((2048 + 1024)) "route_gens slots"
assert_eq "$(mapinfo secpath | jq .max_entries)" 64 "secpath entries"
assert_eq "$(mapinfo event_rl | jq .max_entries)" 256 "event_rl entries"

step "a 10-tunnel device attached with the defaults costs at most 2 MB of kernel memory"
$XS -n "$GW" detach dev ipsec0
$XS -n "$GW" attach dev ipsec0
for i in $(seq 1 10); do echo "route add 10.$i.0.0/16 if_id $i dev ipsec0"; done >"$BATCH_TMP"
$XS -n "$GW" -batch "$BATCH_TMP"
pin=$(ls -d /sys/fs/bpf/xfrm-steer/*/ipsec0 | head -n1)
assert_eq "$(mapinfo tunnel_by_ifid | jq .max_entries)" 1024 "default tunnel table"
assert_eq "$(mapinfo routes_v4 | jq .max_entries)" 16384 "default route table"
mem=0
for m in "$pin"/*; do
	case $(basename "$m") in link_*) continue ;; esac
	mem=$((mem + $(bpftool -j map show pinned "$m" | jq .bytes_memlock)))
done
echo "maps: $mem bytes memlock ($(nproc) CPUs)"
[ "$mem" -le $((2 * 1024 * 1024)) ] || fail "a default device costs $mem bytes, more than 2 MB"
$XS -n "$GW" detach dev ipsec0
$XS -n "$GW" attach dev ipsec0 routes 3 tunnels 2

step "unprivileged caller"
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups $XS route show 2>&1) &&
	fail "an unprivileged route show succeeded"
echo "$out"
grep -q 'needs CAP_NET_ADMIN and CAP_BPF' <<<"$out" || fail "no clear message about privileges"

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Pinned state is an ABI between versions: a gateway attached by the
# previous main's binary (tests/upgrade-from, built by `make prev`) is
# upgraded by this one while traffic flows. This version grew the drop
# counters (rx_v6_link_local) and gave each event reader a ring buffer of
# its own: the upgrade carries the old counters over, retires the old ring
# buffer pin, loses no packet, and events reach a monitor afterwards.
# It also replaced the decision caches (cache_v4/cache_v6, one global
# generation) by dcache_v4/dcache_v6 with generations per tenant and region
# (route_gens) and a budget per tenant (cache_budget): the upgrade retires
# the old caches, makes the new ones at the sizes the old device was
# attached with, keeps the old maps' sizes, and a route change after it
# still reaches a decision cached before.
# Before the upgrade, this version refuses the old pins with the fix named.
. "$(dirname "$0")/lib.sh"

need_kernel_feature xfrm_interface "no xfrm interfaces in this kernel"
PREV_DIR=${OUT:-build}/prev
[ -f "$PREV_DIR/SKIP" ] && skip "no previous version to upgrade from: $(cat "$PREV_DIR/SKIP")"
OLD=$PWD/$PREV_DIR/xfrm-steer
[ -x "$OLD" ] || fail "$OLD is missing (make test builds it with make prev)"
echo "previous version: $(cat "$PREV_DIR/ref")"
MON=
mon_out=$(mktemp)
up_cleanup() {
	[ -n "$MON" ] && kill "$MON" 2>/dev/null
	rm -f "$mon_out"
	$XS -n "$GW" underlay detach dev ul1 2>/dev/null || true
	topo_cleanup
}
trap up_cleanup EXIT

step "a gateway attached by the previous version"
topo_gateway
"$OLD" -n "$GW" attach dev ipsec0
topo_peer 1 101 192.168.1.200 2001:db8:1::200
"$OLD" -n "$GW" route add 192.168.1.0/24 if_id 101 dev ipsec0
"$OLD" -n "$GW" underlay attach dev ul1
dir=/sys/fs/bpf/xfrm-steer/$(stat -L -c %i "/run/netns/$GW")
ls "$dir/ipsec0" "$dir/ul1"
ip netns exec "$GW" ping -q -c 3 -i 0.2 -W 2 192.168.1.200 >/dev/null
# Two packets without a route: counted by reason in the old drop counters.
ip netns exec "$GW" ping -q -c 2 -i 0.2 -W 1 192.168.1.1 >/dev/null 2>&1 || true
ip -n "$GW" route add 192.168.77.0/24 dev ipsec0
ip netns exec "$GW" ping -q -c 2 -i 0.2 -W 1 192.168.77.1 >/dev/null 2>&1 || true
old_noroute=$("$OLD" -n "$GW" -j stats drops dev ipsec0 | jq '.[] | select(.reason == "no_route") | .packets')
assert_ge "$old_noroute" 2 "no_route drops before the upgrade"

old_tunnels=$(bpftool -j map show pinned "$dir/ipsec0/tunnels" | jq .max_entries)
for m in cache_v4 cache_v6; do
	[ -e "$dir/ipsec0/$m" ] || fail "the previous version pinned no $m"
done

step "this version refuses the old pins before the upgrade, naming the fix"
msg=$($XS -n "$GW" route show dev ipsec0 2>&1 >/dev/null) && fail "route show on old pins succeeded"
echo "$msg"
[ "$(wc -l <<<"$msg")" -eq 1 ] || fail "more than one line"
grep -q "attach" <<<"$msg" || fail "the message does not name attach"

step "upgrade while 1500 echo requests flow"
tx0=$("$OLD" -n "$GW" -j stats dev ipsec0 if_id 101 | jq '.[0].tx_packets')
rx0=$(sa_counters "$(peer_ns 1)" 10.0.1.1 10.0.1.2 "$(spi_out 1)" | cut -d' ' -f1)
log=$(mktemp)
ip netns exec "$GW" ping -q -c 1500 -i 0.01 -W 5 192.168.1.200 >"$log" 2>&1 &
ping_pid=$!
sleep 0.5
kill -0 "$ping_pid" || fail "the flood ended before the upgrade"
$XS -n "$GW" attach dev ipsec0
$XS -n "$GW" underlay attach dev ul1
kill -0 "$ping_pid" || fail "the flood ended before the upgrade was done: no traffic during it"
wait "$ping_pid" || true
cat "$log"
grep -q '1500 packets transmitted, 1500 received' "$log" || fail "packets were lost across the upgrade"
echo "ok: 1500 of 1500 answered"
assert_eq "$(($(sa_counters "$(peer_ns 1)" 10.0.1.1 10.0.1.2 "$(spi_out 1)" | cut -d' ' -f1) - rx0))" 1500 \
	"requests the peer's SA decrypted"
assert_eq "$(($(xsj "$GW" stats dev ipsec0 if_id 101 | jq '.[0].tx_packets') - tx0))" 1500 \
	"tx_packets counted across the upgrade"

step "the state after the upgrade"
new_noroute=$(xsj "$GW" stats drops dev ipsec0 | jq '.[] | select(.reason == "no_route") | .packets')
assert_ge "$new_noroute" "$old_noroute" "no_route drops carried over"
assert_eq "$(xsj "$GW" stats drops dev ipsec0 | jq '[.[] | select(.reason == "rx_v6_link_local")] | length')" 1 \
	"the new counter exists"
for f in "$dir/ipsec0/events" "$dir/ul1/ul_events"; do
	[ -e "$f" ] && fail "$f, retired, is still pinned"
done
echo "ok: the old ring buffers are unpinned"
$XS -n "$GW" route show dev ipsec0 | grep -q 192.168.1.0/24 || fail "the route is gone"
echo "ok: route kept"

step "the decision caches were migrated"
for m in cache_v4 cache_v6; do
	[ -e "$dir/ipsec0/$m" ] && fail "$m, retired, is still pinned"
done
for m in dcache_v4 dcache_v6 route_gens cache_budget; do
	[ -e "$dir/ipsec0/$m" ] || fail "$m is not pinned"
done
minfo() { bpftool -j map show pinned "$dir/ipsec0/$1" | jq ".$2"; }
assert_eq "$(minfo tunnel_by_ifid max_entries)" "$old_tunnels" "the tunnel table kept its size"
# The caches follow the tunnel count the device was attached with.
assert_eq "$(minfo dcache_v4 max_entries)" 65536 "dcache_v4 entries (tunnels $old_tunnels)"
assert_eq "$(minfo dcache_v6 max_entries)" 65536 "dcache_v6 entries"
assert_eq "$(minfo route_gens max_entries)" $((131072 + 1024)) "route_gens slots"
# 192.168.1.200 has its decision cached by the flood: a more specific route
# (to an if_id with no SA) takes it at once, and its removal gives it back.
$XS -n "$GW" route add 192.168.1.200/32 if_id 555 dev ipsec0
ip netns exec "$GW" ping -q -c 1 -W 1 192.168.1.200 >/dev/null 2>&1 && fail "the cached decision outlived the route change"
assert_eq "$(xsj "$GW" stats dev ipsec0 if_id 555 | jq '.[0].tx_packets')" 1 "packets steered to the new route"
$XS -n "$GW" route del 192.168.1.200/32 dev ipsec0
ip netns exec "$GW" ping -q -c 1 -W 2 192.168.1.200 >/dev/null || fail "the old route did not come back"
echo "ok: a decision cached across the upgrade follows route changes"

step "events reach a monitor of this version"
$XS -n "$GW" -j monitor dev ul1 count 1 >"$mon_out" &
MON=$!
sleep 1
ip -n "$GW" xfrm state del src 10.0.1.2 dst 10.0.1.1 proto esp spi "$(spi_in 1)"
ip netns exec "$(peer_ns 1)" ping -q -c 1 -W 1 -I 192.168.1.200 10.255.0.1 >/dev/null || true
timeout 10 tail --pid="$MON" -f /dev/null || fail "no event reached the monitor"
MON=
assert_eq "$(jq -r .type "$mon_out")" unknown_spi "event type"

step "detach leaves nothing behind"
$XS -n "$GW" underlay detach dev ul1
$XS -n "$GW" detach dev ipsec0
[ -e "$dir" ] && fail "$dir is still there: $(ls -R "$dir")"
echo "ok: no pins left"

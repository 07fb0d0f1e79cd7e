#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# A "tenant-key iif" gateway attached by the previous main's binary
# (tests/upgrade-from, built by `make prev`), which keys tenants by ifindex
# and has no bindings, upgraded by this one while a tenant's traffic flows.
# This version's egress drops forwarded packets that no binding stamped, so
# the upgrade must bind every existing tenant (by the name its ifindex has)
# before the new egress program replaces the old: no packet may be lost.
# Before the upgrade this version refuses the old pins, naming the fix.
. "$(dirname "$0")/lib.sh"

need_kernel_feature xfrm_interface "no xfrm interfaces in this kernel"
PREV_DIR=${OUT:-build}/prev
[ -f "$PREV_DIR/SKIP" ] && skip "no previous version to upgrade from: $(cat "$PREV_DIR/SKIP")"
OLD=$PWD/$PREV_DIR/xfrm-steer
[ -x "$OLD" ] || fail "$OLD is missing (make test builds it with make prev)"
echo "previous version: $(cat "$PREV_DIR/ref")"

tenant_host() { # X N
	local ns="$NSP-t$1" lan="lan-$1" n=$2
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	ip link add "$lan" netns "$GW" type veth peer name eth0 netns "$ns"
	ip netns exec "$GW" sysctl -qw "net.ipv4.conf.$lan.rp_filter=0"
	ip -n "$GW" addr add "10.255.$n.1/24" dev "$lan"
	ip -n "$GW" link set "$lan" up
	ip -n "$ns" addr add "10.255.$n.2/24" dev eth0
	ip -n "$ns" link set eth0 up
	ip -n "$ns" route add default via "10.255.$n.1"
}
peer_rx() { sa_counters "$(peer_ns "$1")" "10.0.$1.1" "10.0.$1.2" "$(spi_out "$1")" | cut -d' ' -f1; }
stamps() { ip netns exec "$GW" bpftool net show dev "$1" 2>/dev/null | grep -c xs_iif_stamp || true; }

step "an iif gateway attached by the previous version: tenants lan-a (peer 1), lan-b (peer 2)"
topo_gateway
"$OLD" -n "$GW" attach dev ipsec0 tenant-key iif
topo_peer 1 101 192.168.1.200 2001:db8:1::200
topo_peer 2 102 192.168.1.200 2001:db8:1::200
tenant_host a 1
tenant_host b 2
"$OLD" -n "$GW" route add 192.168.1.0/24 if_id 101 tenant lan-a dev ipsec0
"$OLD" -n "$GW" route add 192.168.1.0/24 if_id 102 tenant lan-b dev ipsec0
ip netns exec "$NSP-ta" ping -q -c 2 -i 0.2 -W 2 192.168.1.200 >/dev/null
ip netns exec "$NSP-tb" ping -q -c 1 -W 2 192.168.1.200 >/dev/null
assert_eq "$(peer_rx 1) $(peer_rx 2)" "2 1" "peer SA packets before the upgrade"

step "this version refuses the old pins before the upgrade, naming the fix"
msg=$($XS -n "$GW" route show dev ipsec0 2>&1 >/dev/null) && fail "route show on old pins succeeded"
echo "$msg"
[ "$(wc -l <<<"$msg")" -eq 1 ] || fail "more than one line"
grep -q "attach" <<<"$msg" || fail "the message does not name attach"

step "upgrade while tenant lan-a sends 1500 echo requests"
rx0=$(peer_rx 1)
log=$(mktemp)
ip netns exec "$NSP-ta" ping -q -c 1500 -i 0.01 -W 5 192.168.1.200 >"$log" 2>&1 &
ping_pid=$!
sleep 0.5
kill -0 "$ping_pid" || fail "the flood ended before the upgrade"
$XS -n "$GW" attach dev ipsec0
kill -0 "$ping_pid" || fail "the flood ended before the upgrade was done: no traffic during it"
wait "$ping_pid" || true
cat "$log"
grep -q '1500 packets transmitted, 1500 received' "$log" || fail "packets were lost across the upgrade"
rm -f "$log"
echo "ok: 1500 of 1500 answered"
assert_eq "$(($(peer_rx 1) - rx0))" 1500 "requests peer 1's SA decrypted"

step "after the upgrade: each tenant bound to its interface, named by it"
assert_eq "$(stamps lan-a) $(stamps lan-b)" "1 1" "stamp programs on lan-a and lan-b"
$XS -n "$GW" route show dev ipsec0
assert_eq "$(xsj "$GW" route show dev ipsec0 | jq -c '[.[].tenant] | sort')" '["lan-a","lan-b"]' \
	"route show -j tenants"
ip netns exec "$NSP-tb" ping -q -c 3 -i 0.2 -W 2 192.168.1.200 >/dev/null
assert_eq "$(peer_rx 2)" 4 "peer 2 SA packets (tenant lan-b) after the upgrade"
# The upgraded gateway has the new semantics: lan-b's old ifindex taken by
# a new interface gets nothing.
idx_b=$(ip -n "$GW" -j link show lan-b | jq '.[0].ifindex')
ip -n "$GW" link del lan-b
ip -n "$GW" link add lan-x index "$idx_b" type veth peer name eth0 netns "$NSP-tb"
ip -n "$GW" addr add 10.255.2.1/24 dev lan-x
ip -n "$GW" link set lan-x up
ip -n "$NSP-tb" addr add 10.255.2.2/24 dev eth0
ip -n "$NSP-tb" link set eth0 up
ip -n "$NSP-tb" route add default via 10.255.2.1
assert_fails "ping from lan-x, which got lan-b's ifindex" \
	ip netns exec "$NSP-tb" ping -q -c 2 -i 0.2 -W 1 192.168.1.200
assert_eq "$(peer_rx 2)" 4 "peer 2 SA packets unchanged"

step "detach leaves nothing behind"
$XS -n "$GW" detach dev ipsec0
assert_eq "$(stamps lan-a)" 0 "no stamp program left on lan-a"
dir=/sys/fs/bpf/xfrm-steer/$(stat -L -c %i "/run/netns/$GW")
[ -e "$dir" ] && fail "$dir is still there: $(ls -R "$dir")"
echo "ok: no pins left"

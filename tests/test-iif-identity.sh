#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# "tenant-key iif": a tenant is a LAN interface, not the number it had at
# `route add` (issue 12, item 5). The binding lives on the interface (a
# stamp program the kernel removes with it), so:
#  (a) a LAN interface deleted and made again under its name (new ifindex)
#      is reported as re-created and gets nothing through the tunnel until
#      `apply` of a file naming it follows it; then it does;
#  (b) a new interface that gets the old ifindex of a tenant gets nothing
#      (that tenant's SA counters do not move), counted as iif_unbound;
#  (c) route show, show and saved files name the tenant by its interface
#      name, never by the number or by whatever has the number now.
# The peers' and the gateway's SA counters are the judges.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-tunnel.sh"

need_kernel_feature xfrm_interface "no xfrm interfaces in this kernel"

saved=$(mktemp)
tmp=$(mktemp -d)
id_cleanup() {
	rm -rf "$saved" "$tmp"
	topo_cleanup
}
trap id_cleanup EXIT

# lan-<x> in the gateway, its far end eth0 in "$NSP-t<x>": 10.255.<n>.1/24
# on the gateway, 10.255.<n>.2/24 on the host. [INDEX] asks for an ifindex.
lan_link() { # X N NAME [INDEX]
	local ns="$NSP-t$1" lan=$3 n=$2
	ip -n "$GW" link add "$lan" ${4:+index "$4"} type veth peer name eth0 netns "$ns"
	ip netns exec "$GW" sysctl -qw "net.ipv4.conf.$lan.rp_filter=0"
	ip -n "$GW" addr add "10.255.$n.1/24" dev "$lan"
	ip -n "$GW" link set "$lan" up
	ip -n "$ns" addr add "10.255.$n.2/24" dev eth0
	ip -n "$ns" link set eth0 up
	ip -n "$ns" route add default via "10.255.$n.1"
}
tenant_host() { # X N
	ip netns add "$NSP-t$1"
	ip -n "$NSP-t$1" link set lo up
	lan_link "$1" "$2" "lan-$1"
}
ifindex() { ip -n "$GW" -j link show "$1" | jq '.[0].ifindex'; }
drops() { xsj "$GW" stats drops dev ipsec0 | jq --arg r "$1" '[.[] | select(.reason == $r) | .packets] | add // 0'; }
host_ping() { # X ARGS...
	local ns="$NSP-t$1"
	shift
	ip netns exec "$ns" ping -q -i 0.2 -W 2 "$@"
}
stamps() { ip netns exec "$GW" bpftool net show dev "$1" 2>/dev/null | grep -c xs_iif_stamp || true; }

step "topology: tenant-key iif, tenants lan-a (peer 1) and lan-b (peer 2)"
topo_gateway
$XS -n "$GW" attach dev ipsec0 tenant-key iif
topo_peer 1 101 192.168.1.200 2001:db8:1::200
topo_peer 2 102 192.168.1.200 2001:db8:1::200
tenant_host a 1
tenant_host b 2
$XS -n "$GW" route add 192.168.1.0/24 if_id 101 tenant lan-a dev ipsec0
$XS -n "$GW" route add 192.168.1.0/24 if_id 102 tenant lan-b dev ipsec0
idx_a=$(ifindex lan-a)
idx_b=$(ifindex lan-b)
host_ping a -c 3 192.168.1.200
host_ping b -c 2 192.168.1.200
assert_eq "$(peer_rx 1) $(peer_rx 2)" "3 2" "peer SA packets (lan-a, lan-b)"

step "(c) the tenant is spelt by its interface name: route show, show, saved files"
assert_eq "$(xsj "$GW" route show dev ipsec0 | jq -c '[.[].tenant] | sort')" '["lan-a","lan-b"]' \
	"route show -j tenants"
$XS -n "$GW" show >"$saved"
assert_eq "$(jq -c '[.routes[].tenant] | sort' "$saved")" '["lan-a","lan-b"]' "saved file tenants"
assert_eq "$(xsj "$GW" show | jq -c '[.routes[].tenant] | sort')" '["lan-a","lan-b"]' "show -j tenants"
assert_eq "$(stamps lan-a) $(stamps lan-b)" "1 1" "one stamp program on each bound LAN"

step "(a) lan-a deleted and made again under its name: reported, not bound, gets nothing"
ip -n "$GW" link del lan-a
lan_link a 1 lan-a
new_a=$(ifindex lan-a)
[ "$new_a" != "$idx_a" ] || fail "lan-a got its old ifindex back"
echo "lan-a: ifindex $idx_a -> $new_a"
assert_eq "$(stamps lan-a)" 0 "no stamp program on the new lan-a"
if msg=$($XS -n "$GW" route show dev ipsec0 2>&1 >/dev/null); then
	fail "route show succeeded with an unbound tenant: $msg"
fi
echo "$msg"
grep -q "lan-a.*re-created.*$idx_a -> $new_a" <<<"$msg" || fail "route show does not report lan-a re-created"
grep -q "apply" <<<"$msg" || fail "route show does not name the fix"
if $XS -n "$GW" tunnel show dev ipsec0 >/dev/null 2>&1; then fail "tunnel show succeeded with an unbound tenant"; fi
if msg=$($XS -n "$GW" show 2>&1 >"$saved.now"); then
	fail "show succeeded with an unbound tenant"
fi
grep -q "lan-a.*re-created" <<<"$msg" || fail "show does not report lan-a re-created: $msg"
assert_eq "$(jq -c '[.routes[].tenant] | sort' "$saved.now")" '["lan-a","lan-b"]' \
	"show names the re-created tenant by its name"
rm -f "$saved.now"
un0=$(drops iif_unbound)
assert_fails "ping from the re-created lan-a" host_ping a -c 3 -W 1 192.168.1.200
assert_eq "$(peer_rx 1) $(peer_rx 2)" "3 2" "peer SA counters unchanged"
assert_eq "$(($(drops iif_unbound) - un0))" 3 "iif_unbound drops for the re-created lan-a"

step "(a) apply of the saved file follows lan-a to its new ifindex"
$XS -n "$GW" apply "$saved"
$XS -n "$GW" route show dev ipsec0
assert_eq "$(xsj "$GW" route show dev ipsec0 | jq -c '[.[].tenant] | sort')" '["lan-a","lan-b"]' \
	"route show -j tenants after apply"
assert_eq "$(stamps lan-a)" 1 "the new lan-a is bound"
host_ping a -c 4 192.168.1.200
assert_eq "$(peer_rx 1) $(peer_rx 2)" "7 2" "peer SA packets after the follow"

step "lan-a moved to another namespace and back: the binding is the interface's, not its number's"
ip netns add "$NSP-m"
ip -n "$GW" link set lan-a netns "$NSP-m"
if msg=$($XS -n "$GW" route show dev ipsec0 2>&1 >/dev/null); then
	fail "route show succeeded while lan-a is in another namespace"
fi
echo "$msg"
grep -q "lan-a.*gone" <<<"$msg" || fail "route show does not report lan-a gone"
ip -n "$NSP-m" link set lan-a netns "$GW"
assert_eq "$(ifindex lan-a)" "$new_a" "lan-a back with its ifindex"
ip netns exec "$GW" sysctl -qw net.ipv4.conf.lan-a.rp_filter=0
ip -n "$GW" addr add 10.255.1.1/24 dev lan-a
ip -n "$GW" link set lan-a up
$XS -n "$GW" route show dev ipsec0 >/dev/null || fail "route show reports lan-a, which is back"
echo "ok: lan-a back, bound as before"
host_ping a -c 2 192.168.1.200
assert_eq "$(peer_rx 1) $(peer_rx 2)" "9 2" "peer SA packets: the same interface, the same tenant"

step "(b) lan-b deleted, a new interface lan-x gets its old ifindex $idx_b: it gets nothing"
ip -n "$GW" link del lan-b
lan_link b 2 lan-x "$idx_b"
assert_eq "$(ifindex lan-x)" "$idx_b" "lan-x has lan-b's old ifindex"
assert_eq "$(stamps lan-x)" 0 "no stamp program on lan-x"
un0=$(drops iif_unbound)
assert_fails "ping from lan-x" host_ping b -c 3 -W 1 192.168.1.200
assert_eq "$(peer_rx 1) $(peer_rx 2)" "9 2" "peer SA counters unchanged: lan-x is not lan-b"
assert_eq "$(($(drops iif_unbound) - un0))" 3 "iif_unbound drops for lan-x"
if msg=$($XS -n "$GW" route show dev ipsec0 2>&1 >/dev/null); then
	fail "route show succeeded with a tenant whose interface is gone"
fi
echo "$msg"
grep -q "lan-b" <<<"$msg" || fail "route show does not name lan-b"
grep -q "lan-x" <<<"$msg" && fail "route show names lan-x, which is not a tenant"
if $XS -n "$GW" show >"$saved.now" 2>/dev/null; then fail "show succeeded"; fi
assert_eq "$(jq -c '[.routes[].tenant] | sort' "$saved.now")" '["lan-a","lan-b"]' \
	"show names the gone tenant lan-b, not lan-x"
rm -f "$saved.now"
assert_fails "route add for lan-b, which does not exist" \
	$XS -n "$GW" route add 192.168.2.0/24 if_id 102 tenant lan-b dev ipsec0

step "unbinding: the last route of a tenant gone, its stamp program goes"
$XS -n "$GW" route del 192.168.1.0/24 tenant lan-b dev ipsec0
$XS -n "$GW" route show dev ipsec0
assert_eq "$(xsj "$GW" route show dev ipsec0 | jq -c '[.[].tenant]')" '["lan-a"]' "routes left"
$XS -n "$GW" route del 192.168.1.0/24 tenant lan-a dev ipsec0
assert_eq "$(stamps lan-a)" 0 "lan-a unbound with its last route"
$XS -n "$GW" route add 192.168.1.0/24 if_id 101 tenant lan-a dev ipsec0
assert_eq "$(stamps lan-a)" 1 "lan-a bound again by route add"
host_ping a -c 2 192.168.1.200
assert_eq "$(peer_rx 1)" 11 "peer 1 SA packets"

step "a named tunnel of tenant lan-c (peer 3), by tunnel add"
tenant_host c 3
tun_peer 3 192.168.3.200 2001:db8:3::200 "$(gcm_key 3 0)" "$(gcm_key 3 1)"
gcm_key 3 0 >"$tmp/in3"
gcm_key 3 1 >"$tmp/out3"
$XS -n "$GW" tunnel add t3 if_id 103 local 10.0.3.1 remote 10.0.3.2 \
	spi-in "$(spi_in 3)" spi-out "$(spi_out 3)" reqid 3 \
	aead "$AEAD_ALG" "@$tmp/in3" 128 out-key "@$tmp/out3" \
	tenant lan-c prefix 192.168.3.0/24 dev ipsec0
assert_eq "$(stamps lan-c)" 1 "lan-c bound by tunnel add"
assert_eq "$(xsj "$GW" tunnel show dev ipsec0 | jq -r '.[0].tenant')" lan-c "tunnel show -j tenant"
host_ping c -c 2 192.168.3.200
assert_eq "$(peer_rx 3)" 2 "peer 3 SA packets (tenant lan-c)"

step "lan-c re-created: tunnel show reports it; route add that names lan-c follows it, tunnel and all"
ip -n "$GW" link del lan-c
lan_link c 3 lan-c
if msg=$($XS -n "$GW" tunnel show dev ipsec0 2>&1 >/dev/null); then
	fail "tunnel show succeeded with an unbound tenant"
fi
echo "$msg"
grep -q "lan-c.*re-created" <<<"$msg" || fail "tunnel show does not report lan-c re-created"
assert_fails "ping from the re-created lan-c" host_ping c -c 2 -W 1 192.168.3.200
assert_eq "$(peer_rx 3)" 2 "peer 3 SA counters unchanged"
$XS -n "$GW" route add 192.168.33.0/24 if_id 103 tenant lan-c dev ipsec0
$XS -n "$GW" route show dev ipsec0 >/dev/null || fail "route show still reports a tenant after the follow"
$XS -n "$GW" tunnel show dev ipsec0 >/dev/null || fail "tunnel show still reports a tenant after the follow"
echo "ok: nothing reported after the follow"
assert_eq "$(stamps lan-c)" 1 "the new lan-c is bound"
assert_eq "$(xsj "$GW" tunnel show dev ipsec0 | jq -r '.[0].tenant')" lan-c "tunnel show -j tenant"
host_ping c -c 3 192.168.3.200
assert_eq "$(peer_rx 3)" 5 "peer 3 SA packets after the follow (the tunnel's own prefix)"
$XS -n "$GW" show >"$saved.now"
assert_eq "$(jq -c '[.tunnels[].tenant]' "$saved.now")" '["lan-c"]' "show: the tunnel's tenant"
rm -f "$saved.now"
# The route to the tunnel's if_id is the tunnel's: it goes with it.
$XS -n "$GW" tunnel del t3 dev ipsec0
assert_eq "$(xsj "$GW" route show dev ipsec0 | jq -c '[.[] | select(.tenant == "lan-c")]')" '[]' \
	"routes of lan-c after tunnel del"
assert_eq "$(stamps lan-c)" 0 "lan-c unbound with its tunnel"

step "a re-created interface that got a gone tenant's ifindex is not followed onto its routes"
# lan-x, with lan-b's old ifindex, becomes a tenant of its own by name.
$XS -n "$GW" route add 192.168.1.0/24 if_id 102 tenant lan-x dev ipsec0
host_ping b -c 2 192.168.1.200
assert_eq "$(peer_rx 1) $(peer_rx 2)" "11 4" "peer SA packets (lan-x reaches peer 2)"
# lan-x goes with its route in place; lan-a is made again with its ifindex.
ip -n "$GW" link del lan-x
ip -n "$GW" link del lan-a
lan_link a 1 lan-a "$idx_b"
assert_eq "$(ifindex lan-a)" "$idx_b" "lan-a has lan-x's old ifindex"
if msg=$($XS -n "$GW" route add 192.168.1.0/24 if_id 101 tenant lan-a dev ipsec0 2>&1); then
	fail "route add followed lan-a onto the ifindex of lan-x, whose routes are there"
fi
echo "$msg"
grep -q "lan-x" <<<"$msg" || fail "the refusal does not name lan-x"
assert_fails "ping from lan-a" host_ping a -c 2 -W 1 192.168.1.200
assert_eq "$(peer_rx 1) $(peer_rx 2)" "11 4" "peer SA counters unchanged: lan-a got neither"
$XS -n "$GW" route del 192.168.1.0/24 tenant lan-x dev ipsec0
$XS -n "$GW" route add 192.168.1.0/24 if_id 101 tenant lan-a dev ipsec0
$XS -n "$GW" route show dev ipsec0
assert_eq "$(xsj "$GW" route show dev ipsec0 | jq -c '[.[] | [.tenant, .if_id]]')" '[["lan-a",101]]' \
	"routes: lan-a's own, followed"
host_ping a -c 2 192.168.1.200
assert_eq "$(peer_rx 1) $(peer_rx 2)" "13 4" "peer SA packets: lan-a reaches its own peer only"

step "detach removes every binding"
$XS -n "$GW" detach dev ipsec0
assert_eq "$(stamps lan-a)" 0 "no stamp program left on lan-a"
dir=/sys/fs/bpf/xfrm-steer/$(stat -L -c %i "/run/netns/$GW")
[ -e "$dir/ipsec0" ] && fail "$dir/ipsec0 is still there: $(ls "$dir/ipsec0")"
echo "ok: no pins left"

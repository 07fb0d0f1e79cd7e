#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# A named tunnel's state is what the kernel has now, and a tunnel's prefix is
# its own:
# - "tunnel show" says ready only while both SAs, all policies and a prefix
#   are there; after a hand SA delete or a policy flush it says broken and
#   names what is missing (before, it said ready from what add recorded);
# - tunnel add refuses a prefix that routes to another named tunnel, as
#   apply refuses the same file, and nothing of the refused tunnel is made
#   (before, it took the prefix, and deleting it blackholed the first one).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-tunnel.sh"

need_kernel_feature xfrm_interface "no xfrm interfaces in this kernel"
topo_gateway
$XS -n "$GW" attach dev ipsec0
for k in 1 2; do
	tun_peer "$k" "192.168.$k.200" "2001:db8:$k::200" "$(gcm_key "$k" 0)" "$(gcm_key "$k" 1)"
done
tadd() { # NAME K PREFIX
	$XS -n "$GW" tunnel add "$1" if_id $((100 + $2)) local "10.0.$2.1" remote "10.0.$2.2" \
		spi-in "$(spi_in "$2")" spi-out "$(spi_out "$2")" reqid "$2" \
		aead "$AEAD_ALG" "$(gcm_key "$2" 0)" 128 out-key "$(gcm_key "$2" 1)" \
		prefix "$3" dev ipsec0
}
state() { xsj "$GW" tunnel show "$1" | jq -r '.[0].state + " " + (.[0].missing | join(","))'; }

tadd t1 1 192.168.1.0/24
assert_eq "$(state t1)" "ready " "t1 after tunnel add"

step "another tunnel asks for t1's prefix"
snap=$(ip -n "$GW" xfrm state; ip -n "$GW" xfrm policy; $XS -n "$GW" route show)
out=$(tadd t2 2 192.168.1.0/24 2>&1) && fail "tunnel add took t1's prefix"
echo "$out"
[ "$(wc -l <<<"$out")" -eq 1 ] || fail "more than one line"
grep -q 'prefix 192.168.1.0/24 tenant 0 belongs to tunnel "t1" (if_id 101)' <<<"$out" || fail "message: $out"
assert_eq "$(ip -n "$GW" xfrm state; ip -n "$GW" xfrm policy; $XS -n "$GW" route show)" "$snap" \
	"kernel state after the refusal"
assert_eq "$(xsj "$GW" route show | jq -r '.[] | select(.prefix == "192.168.1.0/24") | .if_id')" 101 \
	"192.168.1.0/24 still routes to t1"
ip netns exec "$GW" ping -q -c 2 -i 0.2 -W 2 192.168.1.200 >/dev/null || fail "t1 lost its traffic"
echo "ok: t1 still carries its prefix"
tadd t2 2 192.168.2.0/24
assert_eq "$(state t2)" "ready " "t2 with a prefix of its own"

step "parts gone behind its back: broken, naming them"
ip -n "$GW" xfrm state del src 10.0.1.1 dst 10.0.1.2 proto esp spi "$(spi_out 1)"
assert_eq "$(state t1)" "broken sa_out" "t1 without its outbound SA"
$XS -n "$GW" tunnel show t1 | head -1 | grep -q 'broken (missing: sa_out)' || fail "text view"
echo "ok: text view names it"
ip -n "$GW" xfrm policy flush
assert_eq "$(state t1)" "broken sa_out,policies" "t1 after a policy flush"
assert_eq "$(state t2)" "broken policies" "t2 after a policy flush"
$XS -n "$GW" route del 192.168.2.0/24 dev ipsec0
assert_eq "$(state t2)" "broken policies,prefixes" "t2 without its prefix"

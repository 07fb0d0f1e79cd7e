#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# A gateway attached by the last main's binary (tests/upgrade-from-last,
# built by `make prev`) is upgraded by this one while two tenants' traffic
# flows. The tunnel table's entries now name their if_id and carry a seal
# (struct tunnel_value, map tunnel_by_ifid): until the upgrade this version
# refuses the old table, naming attach; attach carries it over before the
# new programs run, and every reply is still counted to its tunnel. The
# decision caches' entries carry a seal bound to their key
# (include/xfrm_steer.h): each tenant's packets keep going to its own peer
# across the upgrade (the peers' SA counters say so), an entry in an older
# format that names the other tenant's tunnel is not used, and a route
# change after the upgrade reaches a decision cached before it.
. "$(dirname "$0")/lib.sh"

need_kernel_feature xfrm_interface "no xfrm interfaces in this kernel"
PREV_DIR=${OUT:-build}/prev-last
[ -f "$PREV_DIR/SKIP" ] && skip "no last version to upgrade from: $(cat "$PREV_DIR/SKIP")"
OLD=$PWD/$PREV_DIR/xfrm-steer
[ -x "$OLD" ] || fail "$OLD is missing (make test builds it with make prev)"
echo "last version: $(cat "$PREV_DIR/ref")"
logs=()
trap 'rm -f "${logs[@]}"; topo_cleanup' EXIT

step "two tenants, one destination, two peers, attached by the last version"
topo_gateway
ip netns exec "$GW" sysctl -qw net.ipv4.fwmark_reflect=1
"$OLD" -n "$GW" attach dev ipsec0 tenant-key mark 0xff00 mark-ingress on
# Both peers own 192.168.1.200: only the tenant tells them apart.
topo_peer 1 101 192.168.1.200 2001:db8:1::200
topo_peer 2 102 192.168.1.200 2001:db8:1::200
"$OLD" -n "$GW" route add 192.168.1.0/24 if_id 101 tenant 0x100 dev ipsec0
"$OLD" -n "$GW" route add 192.168.1.0/24 if_id 102 tenant 0x200 dev ipsec0
rx() { sa_counters "$(peer_ns "$1")" "10.0.$1.1" "10.0.$1.2" "$(spi_out "$1")" | cut -d' ' -f1; }
gping() { # MARK COUNT INTERVAL
	ip netns exec "$GW" ping -q -m "$(($1))" -c "$2" -i "$3" -W 2 192.168.1.200
}
gping 0x100 3 0.2 >/dev/null
gping 0x200 3 0.2 >/dev/null
assert_eq "$(rx 1)" 3 "requests peer 1 (tenant 0x100) decrypted"
assert_eq "$(rx 2)" 3 "requests peer 2 (tenant 0x200) decrypted"
dir=/sys/fs/bpf/xfrm-steer/$(stat -L -c %i "/run/netns/$GW")/ipsec0
cached=$(bpftool -j map dump pinned "$dir/dcache_v4" | jq length)
assert_ge "$cached" 2 "decisions the last version cached"

step "this version refuses the last version's tunnel table before the upgrade, naming the fix"
msg=$($XS -n "$GW" route show dev ipsec0 2>&1 >/dev/null) && fail "route show on the last version's pins succeeded"
echo "$msg"
[ "$(wc -l <<<"$msg")" -eq 1 ] || fail "more than one line"
grep -q 'attached by an older version .*; run "xfrm-steer attach dev ipsec0" to upgrade it' <<<"$msg" ||
	fail "the message does not say what is old and name attach"

step "upgrade while both tenants send 1000 echo requests each"
pids=()
for t in 1 2; do
	logs+=("$(mktemp)")
	gping "0x${t}00" 1000 0.01 >"${logs[-1]}" 2>&1 &
	pids+=($!)
done
sleep 0.5
$XS -n "$GW" attach dev ipsec0 tenant-key mark 0xff00 mark-ingress on
for p in "${pids[@]}"; do
	kill -0 "$p" || fail "a flood ended before the upgrade was done: no traffic during it"
done
for i in 0 1; do
	wait "${pids[i]}" || true
	cat "${logs[i]}"
	grep -q '1000 packets transmitted, 1000 received' "${logs[i]}" ||
		fail "tenant 0x$((i + 1))00 lost packets across the upgrade"
done
assert_eq "$(rx 1)" 1003 "requests peer 1 decrypted: tenant 0x100's only"
assert_eq "$(rx 2)" 1003 "requests peer 2 decrypted: tenant 0x200's only"
# The tunnel table came over into this version's (tunnel_by_ifid, struct
# tunnel_value: slot, tenant, if_id, seal), and ingress found every reply's
# tunnel in it: each of the gateway's inbound SAs decrypted 1003 replies.
for t in 1 2; do
	in=$(sa_counters "$GW" "10.0.$t.2" "10.0.$t.1" "$(spi_in "$t")" | cut -d' ' -f1)
	assert_eq "$in" 1003 "replies the gateway's SA of peer $t decrypted"
	assert_eq "$(xsj "$GW" stats dev ipsec0 if_id 10$t | jq '.[0].rx_packets')" 1003 \
		"replies counted to tunnel 10$t across the upgrade"
done
[ -e "$dir/tunnels" ] && fail "the last version's tunnel table is still pinned"
# The last version's binary, still installed somewhere or still running
# (a daemon before its restart), does not read the new table with its old
# struct: it finds its map missing and says so.
msg=$("$OLD" -n "$GW" route show dev ipsec0 2>&1 >/dev/null) && fail "the last version read the new pins"
echo "$msg"
grep -q "pinned map .*/tunnels missing" <<<"$msg" || fail "the last version did not name its missing map"
assert_eq "$(bpftool -j map dump pinned "$dir/tunnel_by_ifid" |
	jq -c '[.[] | .formatted.value | [.if_id, .tunnel_idx]] | sort')" '[[101,1],[102,2]]' \
	"the new table's entries: if_id and slot"

step "an entry in the last version's format, naming the other tenant's tunnel, is not trusted"
# Tenant 0x100's entry for 192.168.1.200 made valid as the last version
# made entries (route_gens[fine] + route_gens[tslot], no seal) but with
# tenant 0x200's route: what that version's program would have used.
hexb() { # VALUE BYTES: little-endian hex bytes
	local v=$1 i out=
	for ((i = 0; i < $2; i++)); do
		out+=$(printf ' %02x' $(((v >> (8 * i)) & 255)))
	done
	echo "$out"
}
bytes() { # BYTES... of a JSON hex array on stdin, from FIRST for N: the LE value
	jq -r '.value | map(ltrimstr("0x")) | join(" ")' | {
		read -ra b
		local v=0 i
		for ((i = $2 - 1; i >= 0; i--)); do
			v=$(((v << 8) | 16#${b[$1 + i]}))
		done
		echo "$v"
	}
}
entry() { bpftool -j map lookup pinned "$dir/dcache_v4" key hex $(hexb "$1" 4) c0 a8 01 c8; }
gen() { bpftool -j map lookup pinned "$dir/route_gens" key hex $(hexb "$1" 4) | bytes 0 8; }
e1=$(entry 0x100)
e2=$(entry 0x200)
fine=$(bytes 16 4 <<<"$e1")
tslot=$(bytes 20 4 <<<"$e1")
route2=$(bytes 0 8 <<<"$e2")
assert_eq "$((route2 & 0xffffffff))" 102 "tenant 0x200's cached if_id"
# shellcheck disable=SC2046
bpftool map update pinned "$dir/dcache_v4" key hex $(hexb 0x100 4) c0 a8 01 c8 \
	value hex $(hexb "$route2" 8) $(hexb $(($(gen "$fine") + $(gen "$tslot"))) 8) \
	$(hexb "$fine" 4) $(hexb "$tslot" 4)
assert_eq "$(($(entry 0x100 | bytes 0 8) & 0xffffffff))" 102 "the planted entry's if_id"
gping 0x100 1 0.2 >/dev/null || fail "tenant 0x100 lost its route"
assert_eq "$(rx 1)" 1004 "requests peer 1 decrypted: the trie's answer"
assert_eq "$(rx 2)" 1003 "requests peer 2 decrypted: the planted entry not used"
assert_eq "$(($(entry 0x100 | bytes 0 8) & 0xffffffff))" 101 "tenant 0x100's entry, rewritten"

step "a route change after the upgrade reaches the cached decisions"
$XS -n "$GW" route add 192.168.1.200/32 if_id 555 tenant 0x100 dev ipsec0
gping 0x100 1 0.2 >/dev/null 2>&1 && fail "tenant 0x100's cached decision outlived the route change"
assert_eq "$(xsj "$GW" stats dev ipsec0 if_id 555 | jq '.[0].tx_packets')" 1 "packets steered to the new route"
gping 0x200 1 0.2 >/dev/null || fail "tenant 0x200 lost its route"
assert_eq "$(rx 1)" 1004 "requests peer 1 decrypted"
assert_eq "$(rx 2)" 1004 "requests peer 2 decrypted"
$XS -n "$GW" route del 192.168.1.200/32 tenant 0x100 dev ipsec0
gping 0x100 1 0.2 >/dev/null || fail "tenant 0x100's route did not come back"
assert_eq "$(rx 1)" 1005 "requests peer 1 decrypted"
$XS -n "$GW" detach dev ipsec0

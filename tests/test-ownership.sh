#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# One rule of ownership for apply and the command line (issue: apply removed
# the tunnels of "tunnel add" but left the routes of "route add", and then
# said "the kernel matches it"). A file owns what it made or names; what
# "tunnel add" and "route add" made is theirs: apply leaves it alone and
# says so, route show and tunnel show name every object's owner, a file that
# names such an object takes it over, and then a file without it removes it.
# The kernel's SAs and the peers' SA counters are the judges.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-tunnel.sh"

need_kernel_feature xfrm_interface "no xfrm interfaces in this kernel"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; topo_cleanup' EXIT

step "a gateway from a file (t1, a loose route); t3 by tunnel add, a route by route add"
topo_gateway
tun_peer 1 192.168.1.200 2001:db8:1::200 "$(gcm_key 1 0)" "$(gcm_key 1 1)"
tun_peer 3 192.168.3.200 2001:db8:3::200 "$(gcm_key 3 0)" "$(gcm_key 3 1)"
cat >"$tmp/f.json" <<EOF
{
  "links": [ { "name": "ipsec0", "tenant_key": "mark", "mark_mask": "0xff00" } ],
  "tunnels": [
    { "name": "t1", "if_id": 101, "tenant": "0x100", "local": "10.0.1.1", "remote": "10.0.1.2",
      "spi_in": "0x2001", "spi_out": "0x1001", "reqid": 1,
      "aead": { "name": "rfc4106(gcm(aes))", "icv_bits": 128,
                "key": "$(gcm_key 1 0)", "key_out": "$(gcm_key 1 1)" },
      "prefixes": [ "192.168.1.0/24" ] }
  ],
  "routes": [ { "prefix": "10.99.0.0/16", "if_id": 201, "tenant": "0x100" } ]
}
EOF
apply() { $XS -n "$GW" apply "$@"; }
ping4() { ip netns exec "$GW" ping -q -c "$2" -i 0.2 -W 2 -m 256 "$1" >/dev/null; }
apply "$tmp/f.json"
$XS -n "$GW" tunnel add t3 if_id 103 local 10.0.3.1 remote 10.0.3.2 spi-in 0x2003 spi-out 0x1003 \
	reqid 3 aead 'rfc4106(gcm(aes))' "$(gcm_key 3 0)" 128 out-key "$(gcm_key 3 1)" \
	prefix 192.168.3.0/24 tenant 0x100 dev ipsec0
$XS -n "$GW" route add 10.98.0.0/16 if_id 202 tenant 0x100 dev ipsec0
ping4 192.168.3.200 2
assert_eq "$(peer_rx 3)" 2 "t3 carries traffic"

step "route show and tunnel show name each object's owner"
owners=$(xsj "$GW" route show | jq -c '[.[] | [.prefix, .owner, .tunnel]] | sort')
assert_eq "$owners" '[["10.98.0.0/16","cli",null],["10.99.0.0/16","file",null],["192.168.1.0/24","tunnel","t1"],["192.168.3.0/24","tunnel","t3"]]' \
	"owners of the routes"
assert_eq "$(xsj "$GW" tunnel show | jq -c '[.[] | [.name, .owner]] | sort')" '[["t1","file"],["t3","cli"]]' \
	"owners of the tunnels"
$XS -n "$GW" route show | grep -q '10.98.0.0/16 .* cli' || fail "text route show has no owner"

step "apply of the same file leaves tunnel add's and route add's alone, and says so"
out=$(apply "$tmp/f.json")
echo "$out"
assert_eq "$out" "$tmp/f.json: nothing to do; left alone, not the file's: 1 tunnel of tunnel add, 1 route of route add (-v lists them)" \
	"apply's summary"
assert_eq "$(nstates "$GW")" 4 "SAs of t1 and t3 in the kernel"
assert_eq "$(nroutes "$GW")" 4 "routes"
out=$($XS -v -n "$GW" apply "$tmp/f.json" 2>/dev/null)
grep -q 'left alone: tunnel "t3" (dev ipsec0, if_id 103): made by tunnel add' <<<"$out" || fail "-v: $out"
grep -q 'left alone: route 10.98.0.0/16 tenant 0x100 dev ipsec0 if_id 202: made by route add' <<<"$out" ||
	fail "-v: $out"
assert_eq "$(xsj "$GW" apply --dry-run "$tmp/f.json" | jq '.left_alone | length')" 2 "left_alone in JSON"
ping4 192.168.3.200 2
assert_eq "$(peer_rx 3)" 4 "t3 still carries traffic after apply"

step "show -j > f; apply f keeps each object's owner"
xsj "$GW" show >"$tmp/saved.json"
assert_eq "$(jq -c '[.tunnels[] | [.name, .owner]], [.routes[] | [.prefix, .owner]]' "$tmp/saved.json" | xargs)" \
	'[[t1,null],[t3,cli]] [[10.98.0.0/16,cli],[10.99.0.0/16,null]]' "show writes owner cli"
assert_eq "$(apply "$tmp/saved.json")" "$tmp/saved.json: nothing to do, the kernel matches it" "saved file applied"
assert_eq "$(xsj "$GW" tunnel show | jq -c '[.[] | [.name, .owner]] | sort')" '[["t1","file"],["t3","cli"]]' \
	"owners after the saved file"
# A restore: what the saved file says is route add's is made again, still route add's.
$XS -n "$GW" route del 10.98.0.0/16 tenant 0x100 dev ipsec0
apply "$tmp/saved.json" >/dev/null
assert_eq "$(xsj "$GW" route show | jq -r '.[] | select(.prefix == "10.98.0.0/16") | .owner')" cli \
	"restored as route add's"
assert_eq "$(apply "$tmp/f.json")" "$tmp/f.json: nothing to do; left alone, not the file's: 1 tunnel of tunnel add, 1 route of route add (-v lists them)" \
	"f after the saved file"

step "a file that names them takes them over"
jq --arg k3i "$(gcm_key 3 0)" --arg k3o "$(gcm_key 3 1)" \
	'.tunnels += [{"name": "t3", "if_id": 103, "tenant": "0x100", "local": "10.0.3.1",
	   "remote": "10.0.3.2", "spi_in": "0x2003", "spi_out": "0x1003", "reqid": 3,
	   "aead": {"name": "rfc4106(gcm(aes))", "icv_bits": 128, "key": $k3i, "key_out": $k3o},
	   "prefixes": ["192.168.3.0/24"]}]
	 | .routes += [{"prefix": "10.98.0.0/16", "if_id": 202, "tenant": "0x100"}]' \
	"$tmp/f.json" >"$tmp/g.json"
out=$(apply "$tmp/g.json")
echo "$out"
grep -q 'changes\? made$' <<<"$out" || fail "take-over said: $out"
assert_eq "$(xsj "$GW" tunnel show | jq -c '[.[] | [.name, .owner]] | sort')" '[["t1","file"],["t3","file"]]' \
	"t3 is the file's"
assert_eq "$(xsj "$GW" route show | jq -r '.[] | select(.prefix == "10.98.0.0/16") | .owner')" file \
	"10.98.0.0/16 is the file's"
assert_eq "$(nstates "$GW")" 4 "taking over made no SA again"
assert_eq "$(apply "$tmp/g.json")" "$tmp/g.json: nothing to do, the kernel matches it" "g applied twice"

step "then a file without them removes them"
apply "$tmp/f.json"
assert_eq "$(nstates "$GW")" 2 "t3's SAs are gone from the kernel"
assert_eq "$(xsj "$GW" route show | jq -c '[.[] | .prefix] | sort')" '["10.99.0.0/16","192.168.1.0/24"]' \
	"routes left"
ping4 192.168.1.200 2
assert_eq "$(peer_rx 1)" 2 "t1 carries traffic"

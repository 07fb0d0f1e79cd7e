#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# "xfrm-steer apply FILE": the kernel converges to the file. Checked on the
# kernel's own view ("ip xfrm state/policy", "route show -j"): a second
# apply changes nothing and says so; hand edits (an SA deleted with "ip
# xfrm", a route removed) are repaired; changes (a prefix added, an if_id
# changed) and removals of entries dropped from the file are made; foreign
# SAs, policies and routes stay; --dry-run changes nothing; a bad entry in
# the middle of a file, or a failure at any point of a run, leaves the state
# as it was (links included); "show -j > f; apply f" is a no-op; and
# traffic flows through what was applied.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-tunnel.sh"

need_kernel_feature xfrm_interface "no xfrm interfaces in this kernel"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; topo_cleanup' EXIT

step "topology: three peers, their sides by hand; the gateway's from a file"
topo_gateway
tun_peer 1 192.168.1.200 2001:db8:1::200 "$(gcm_key 1 0)" "$(gcm_key 1 1)"
tun_peer 2 192.168.1.200 2001:db8:1::200 "$(gcm_key 2 0)" "$(gcm_key 2 1)"
tun_peer 3 192.168.3.200 2001:db8:3::200 "$(gcm_key 3 0)" "$(gcm_key 3 0)"
gcm_key 1 0 >"$tmp/in1"
gcm_key 1 1 >"$tmp/out1"

# t1 keys from files (one per direction), t2 and t3 inline (t3: one key
# for both directions); t1 and t3 are tenant 0x100's, t2 0x200's with the
# same addresses as t1.
cat >"$tmp/f1.json" <<EOF
{
  "links": [ { "name": "ipsec0", "tenant_key": "mark", "mark_mask": "0xff00" } ],
  "tunnels": [
    { "name": "t1", "if_id": 101, "tenant": "0x100", "local": "10.0.1.1", "remote": "10.0.1.2",
      "spi_in": "0x2001", "spi_out": "0x1001", "reqid": 1,
      "aead": { "name": "rfc4106(gcm(aes))", "icv_bits": 128,
                "key": "@$tmp/in1", "key_out": "@$tmp/out1" },
      "prefixes": [ "192.168.1.0/24", "2001:db8:1::/64" ] },
    { "name": "t2", "if_id": 102, "tenant": "0x200", "local": "10.0.2.1", "remote": "10.0.2.2",
      "spi_in": "0x2002", "spi_out": "0x1002", "reqid": 2,
      "aead": { "name": "rfc4106(gcm(aes))", "icv_bits": 128,
                "key": "$(gcm_key 2 0)", "key_out": "$(gcm_key 2 1)" },
      "prefixes": [ "192.168.1.0/24", "2001:db8:1::/64" ] },
    { "name": "t3", "if_id": 103, "tenant": "0x100", "local": "10.0.3.1", "remote": "10.0.3.2",
      "spi_in": "0x2003", "spi_out": "0x1003", "reqid": 3,
      "aead": { "name": "rfc4106(gcm(aes))", "icv_bits": 128, "key": "$(gcm_key 3 0)" },
      "prefixes": [ "192.168.3.0/24", "2001:db8:3::/64" ] }
  ],
  "routes": [ { "prefix": "10.99.0.0/16", "if_id": 200, "tenant": "0x100" } ]
}
EOF
# f2: a prefix more for t1, t3 moves to if_id 113. f3: t2 and the loose
# route dropped.
jq '.tunnels[0].prefixes += ["192.168.10.0/24"] | .tunnels[2].if_id = 113' \
	"$tmp/f1.json" >"$tmp/f2.json"
jq 'del(.tunnels[1]) | .routes = []' "$tmp/f2.json" >"$tmp/f3.json"

apply() { $XS -n "$GW" apply "$@"; }
# With the test hooks: the build of the CLI that has them.
happly() { $XS_HOOKS -n "$GW" apply "$@"; }
ping4() { ip netns exec "$GW" ping -q -c "$3" -i 0.2 -W 2 -m "$1" "$2" >/dev/null; }

step "first apply: attaches ipsec0, makes the three tunnels and the route"
out=$(apply "$tmp/f1.json")
echo "$out"
grep -q "changes made" <<<"$out" || fail "first apply said: $out"
assert_eq "$(xsj "$GW" show | jq -c '.links[0] | [.name, .tenant_key, .mark_mask]')" \
	'["ipsec0","mark","0xff00"]' "link attached as the file says"
assert_eq "$(nstates "$GW") $(npolicies "$GW") $(nroutes "$GW")" "6 18 7" "SAs, policies, routes"
ping4 256 192.168.1.200 3
ping4 512 192.168.1.200 2
ping4 256 192.168.3.200 2
assert_eq "$(peer_rx 1) $(peer_rx 2) $(peer_rx 3)" "3 2 2" "traffic through the applied tunnels"
s1=$(snapshot "$GW")

step "a second apply changes nothing, and says so"
out=$(apply "$tmp/f1.json")
assert_eq "$out" "$tmp/f1.json: nothing to do, the kernel matches it" "second apply"
assert_same "$(snapshot "$GW")" "$s1" "state after the second apply"

step "--dry-run prints the plan and changes nothing"
out=$(apply --dry-run "$tmp/f2.json")
echo "$out"
grep -q 'tunnels\[0\] ("t1"): add route 192.168.10.0/24 tenant 0x100 dev ipsec0 if_id 101' <<<"$out" ||
	fail "the plan lacks the new prefix"
grep -q 'tunnels\[2\] ("t3"): add policy dir out src 0.0.0.0/0 dst 0.0.0.0/0 if_id 113' <<<"$out" ||
	fail "the plan lacks t3's new policies"
grep -q 'changes to make (dry run: nothing changed)' <<<"$out" || fail "no summary"
assert_same "$(snapshot "$GW")" "$s1" "state after the dry run"
assert_eq "$(xsj "$GW" apply --dry-run "$tmp/f1.json" | jq -c '[.dry_run, .changes]')" '[true,0]' \
	"dry run of the applied file (JSON)"

step "foreign SAs, policies and routes"
ip -n "$GW" xfrm state add src 10.0.1.1 dst 10.0.1.2 proto esp spi 0x7777 reqid 77 \
	mode tunnel if_id 777 aead "$AEAD_ALG" "$(gcm_key 7 0)" 128
ip -n "$GW" xfrm policy add dir out src 0.0.0.0/0 dst 0.0.0.0/0 if_id 777 \
	tmpl src 10.0.1.1 dst 10.0.1.2 proto esp reqid 77 mode tunnel
$XS -n "$GW" route add 10.77.0.0/16 if_id 777 tenant 0x100 dev ipsec0
s1f=$(snapshot "$GW")

step "convergence after hand edits"
ip -n "$GW" xfrm state del src 10.0.1.1 dst 10.0.1.2 proto esp spi 0x1001
ip -n "$GW" xfrm policy del dir fwd src ::/0 dst ::/0 if_id 103
$XS -n "$GW" route del 2001:db8:1::/64 tenant 0x200 dev ipsec0
$XS -n "$GW" route del 10.99.0.0/16 tenant 0x100 dev ipsec0
assert_fails "ping through t1 without its SA" ping4 256 192.168.1.200 1
out=$(apply "$tmp/f1.json")
echo "$out"
# 10.77.0.0/16 is route add's: left alone, and said to be (test-ownership).
assert_eq "$out" "$tmp/f1.json: 4 changes made; left alone, not the file's: 1 route of route add (-v lists them)" \
	"repairs"
assert_same "$(snapshot "$GW")" "$s1f" "state after the repair"
ping4 256 192.168.1.200 2
assert_eq "$(peer_rx 1)" 5 "t1 carries traffic again"

step "changes: a prefix added, an if_id changed"
apply "$tmp/f2.json"
assert_eq "$(xsj "$GW" route show | jq -c '.[] | select(.prefix == "192.168.10.0/24") | [.tenant, .if_id]')" \
	'["0x100",101]' "new prefix of t1"
assert_eq "$(ip -n "$GW" xfrm policy | grep -c 'if_id 0x71$')" 6 "t3's policies on if_id 113"
assert_eq "$(ip -n "$GW" xfrm policy | grep -c 'if_id 0x67$')" 0 "no policy left on if_id 103"
assert_eq "$(ip -n "$GW" xfrm state | grep -c 'if_id 0x71$')" 2 "t3's SAs on if_id 113"
assert_eq "$(xsj "$GW" route show | jq '[.[] | select(.if_id == 113)] | length')" 2 "t3's routes on if_id 113"
ping4 256 192.168.3.200 2
assert_eq "$(peer_rx 3)" 4 "t3 carries traffic on its new if_id"
assert_eq "$(apply "$tmp/f2.json")" \
	"$tmp/f2.json: nothing to do; left alone, not the file's: 1 route of route add (-v lists them)" "f2 again"
s2=$(snapshot "$GW")

step "removal of entries dropped from the file; foreign ones stay"
apply "$tmp/f3.json"
expected=$(grep -v -e 'spi 0x00001002 ' -e 'spi 0x00002002 ' -e 'if_id 0x66$' -e '"if_id":102' \
	-e '"prefix":"10.99.0.0/16"' <<<"$s2")
assert_same "$(snapshot "$GW")" "$expected" "t2 and the loose route gone, nothing else"
assert_eq "$(ip -n "$GW" xfrm state | grep -c 'spi 0x00007777')" 1 "foreign SA kept"
assert_eq "$(ip -n "$GW" xfrm policy | grep -c 'if_id 0x309$')" 1 "foreign policy kept"
assert_eq "$(xsj "$GW" route show | jq '[.[] | select(.if_id == 777)] | length')" 1 "foreign route kept"
assert_eq "$(xsj "$GW" tunnel show | jq -c '[.[].name]')" '["t1","t3"]' "tunnels"
s3=$(snapshot "$GW")
j3=$(xsj "$GW" show)

step "a bad entry in the middle of a file: an error naming it, nothing changed"
bad() { # JQ-FILTER-FOR-THE-NEW-TUNNEL-1 -> a file with t4 at index 1
	jq --argjson t4 "$1" '.tunnels = [.tunnels[0], $t4] + .tunnels[1:] | .routes = [{"prefix": "10.98.0.0/16", "if_id": 201}]' \
		"$tmp/f1.json" >"$tmp/bad.json"
}
t4='{"name": "t4", "if_id": 104, "local": "10.0.4.1", "remote": "10.0.4.2", "spi_in": 16388, "spi_out": 12292,
     "aead": {"name": "rfc4106(gcm(aes))", "icv_bits": 128, "key": "'"$(gcm_key 4 0)"'"}'
bad "$t4, \"prefixes\": [\"192.168.4.1/24\"]}"
out=$(apply "$tmp/bad.json" 2>&1) && fail "a bad prefix was applied"
assert_eq "$out" "Error: $tmp/bad.json: tunnels[1] (\"t4\"): prefixes[0]: \"192.168.4.1/24\" has host bits set beyond its length" "message"
assert_same "$(snapshot "$GW")" "$s3" "state after a bad prefix"
bad "$(jq -c '.remote = "10.0.1.2" | .spi_out = "0x7777"' <<<"$t4}")"
out=$(apply "$tmp/bad.json" 2>&1) && fail "an SA over a foreign one was applied"
echo "$out"
grep -q '^Error: .*bad.json: tunnels\[1\] ("t4"): SA src 10.0.1.1 dst 10.0.1.2 spi 0x00007777 exists already and is not this tunnel'"'"'s' <<<"$out" ||
	fail "message: $out"
assert_same "$(snapshot "$GW")" "$s3" "state after a clash with a foreign SA"
bad "$t4, \"prefixes\": [\"192.168.4.0/24\"], \"aead\": {\"name\": \"rfc4106(gcm(aes))\", \"icv_bits\": 128, \"key\": \"@$tmp/nothere\"}}"
out=$(apply "$tmp/bad.json" 2>&1) && fail "a missing key file was applied"
grep -q 'tunnels\[1\] ("t4"): aead key: cannot open key file' <<<"$out" || fail "message: $out"
assert_same "$(snapshot "$GW")" "$s3" "state after a missing key file"

step "a failure at any point of a run is rolled back"
# From f3 to f1 is some 40 changes: t2 and the loose route back, t3 to its
# old if_id, a prefix of t1 gone. Fail change N+1 as if the kernel refused.
for n in 0 1 3 6 10 15 21 28 36; do
	out=$(XS_APPLY_FAIL_AFTER=$n happly "$tmp/f1.json" 2>&1) && fail "apply with change $((n + 1)) failing succeeded"
	grep -q "^Error: $tmp/f1.json: .*: cannot .*failure injected" <<<"$out" || fail "message: $out"
	assert_same "$(snapshot "$GW")" "$s3" "state after a failure at change $((n + 1)): $(head -1 <<<"$out" | cut -d: -f3-4)"
	assert_eq "$(xsj "$GW" show)" "$j3" "show -j after a failure at change $((n + 1))"
done

step "a plan over the route table's size: refused before any change, links included"
GW2="$NSP-gw2"
ip netns add "$GW2"
jq '.links[0].max_routes = 4 | .tunnels[0].prefixes += ["192.168.11.0/24", "192.168.12.0/24", "192.168.13.0/24"]' \
	"$tmp/f1.json" >"$tmp/full.json"
out=$($XS -n "$GW2" apply "$tmp/full.json" 2>&1) && fail "5 routes in a table of 4"
echo "$out"
grep -q 'full.json: ipsec0: the route table of "ipsec0" is full (4 routes per family; this would make 7 IPv4 routes); .*"routes N"' <<<"$out" ||
	fail "message: $out"
[ "$(grep -c '^Error' <<<"$out")" -eq 1 ] || fail "more than one error line: $out"
assert_fails "the link made by the run is gone again" ip -n "$GW2" link show ipsec0
assert_eq "$(nstates "$GW2") $(npolicies "$GW2")" "0 0" "no SA or policy left"
[ -z "$(ls /sys/fs/bpf/xfrm-steer/"$(ip netns exec "$GW2" stat -L -c %i /proc/self/ns/net)" 2>/dev/null)" ] ||
	fail "pinned state left behind"
ip netns del "$GW2"

step "examples/ipsec0.json applies, with its key files"
GW3="$NSP-gw3"
ip netns add "$GW3"
mkdir "$tmp/keys"
for b in branch1 branch2; do
	printf '0x%040x\n' 0x11 >"$tmp/keys/$b.in"
	printf '0x%040x\n' 0x22 >"$tmp/keys/$b.out"
done
printf '0x%032x\n' 0x33 >"$tmp/keys/branch3-enc.in"
printf '0x%032x\n' 0x44 >"$tmp/keys/branch3-enc.out"
printf '0x%064x\n' 0x55 >"$tmp/keys/branch3-auth.in"
printf '0x%064x\n' 0x66 >"$tmp/keys/branch3-auth.out"
sed "s#/etc/xfrm-steer/keys/#$tmp/keys/#" examples/ipsec0.json >"$tmp/example.json"
$XS -n "$GW3" apply "$tmp/example.json"
assert_eq "$(nstates "$GW3") $(npolicies "$GW3") $(nroutes "$GW3")" "6 18 6" "SAs, policies, routes of the example"
assert_eq "$($XS -n "$GW3" apply "$tmp/example.json")" "$tmp/example.json: nothing to do, the kernel matches it" \
	"the example applied twice"
step "a device attached by a version without named tunnels is upgraded by apply"
pins=/sys/fs/bpf/xfrm-steer/$(ip netns exec "$GW3" stat -L -c %i /proc/self/ns/net)/ipsec0
rm "$pins/tunnel_names" "$pins/apply_routes"
out=$($XS -n "$GW3" route show 2>&1) && fail "route show without the pins of named tunnels"
grep -q 'tunnel_names missing.*xfrm-steer attach dev' <<<"$out" || fail "message: $out"
$XS -n "$GW3" apply "$tmp/example.json"
[ -e "$pins/tunnel_names" ] && [ -e "$pins/apply_routes" ] || fail "apply did not upgrade the pinned state"
assert_eq "$(nstates "$GW3") $(npolicies "$GW3") $(nroutes "$GW3")" "6 18 6" "the example after the upgrade"
assert_eq "$($XS -n "$GW3" apply "$tmp/example.json")" "$tmp/example.json: nothing to do, the kernel matches it" \
	"the example applied after the upgrade"
$XS -n "$GW3" detach dev ipsec0
ip netns del "$GW3"

step "show -j > f; apply f is a no-op"
xsj "$GW" show >"$tmp/rt.json"
jq . "$tmp/rt.json"
grep -q '"key"' "$tmp/rt.json" && fail "show -j prints keys without -s"
assert_eq "$(apply "$tmp/rt.json")" "$tmp/rt.json: nothing to do, the kernel matches it" "round trip"
assert_same "$(snapshot "$GW")" "$s3" "state after the round trip"
$XS -n "$GW" -s -j show >"$tmp/rts.json"
grep -q '"key"' "$tmp/rts.json" && fail "show -s -j prints keys: -s is for numbers, --show-keys for keys"
$XS -n "$GW" --show-keys -j show >"$tmp/rtk.json"
assert_eq "$(jq -r '.tunnels[] | select(.name == "t1") | .aead.key, .aead.key_out' "$tmp/rtk.json" | xargs)" \
	"$(cat "$tmp/in1") $(cat "$tmp/out1")" "show --show-keys -j prints the keys"
# Without keys a tunnel keeps those of its SAs; an SA gone needs one.
ip -n "$GW" xfrm state del src 10.0.1.1 dst 10.0.1.2 proto esp spi 0x1001
out=$(apply "$tmp/rt.json" 2>&1) && fail "an SA made without a key"
grep -q 'tunnels\[0\] ("t1"): no key' <<<"$out" || fail "message: $out"
apply "$tmp/rtk.json"
assert_same "$(snapshot "$GW")" "$s3" "state after applying the file with keys"

step "traffic through what apply made"
ping4 256 192.168.1.200 2
ping4 256 192.168.3.200 2
assert_eq "$(peer_rx 1) $(peer_rx 3)" "7 6" "peer SA counters"

step "a loose route re-pointed by someone else is left to them"
# The file's route moves from if_id 201 to 203 (apply's own change), then
# to 204 by "route add", as strongSwan's updown script does; a file without
# it must leave that route alone, forget it, and say so.
jq '.routes = [{"prefix": "10.97.0.0/16", "if_id": 201, "tenant": "0x100"}]' "$tmp/f3.json" >"$tmp/f4.json"
jq '.routes[0].if_id = 203' "$tmp/f4.json" >"$tmp/f5.json"
r97() { xsj "$GW" route show | jq -c '[.[] | select(.prefix == "10.97.0.0/16") | [.tenant, .if_id]]'; }
apply "$tmp/f4.json"
apply "$tmp/f5.json"
assert_eq "$(r97)" '[["0x100",203]]' "route moved by the file"
apply "$tmp/f3.json"
assert_eq "$(r97)" "[]" "route dropped from the file after apply moved it: removed"
apply "$tmp/f4.json"
$XS -n "$GW" route add 10.97.0.0/16 if_id 204 tenant 0x100 dev ipsec0
out=$(apply "$tmp/f3.json" 2>&1)
echo "$out"
assert_eq "$(r97)" '[["0x100",204]]' "route re-pointed by route add: kept on its new if_id"
grep -q '^Notice: .*10.97.0.0/16 .*if_id 204.*if_id 201.*left alone' <<<"$out" || fail "no notice: $out"
# Forgotten: route add's now, like 10.77.0.0/16.
assert_eq "$(apply "$tmp/f3.json" 2>&1)" \
	"$tmp/f3.json: nothing to do; left alone, not the file's: 2 routes of route add (-v lists them)" \
	"the record is forgotten"
$XS -n "$GW" route del 10.97.0.0/16 tenant 0x100 dev ipsec0

step "the shipped binary has no test hooks"
# XS_APPLY_FAIL_AFTER=0 would fail the first change of the hooks' build;
# the CLI users run must not read it.
XS_APPLY_FAIL_AFTER=0 XS_APPLY_CRASH_AFTER=0 apply "$tmp/f4.json"
assert_eq "$(r97)" '[["0x100",201]]' "apply with the hooks' variables set: done"
apply "$tmp/f3.json"

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Named tunnels: "xfrm-steer tunnel add" makes the gateway's whole side of
# two tunnels (SA pair, policies, routes; keys from files, one per
# direction), traffic flows (counted by the peers' own SAs), "tunnel show"
# tells what each is made of with its counters, a tunnel add that fails at
# any point leaves nothing behind, a killed one is finished or removed by
# the next command, and "tunnel del" removes exactly its tunnel. What
# happened is read from the kernel: "ip xfrm state/policy", "route show".
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-tunnel.sh"

need_kernel_feature xfrm_interface "no xfrm interfaces in this kernel"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; topo_cleanup' EXIT

step "topology: two peers with the same inner addresses, tenants by mark"
topo_gateway
$XS -n "$GW" attach dev ipsec0 tenant-key mark 0xff00
# As attached by a version without named tunnels: their maps' pins are
# missing, commands say to attach again, which creates them.
pins=/sys/fs/bpf/xfrm-steer/$(ip netns exec "$GW" stat -L -c %i /proc/self/ns/net)/ipsec0
rm "$pins/tunnel_names" "$pins/apply_routes"
out=$($XS -n "$GW" tunnel show 2>&1) && fail "tunnel show without the pin of tunnel_names"
grep -q 'tunnel_names missing.*xfrm-steer attach dev' <<<"$out" || fail "message: $out"
$XS -n "$GW" attach dev ipsec0
[ -e "$pins/tunnel_names" ] && [ -e "$pins/apply_routes" ] || fail "attach did not create the pins"
echo "ok: attach upgrades a device without the maps of named tunnels"
for k in 1 2; do
	tun_peer "$k" 192.168.1.200 2001:db8:1::200 "$(gcm_key "$k" 0)" "$(gcm_key "$k" 1)"
	gcm_key "$k" 0 >"$tmp/in$k"
	gcm_key "$k" 1 >"$tmp/out$k"
done

# tunnel add for peer K: if_id 100+K, tenant T, more words after.
tadd() { # NAME K TENANT [WORDS...]
	local name=$1 k=$2 tenant=$3
	shift 3
	$XS -n "$GW" tunnel add "$name" if_id $((100 + k)) local "10.0.$k.1" remote "10.0.$k.2" \
		spi-in "$(spi_in "$k")" spi-out "$(spi_out "$k")" reqid "$k" \
		aead "$AEAD_ALG" "@$tmp/in$k" 128 out-key "@$tmp/out$k" \
		tenant "$tenant" "$@" dev ipsec0
}

step "tunnel add: the SA pair, six policies and the routes of each"
tadd t1 1 0x100 prefix 192.168.1.0/24 prefix 2001:db8:1::/64
tadd t2 2 0x200 prefix 192.168.1.0/24 prefix 2001:db8:1::/64
assert_eq "$(nstates "$GW")" 4 "SAs"
assert_eq "$(npolicies "$GW")" 12 "policies"
assert_eq "$(nroutes "$GW")" 4 "routes"
assert_eq "$(ip -n "$GW" xfrm policy | grep -c 'if_id 0x65')" 6 "policies of if_id 101"
# The keys came from the files, one per direction, and never from argv.
ip -n "$GW" xfrm state get src 10.0.1.1 dst 10.0.1.2 proto esp spi "$(spi_out 1)" |
	grep -q "$(cat "$tmp/out1")" || fail "outbound SA of t1 lacks the out-key"
ip -n "$GW" xfrm state get src 10.0.1.2 dst 10.0.1.1 proto esp spi "$(spi_in 1)" |
	grep -q "$(cat "$tmp/in1")" || fail "inbound SA of t1 lacks the key"
echo "ok: keys from files, one per direction"

step "traffic: each tenant reaches its own peer"
ip netns exec "$GW" ping -q -c 3 -i 0.2 -W 2 -m 256 192.168.1.200
ip netns exec "$GW" ping -6 -q -c 2 -i 0.2 -W 2 -m 256 2001:db8:1::200
ip netns exec "$GW" ping -q -c 2 -i 0.2 -W 2 -m 512 192.168.1.200
assert_eq "$(peer_rx 1)" 5 "peer 1 SA packets"
assert_eq "$(peer_rx 2)" 2 "peer 2 SA packets"

step "tunnel show: parts and counters"
$XS -n "$GW" tunnel show
json=$(xsj "$GW" tunnel show)
t1=$(jq -c '.[] | select(.name == "t1")' <<<"$json")
assert_eq "$(jq -r '.state, .if_id, .tenant, .local, .remote' <<<"$t1" | xargs)" \
	"ready 101 0x100 10.0.1.1 10.0.1.2" "t1 identity"
assert_eq "$(jq -r '.sa_in.present, .sa_out.present, .sa_in.spi, .sa_out.spi' <<<"$t1" | xargs)" \
	"true true 0x00002001 0x00001001" "t1 SAs present"
assert_eq "$(jq '.policies | length' <<<"$t1")/$(jq .policies_expected <<<"$t1")" 6/6 "t1 policies"
assert_eq "$(jq -r '.prefixes | join(" ")' <<<"$t1")" "192.168.1.0/24 2001:db8:1::/64" "t1 prefixes"
read -r gw_out _ <<<"$(sa_counters "$GW" 10.0.1.1 10.0.1.2 "$(spi_out 1)")"
assert_eq "$(jq .sa_out.packets <<<"$t1")" "$gw_out" "t1 outbound SA counter"
assert_eq "$(jq .tx_packets <<<"$t1")" 5 "t1 tx packets (tunnel counters)"
assert_eq "$(jq .rx_packets <<<"$t1")" 5 "t1 rx packets (tunnel counters)"
assert_eq "$(xsj "$GW" tunnel show t2 | jq -c '[.[].name, .[].tx_packets]')" '["t2",2]' "tunnel show NAME"
# Keys only on request.
for out in "$($XS -n "$GW" tunnel show)" "$json" "$(xsj "$GW" show)"; do
	grep -q "${KEYHEX:=$(sed 's/^0x//' "$tmp/in1")}" <<<"$out" && fail "a key is shown without --show-keys"
done
# -s asks for more numbers, never for keys (issue 18).
for out in "$($XS -n "$GW" -s tunnel show)" "$($XS -n "$GW" -s -j tunnel show t1)" \
	"$($XS -n "$GW" -s -j show)" "$($XS -n "$GW" -s show)" "$($XS -n "$GW" -s -j sa show)" \
	"$($XS -n "$GW" -s sa show)"; do
	grep -q "$KEYHEX" <<<"$out" && fail "-s shows a key: $out"
done
$XS -n "$GW" --show-keys -j tunnel show t1 | grep -q "$KEYHEX" || fail "tunnel show --show-keys lacks the key"
$XS -n "$GW" --show-keys tunnel show t1 | grep -q "$KEYHEX" || fail "tunnel show --show-keys (text) lacks the key"
$XS -n "$GW" --show-keys -j show | grep -q "$KEYHEX" || fail "show --show-keys lacks the key"
$XS -n "$GW" --show-keys -j sa show | grep -q "$KEYHEX" || fail "sa show --show-keys lacks the key"
echo "ok: keys shown only with --show-keys, not with -s"

step "bash completion offers the tunnel names"
# shellcheck source=completion/xfrm-steer.bash
. completion/xfrm-steer.bash
line="$XS -n $GW tunnel del "
COMP_LINE=$line COMP_POINT=${#line}
read -ra COMP_WORDS <<<"$line"
COMP_WORDS+=("")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMPREPLY=()
_xfrm_steer
assert_eq "$(printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ')" "t1 t2 " \
	"completions of 'tunnel del '"

step "a failing tunnel add leaves no SA, policy or route behind"
before=$(snapshot "$GW")
# t3 to peer 1's underlay again, with words each time making it fail.
t3() { ${T3_XS:-$XS} -n "$GW" tunnel add t3 if_id 103 local 10.0.1.1 remote 10.0.1.2 \
	spi-in "${SPI_IN:-0x2003}" spi-out 0x1003 aead "$AEAD_ALG" "@$tmp/in1" 128 \
	prefix 192.168.3.0/24 prefix 2001:db8:3::/64 tenant 0x100 "$@" dev ipsec0; }
err=$(SPI_IN=$(spi_in 1) t3 2>&1) && fail "duplicate spi accepted"
grep -q "spi 0x00002001 is tunnel \"t1\"'s" <<<"$err" || fail "duplicate spi: unexpected message: $err"
echo "ok: duplicate SPI refused: $err"
assert_fails "a bad prefix at the end" t3 prefix 192.168.4.1/24
assert_fails "a name that exists" $XS -n "$GW" tunnel add t1 if_id 109 local 10.0.1.1 \
	remote 10.0.9.2 spi-in 0x2009 spi-out 0x1009 aead "$AEAD_ALG" "@$tmp/in1" 128 dev ipsec0
assert_fails "a key file that is not there" t3 out-key "@$tmp/none"
ip -n "$GW" xfrm policy add dir out src 0.0.0.0/0 dst 0.0.0.0/0 if_id 103 tmpl src 10.0.1.1 dst 10.0.7.7 proto esp mode tunnel
assert_fails "a foreign policy for the if_id" t3
ip -n "$GW" xfrm policy del dir out src 0.0.0.0/0 dst 0.0.0.0/0 if_id 103
# A tunnel add is 13 changes (record, 2 SAs, 6 policies, counters, 2
# routes, record complete): fail each in turn, as if the kernel refused.
for n in 0 1 2 3 5 8 9 10 11 12; do
	out=$(T3_XS=$XS_HOOKS XS_APPLY_FAIL_AFTER=$n t3 2>&1) && fail "tunnel add with change $((n + 1)) failing succeeded"
	grep -q 'Error: tunnel "t3": cannot' <<<"$out" || fail "message of failure $n: $out"
	assert_same "$(snapshot "$GW")" "$before" "nothing left after failure at change $((n + 1))"
done
assert_eq "$(xsj "$GW" tunnel show | jq -c '[.[].name]')" '["t1","t2"]' "tunnels after the failures"

step "a killed tunnel add is finished by the next one, or removed by del"
for n in 1 4 7 10; do
	rc=0
	T3_XS=$XS_HOOKS XS_APPLY_CRASH_AFTER=$n t3 || rc=$?
	assert_eq "$rc" 137 "tunnel add killed after $n changes"
	assert_eq "$(xsj "$GW" tunnel show t3 | jq -r '.[0].state')" incomplete "t3 after the kill"
	if [ $((n % 2)) = 1 ]; then
		t3
		assert_eq "$(xsj "$GW" tunnel show t3 | jq -r '.[0].state, (.[0].policies | length), (.[0].prefixes | length)' | xargs)" \
			"ready 6 2" "t3 finished by a second tunnel add"
	fi
	$XS -n "$GW" tunnel del t3
	assert_same "$(snapshot "$GW")" "$before" "tunnel del after a kill at $n"
done

step "tunnel del removes exactly its tunnel"
tadd t3b 2 0x200 prefix 10.77.0.0/16 2>/dev/null && fail "a second tunnel on peer 2's SPIs"
before=$(snapshot "$GW")
$XS -n "$GW" tunnel del t2
expected=$(grep -v -e "spi $(printf '0x%08x' $((0x1002))) " -e "spi $(printf '0x%08x' $((0x2002))) " \
	-e 'if_id 0x66$' -e '"if_id":102' <<<"$before")
assert_same "$(snapshot "$GW")" "$expected" "t2's SAs, policies and routes gone, nothing else"
assert_eq "$(xsj "$GW" tunnel show | jq -c '[.[].name]')" '["t1"]' "tunnels after del"
assert_fails "deleting it again" $XS -n "$GW" tunnel del t2
ip netns exec "$GW" ping -q -c 2 -i 0.2 -W 2 -m 256 192.168.1.200
assert_eq "$(peer_rx 1)" 7 "t1 still carries traffic"
$XS -n "$GW" tunnel del t1
assert_eq "$(nstates "$GW") $(npolicies "$GW") $(nroutes "$GW")" "0 0 0" "nothing left"

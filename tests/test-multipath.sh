#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Route groups end to end: four SAs (four if_ids) from the gateway to one
# peer behind one route: two primaries weighted 3:1, a backup and an EF-only
# member. Which SA carried a packet is read from the gateway's own outbound
# SA counters; health comes from `xfrm-steer daemon`, which follows the SAs.
. "$(dirname "$0")/lib.sh"

need_kernel_feature xfrm_interface "no xfrm interfaces in this kernel"
command -v python3 >/dev/null || skip "no python3 to send the flows"

GWA=10.0.1.1
PA=10.0.1.2
DST=192.168.1.200
KEY=$(peer_key 1)
# member m: if_id 101 + 10m, reqid m + 1, SPI 0x1001 + 0x10m
ifid() { echo $((101 + 10 * $1)); }
spi() { printf '0x%x' $((0x1001 + 0x10 * $1)); }

sa_add() { # M
	ip -n "$GW" xfrm state add src "$GWA" dst "$PA" proto esp spi "$(spi "$1")" \
		reqid $(($1 + 1)) mode tunnel if_id "$(ifid "$1")" flag af-unspec \
		aead "$AEAD_ALG" "$KEY" 128
}
sa_del() { ip -n "$GW" xfrm state delete src "$GWA" dst "$PA" proto esp spi "$(spi "$1")"; }
# packets the gateway's outbound SA of member M encrypted (0 when it has none)
sa_tx() { sa_counters "$GW" "$GWA" "$PA" "$(spi "$1")" 2>/dev/null | cut -d' ' -f1 | grep . || echo 0; }
ul_tx() { ip -n "$GW" -j -s link show ul1 | jq '.[0].stats64.tx.packets'; }
# the four outbound SAs' packet counters in one ip call (0 for a missing SA)
all_tx() {
	ip -n "$GW" -s xfrm state list src "$GWA" dst "$PA" | awk '
		/^src/ { spi = "" } / spi / { for (i = 1; i <= NF; i++) if ($i == "spi") spi = $(i + 1); sub(/\(.*/, "", spi) }
		/lifetime current:/ { getline; gsub(/[(),a-z]/, " "); n[spi] = $2 }
		END { printf "%d %d %d %d\n", n["0x00001001"], n["0x00001011"], n["0x00001021"], n["0x00001031"] }'
}
# sendq FLOWNUM PER: PER packets of one flow, no process started (bash's
# /dev/udp; the source port is the kernel's choice, one per flow)
sendq() {
	ip netns exec "$GW" bash -c 'exec 3>/dev/udp/'"$DST"'/$((30000 + $1)); for _ in $(seq "$2"); do printf x >&3; done' _ "$1" "$2"
}

# send FIRST COUNT PER [TOS]: COUNT UDP flows (source port 20000 + FIRST + i,
# fixed, so the flows are the same on every run), PER packets each.
send() {
	ip netns exec "$GW" python3 - "$DST" "$@" <<'PY'
import socket, sys
dst, first, count, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
tos = int(sys.argv[5]) if len(sys.argv) > 5 else 0
for i in range(count):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, tos)
    s.bind(("10.255.0.1", 20000 + first + i))
    for _ in range(per):
        s.sendto(b"x" * 32, (dst, 9))
    s.close()
PY
}

step "topology: one peer, four SAs with four if_ids, one route to a group"
topo_gateway
$XS -n "$GW" attach dev ipsec0
topo_peer_link 1 "$DST" 2001:db8:1::200
for m in 0 1 2 3; do
	sa_add "$m"
	for sel in 0.0.0.0/0 ::/0; do
		ip -n "$GW" xfrm policy add dir out src "$sel" dst "$sel" if_id "$(ifid "$m")" \
			tmpl src "$GWA" dst "$PA" proto esp reqid $((m + 1)) mode tunnel
	done
done
$XS -n "$GW" route add 192.168.1.0/24 nexthop if_id 101 weight 3 nexthop if_id 111 weight 1 \
	nexthop if_id 121 backup nexthop if_id 131 dscp ef dev ipsec0
$XS -n "$GW" route show dev ipsec0
xsj "$GW" route show dev ipsec0 | jq -c '.[0]'
assert_eq "$(xsj "$GW" route show dev ipsec0 | jq -c '[.[0].nexthops[] | [.if_id, .weight, .backup, .dscp]]')" \
	'[[101,3,false,[]],[111,1,false,[]],[121,1,true,[]],[131,1,false,[46]]]' "group in route show"

step "bad input: one line naming the word, nothing applied"
for bad in "nexthop if_id 101 weight 0" "nexthop if_id 101 dscp ef,zz" "nexthop if_id 101 nexthop if_id 101" \
	"nexthop if_id 101 backup" "nexthop weight 3" "nexthop if_id 101 colour red"; do
	# shellcheck disable=SC2086
	if out=$($XS -n "$GW" route add 192.168.7.0/24 $bad dev ipsec0 2>&1); then
		fail "route add ... $bad succeeded"
	fi
	assert_eq "$(wc -l <<<"$out")" 1 "one line for \"$bad\" ($out)"
done
assert_eq "$(xsj "$GW" route show dev ipsec0 | jq length)" 1 "no route half added"

step "32 flows use both primaries, every packet of a flow on one SA"
used0=0 used1=0
for i in $(seq 0 31); do
	read -r a0 b0 c0 d0 <<<"$(all_tx)"
	sendq "$i" 5
	read -r a1 b1 c1 d1 <<<"$(all_tx)"
	da=$((a1 - a0)) db=$((b1 - b0))
	[ $((c1 - c0 + d1 - d0)) -eq 0 ] || fail "flow $i touched the backup or the EF member"
	if [ "$da" -eq 5 ] && [ "$db" -eq 0 ]; then
		used0=$((used0 + 1))
	elif [ "$da" -eq 0 ] && [ "$db" -eq 5 ]; then
		used1=$((used1 + 1))
	else
		fail "flow $i split: $da on if_id 101, $db on if_id 111"
	fi
done
echo "32 flows: $used0 on if_id 101, $used1 on if_id 111"
assert_ge "$used0" 1 "flows on if_id 101"
assert_ge "$used1" 1 "flows on if_id 111"

step "weights 3:1 over 1000 flows"
read -r a0 b0 _ _ <<<"$(all_tx)"
t0=$(date +%s%N)
send 1000 1000 1
t1=$(date +%s%N)
read -r a1 b1 _ _ <<<"$(all_tx)"
da=$((a1 - a0)) db=$((b1 - b0))
echo "1000 flows in $(((t1 - t0) / 1000000)) ms: $da on if_id 101, $db on if_id 111"
assert_eq "$((da + db))" 1000 "every flow on a primary"
# within 20% of 3:1: 2.4 <= da/db <= 3.6
[ $((da * 10)) -ge $((db * 24)) ] && [ $((da * 10)) -le $((db * 36)) ] ||
	fail "ratio $da:$db is not within 20% of 3:1"
echo "ok: ratio $da:$db within 20% of 3:1"

step "DSCP EF takes its own SA, the rest never does"
read -r a0 b0 c0 d0 <<<"$(all_tx)"
send 3000 32 2 184 # TOS 0xb8: EF
read -r a1 b1 c1 d1 <<<"$(all_tx)"
assert_eq "$((d1 - d0)) $((a1 - a0 + b1 - b0 + c1 - c0))" "64 0" "EF packets on if_id 131, others"

step "member 101 loses its outbound SA: the daemon moves its flows within a second"
$XS -n "$GW" daemon dev ipsec0 >"/tmp/$NSP-daemon.log" 2>&1 &
DPID=$!
trap 'kill $DPID 2>/dev/null; topo_cleanup' EXIT
sleep 1
member_up() { xsj "$GW" route show dev ipsec0 | jq ".[0].nexthops[] | select(.if_id == $1) | .up"; }
# ms from T0 (date +%s%N) to the daemon's log line "IF_ID: STATE"
took_ms() { # T0 IF_ID STATE
	local at
	at=$(grep " if_id $2: $3" "/tmp/$NSP-daemon.log" | tail -n1 | cut -d' ' -f1 | tr -d .)
	[ -n "$at" ] || fail "the daemon never said if_id $2 went $3"
	echo $((at - $1 / 1000000))
}
assert_eq "$(member_up 101)" true "101 up with its SA"
read -r a0 _ _ _ <<<"$(all_tx)"
send 0 32 1
read -r a1 _ _ _ <<<"$(all_tx)"
base=$((a1 - a0)) # of these 32 flows, on 101 while it is up
t0=$(date +%s%N)
sa_del 0
sleep 1
ms=$(took_ms "$t0" 101 down)
echo "101 down after $ms ms"
[ "$ms" -le 1000 ] || fail "101 went down $ms ms after its SA"
assert_eq "$(member_up 101)" false "101 down in route show"
read -r _ b0 c0 d0 <<<"$(all_tx)"
u0=$(ul_tx)
send 0 32 5
read -r _ b1 c1 d1 <<<"$(all_tx)"
assert_eq "$((b1 - b0)) $((c1 - c0)) $((d1 - d0))" "160 0 0" "all 32 flows on 111 (111 backup ef)"
assert_eq "$(($(ul_tx) - u0))" 160 "underlay packets: the ESP ones, nothing unencrypted"

step "the SA returns: 101 carries flows again within a second"
t0=$(date +%s%N)
sa_add 0
sleep 1
ms=$(took_ms "$t0" 101 up)
echo "101 up after $ms ms"
[ "$ms" -le 1000 ] || fail "101 came back $ms ms after its SA"
send 0 32 1
assert_eq "$(sa_tx 0)" "$base" "the same flows back on 101"

step "backup only while both primaries are down"
sa_del 0
sa_del 1
sleep 1
read -r _ _ c0 _ <<<"$(all_tx)"
send 0 32 1
read -r _ _ c1 _ <<<"$(all_tx)"
assert_eq "$((c1 - c0))" 32 "32 flows on the backup 121"
sa_add 1
sleep 1
send 0 32 1
assert_eq "$(sa_tx 1) $(($(sa_tx 2) - c1))" "32 0" "111 back, backup idle"

step "manual down wins over the SAs, auto gives it back"
$XS -n "$GW" route nexthop down if_id 111 dev ipsec0
assert_eq "$(member_up 111)" false "111 down by hand"
sleep 1.5 # the daemon's next look must not undo it
assert_eq "$(member_up 111)" false "111 still down with its SA"
$XS -n "$GW" route nexthop auto if_id 111 dev ipsec0
assert_eq "$(member_up 111)" true "111 back to the SA's word"

step "the daemon restarts and finds the same state"
kill "$DPID"
wait "$DPID" 2>/dev/null || true
sa_add 0
$XS -n "$GW" daemon dev ipsec0 >>"/tmp/$NSP-daemon.log" 2>&1 &
DPID=$!
sleep 1
assert_eq "$(member_up 101) $(member_up 111)" "true true" "health after restart"
cat "/tmp/$NSP-daemon.log"

step "examples/multipath.json applies as shipped, and show -j's form of it is a no-op"
$XS -n "$GW" route del 192.168.1.0/24 dev ipsec0
$XS -n "$GW" apply examples/multipath.json
grp() { xsj "$GW" route show dev ipsec0 | jq -c "$1"; }
assert_eq "$(grp '[.[] | .owner, [.nexthops[] | [.if_id, .weight, .backup, .dscp]]]')" \
	'["file",[[101,3,false,[]],[111,1,false,[]],[121,1,true,[]],[131,1,false,[46]]]]' \
	"the example's group, apply's"
read -r a0 b0 c0 d0 <<<"$(all_tx)"
send 4000 32 1
read -r a1 b1 c1 d1 <<<"$(all_tx)"
echo "32 flows after apply: $((a1 - a0)) on 101, $((b1 - b0)) on 111"
assert_ge "$((a1 - a0))" 1 "flows on if_id 101 after apply"
assert_ge "$((b1 - b0))" 1 "flows on if_id 111 after apply"
assert_eq "$((a1 - a0 + b1 - b0)) $((c1 - c0 + d1 - d0))" "32 0" "every flow on a primary"
gid=$(grp '.[0].group')
xsj "$GW" show >"/tmp/$NSP-show.json"
assert_eq "$(xsj "$GW" apply "/tmp/$NSP-show.json" | jq .changes)" 0 "apply of show -j changes nothing"
assert_eq "$(grp '.[0].group')" "$gid" "the group was not written again"
assert_eq "$(xsj "$GW" apply examples/multipath.json | jq .changes)" 0 "nor a second apply of the example"

step "apply changes a group's weights and members, and removes it"
jq '.routes[0].nexthops |= (map(select(.if_id != 121)) | .[0].weight = 1)' examples/multipath.json \
	>"/tmp/$NSP-changed.json"
$XS -n "$GW" apply "/tmp/$NSP-changed.json"
assert_eq "$(grp '[.[0].nexthops[] | [.if_id, .weight]]')" '[[101,1],[111,1],[131,1]]' "changed group"
[ "$(grp '.[0].group')" != "$gid" ] || fail "a changed group keeps its index (not copy-on-write)"
read -r a0 b0 _ _ <<<"$(all_tx)"
send 5000 200 1
read -r a1 b1 _ _ <<<"$(all_tx)"
echo "200 flows at 1:1: $((a1 - a0)) on 101, $((b1 - b0)) on 111"
[ $((a1 - a0)) -ge 60 ] && [ $((b1 - b0)) -ge 60 ] || fail "not near 1:1 after the change"
echo '{ "links": [ { "name": "ipsec0" } ] }' >"/tmp/$NSP-empty.json"
$XS -n "$GW" apply "/tmp/$NSP-empty.json"
assert_eq "$(grp length)" 0 "apply removed its group"
$XS -n "$GW" route add 192.168.1.0/24 nexthop if_id 101 nexthop if_id 111 dev ipsec0
out=$($XS -n "$GW" apply "/tmp/$NSP-empty.json")
echo "$out"
grep -q "nothing to do; left alone, not the file's: 1 route of route add" <<<"$out" ||
	fail "route add's group not left alone: $out"
assert_eq "$(grp '.[0].owner')" '"cli"' "route add's group stays route add's"
rm -f "/tmp/$NSP-show.json" "/tmp/$NSP-changed.json" "/tmp/$NSP-empty.json"

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Routes of IKE-managed tunnels as a function of the kernel's state
# (issue 19): `xfrm-steer daemon dev ipsec0 ike if_ids 1-999` with two real
# charon daemons and no updown script. A route (prefix -> if_id) exists
# exactly while the gateway's kernel has an outbound policy and a usable
# outbound SA with that if_id: it follows a CHILD_SA up within a second,
# goes after an IKE rekey and the CHILD_SA's end, converges after a SIGKILL
# of charon, comes back after a detach and attach, refuses port-split
# selectors of two if_ids on one prefix, and the managed range is kept
# apart from configured tunnels.
. "$(dirname "$0")/lib.sh"

XS_SW_PREFIX=xs-ike
. "$(dirname "$0")/lib-charon.sh"
DLOG=$SW/daemon.log
step() { echo "-- [${SECONDS}s] $*"; }
DPID=
DAEMON_RANGE=1-999
daemon_stop() {
	if [ -n "$DPID" ]; then
		kill "$DPID" 2>/dev/null
		wait "$DPID" 2>/dev/null
	fi
	DPID=
}
# lib-charon's trap stops charon, shows the logs in $SW and cleans up.
trap 'rc=$?; set +e; daemon_stop; [ -z "$MPID" ] || kill "$MPID" 2>/dev/null; finish "$rc"' EXIT
daemon_start() {
	$XS -n "$GW" daemon dev ipsec0 ike if_ids "$DAEMON_RANGE" >>"$DLOG" 2>&1 &
	DPID=$!
}

# When the kernel and the daemon did things: the gateway's policy events
# with timestamps (ip -ts monitor), the daemon's lines with theirs.
MLOG=$SW/monitor.log
MPID=
kernel_ms() { # ERE: ms since the epoch of the last policy event matching it
	local ts
	ts=$(grep -E -- "$1" "$MLOG" | tail -n1 | sed -n 's/^\[\([^]]*\)\].*/\1/p')
	[ -n "$ts" ] || fail "no policy event matching '$1' in $(cat "$MLOG")"
	echo $(($(date -d "$ts" +%s%N) / 1000000))
}
daemon_ms() { # ERE: ms since the epoch of the daemon's last line matching it
	local ts
	ts=$(grep -E -- "$1" "$DLOG" | tail -n1 | cut -d' ' -f1 | tr -d .)
	[ -n "$ts" ] || fail "the daemon never said '$1'"
	echo "$ts"
}
assert_quick() { # FROM_MS TO_MS WHAT: TO within a second of FROM
	[ -n "$1" ] && [ -n "$2" ] || exit 1 # what failed in $(...) said why
	local d=$(($2 - $1))
	echo "   $3: $d ms"
	[ "$d" -le 1000 ] || fail "$3: $d ms, more than a second"
}

# Poll every 0.1 s up to LIMIT seconds for CMD to print WANT.
within() { # LIMIT WANT WHAT CMD...
	local limit=$1 want=$2 what=$3 t0 got
	shift 3
	t0=$(date +%s%N)
	while got=$("$@") && [ "$got" != "$want" ]; do
		[ $((($(date +%s%N) - t0) / 1000000)) -lt $((limit * 1000)) ] || break
		sleep 0.1
	done
	assert_eq "$got" "$want" "$what"
	echo "   after $((($(date +%s%N) - t0) / 1000000)) ms"
}
owners() { # "prefix if_id owner" per line
	xsj "$GW" route show dev ipsec0 | jq -r '.[] | "\(.prefix) \(.if_id) \(.owner)"' | sort
}
out_if_id() { # DST: the if_id of the gateway's outbound policy to DST
	local v
	v=$(ip -n "$GW" xfrm policy list dir out dst "$1" | grep -o 'if_id 0x[0-9a-f]*' | head -n1 | awk '{ print $2 }')
	[ -n "$v" ] || fail "no outbound policy to $1"
	echo $((v))
}

step "topology: gateway with an attached external interface, one peer"
topo_gateway
nsenter --net="/run/netns/$GW" ip -ts xfrm monitor policy >"$MLOG" 2>&1 &
MPID=$!
$XS -n "$GW" attach dev ipsec0
topo_ike_peer

# The gateway's CHILD_SAs take a %unique if_id (net) or fixed ones inside
# the range (web, tls: one prefix split by port). No updown script.
{
	sw_child net 10.255.0.0/16 192.168.1.200/32 %unique
	sw_child web 10.255.0.0/16 "192.168.3.0/24[tcp/80]" 20
	sw_child tls 10.255.0.0/16 "192.168.3.0/24[tcp/443]" 21
} | sw_conf 10.0.1.1 10.0.1.2 gw.example peer1.example >"$SW/gw-swanctl.conf"
{
	sw_child net 192.168.1.200/32 10.255.0.0/16
	sw_child web "192.168.3.0/24[tcp/80]" 10.255.0.0/16
	sw_child tls "192.168.3.0/24[tcp/443]" 10.255.0.0/16
} | sw_conf 10.0.1.2 10.0.1.1 peer1.example gw.example >"$SW/peer-swanctl.conf"

step "the managed range is kept apart from configured tunnels"
key=0x$(printf '%040x' 1)
tun_add() { # IF_ID
	$XS -n "$GW" tunnel add branch1 if_id "$1" local 10.0.1.1 remote 10.0.9.9 spi-in 0x1001 \
		spi-out 0x1002 aead aes-gcm "$key" 128 prefix 192.168.50.0/24 dev ipsec0
}
# strongSwan's %unique counts from 1: a configured tunnel on 1 is refused.
tun_add 1
msg=$($XS -n "$GW" daemon dev ipsec0 ike if_ids 1-999 2>&1) && fail "daemon started over tunnel branch1's if_id"
echo "$msg"
[ "$(wc -l <<<"$msg")" -eq 1 ] || fail "more than one line"
grep -q 'tunnel "branch1".*if_id 1, inside the IKE range 1-999' <<<"$msg" ||
	fail "the message does not name the tunnel"
$XS -n "$GW" tunnel del branch1
daemon_start
sleep 1
kill -0 "$DPID" || fail "the daemon exited: $(cat "$DLOG")"
msg=$(tun_add 1 2>&1) && fail "tunnel add into the range succeeded"
echo "$msg"
grep -q 'if_id 1 is in the range 1-999' <<<"$msg" || fail "tunnel add: the message does not name the range"
msg=$($XS -n "$GW" route add 192.168.60.0/24 if_id 7 dev ipsec0 2>&1) && fail "route add into the range succeeded"
echo "$msg"
grep -q 'if_id 7 is in the range 1-999' <<<"$msg" || fail "route add: the message does not name the range"
tun_add 1000
$XS -n "$GW" route add 192.168.60.0/24 if_id 1001 dev ipsec0
assert_eq "$(owners)" "192.168.50.0/24 1000 tunnel
192.168.60.0/24 1001 cli" "routes before any CHILD_SA"
$XS -n "$GW" tunnel del branch1
$XS -n "$GW" route del 192.168.60.0/24 dev ipsec0

step "two charon daemons, no updown script"
start_charon gw "$GW"
start_charon peer "$PEER"
swan gw --load-all --file "$SW/gw-swanctl.conf"
swan peer --load-all --file "$SW/peer-swanctl.conf"

step "CHILD_SA up (%unique if_id): its route within a second"
swan peer --initiate --child net --timeout 60 >/dev/null
ifid=$(out_if_id 192.168.1.200/32)
echo "charon's %unique if_id: $ifid"
within 5 "192.168.1.200/32 $ifid ike" "routes after the CHILD_SA is up (prefix if_id owner)" owners
assert_quick "$(kernel_ms '^\[.*\] src 10.255.0.0/16 dst 192.168.1.200/32')" \
	"$(daemon_ms "ike: route 192.168.1.200/32 tenant 0 -> if_id $ifid\$")" \
	"from the outbound policy to the route"
ip netns exec "$GW" ping -q -c 3 -i 0.2 -W 2 192.168.1.200
spi_of() { # NS SRC DST
	ip -n "$1" xfrm state list src "$2" dst "$3" | awk '/proto esp spi/ { print $4; exit }'
}
read -r rx _ <<<"$(sa_counters "$PEER" 10.0.1.1 10.0.1.2 "$(spi_of "$PEER" 10.0.1.1 10.0.1.2)")"
assert_eq "$rx" 3 "packets the peer's inbound SA decrypted"

step "IKE_SA rekey, then the CHILD_SA ends: no route left"
swan peer --rekey --ike peer1 >/dev/null
end=$((SECONDS + 60))
until swan gw --list-sas | grep -q 'peer1: #2'; do
	[ $SECONDS -lt $end ] || fail "the IKE_SA was not rekeyed: $(swan gw --list-sas)"
	sleep 0.3
done
swan gw --list-sas | grep -E '^peer1|net:'
assert_eq "$(owners)" "192.168.1.200/32 $ifid ike" "routes after the rekey"
swan peer --terminate --child net --timeout 30 >/dev/null
within 5 "" "routes after the CHILD_SA ended" owners
assert_quick "$(kernel_ms '^\[.*\] Deleted src 10.255.0.0/16 dst 192.168.1.200/32')" \
	"$(daemon_ms "ike: route 192.168.1.200/32 tenant 0 removed")" \
	"from the policy's deletion to the route's"

step "port-split selectors on one prefix with two if_ids: refused with a message"
swan peer --initiate --child web --timeout 60 >/dev/null
within 5 "192.168.3.0/24 20 ike" "route of the first CHILD_SA of the split" owners
swan peer --initiate --child tls --timeout 60 >/dev/null
end=$((SECONDS + 5))
until grep -q '192.168.3.0/24 tenant 0 if_id 21: conflicts with if_id 20' "$DLOG"; do
	[ $SECONDS -lt $end ] || fail "no conflict reported: $(cat "$DLOG")"
	sleep 0.1
done
grep 'conflicts' "$DLOG"
sleep 1
[ "$(grep -c 'conflicts with' "$DLOG")" -eq 1 ] || fail "the conflict is reported more than once"
assert_eq "$(owners)" "192.168.3.0/24 20 ike" "the route stays with its holder"
st=$(xsj "$GW" daemon status dev ipsec0)
echo "$st"
assert_eq "$(jq -r '.[0] | "\(.lo)-\(.hi) \(.routes)"' <<<"$st")" "1-999 1" "daemon status: range and routes"
assert_ge "$(jq '.[0].problems' <<<"$st")" 1 "daemon status: problems"
grep -q 'narrower than a route' "$DLOG" || fail "the port selectors are not reported"
# The daemon's routes are not configuration: show -j leaves them out, and
# applying its file leaves them alone.
xsj "$GW" show >"$SW/show.json"
assert_eq "$(jq -c '[.routes[]?.prefix]' "$SW/show.json")" "[]" "routes in show -j"
$XS -n "$GW" apply "$SW/show.json"
assert_eq "$(owners)" "192.168.3.0/24 20 ike" "the route after apply of show's file"

step "detach + attach: the daemon restores the routes of installed CHILD_SAs"
swan peer --initiate --child net --timeout 60 >/dev/null
ifid=$(out_if_id 192.168.1.200/32)
within 5 "192.168.1.200/32 $ifid ike
192.168.3.0/24 20 ike" "routes of net and web" owners
# A policy event first: the daemon looks at it, and its next periodic
# look is 5 s later, so only its watch of the pins can be this quick.
ip -n "$GW" xfrm policy add src 198.51.100.0/24 dst 198.51.100.0/24 dir out
ip -n "$GW" xfrm policy delete src 198.51.100.0/24 dst 198.51.100.0/24 dir out
sleep 0.5
$XS -n "$GW" detach dev ipsec0
$XS -n "$GW" attach dev ipsec0
t0=$(($(date +%s%N) / 1000000))
within 5 "192.168.1.200/32 $ifid ike
192.168.3.0/24 20 ike" "routes after detach + attach" owners
assert_quick "$t0" "$(daemon_ms "ike: route 192.168.1.200/32 tenant 0 -> if_id $ifid\$")" \
	"from the attach to the route back"
ip netns exec "$GW" ping -q -c 2 -i 0.2 -W 2 192.168.1.200

step "charon SIGKILL: the routes follow the kernel, not charon"
kill -9 "${CHARON_PIDS[0]}"
sleep 1
assert_eq "$(owners | wc -l)" 2 "routes while the kernel still has the SAs"
# What charon left is flushed (by an operator, or the SAs expire): the
# routes go with it.
ip -n "$GW" xfrm policy flush
ip -n "$GW" xfrm state flush
t0=$(($(date +%s%N) / 1000000))
within 5 "" "routes once the SAs and policies are gone" owners
assert_quick "$t0" "$(daemon_ms "ike: route 192.168.1.200/32 tenant 0 removed")" \
	"from the flush to the route's removal"

step "charon restarted: %unique starts again, the new CHILD_SA is routed"
CHARON_PIDS=("${CHARON_PIDS[1]}")
rm -f "$SW/gw.vici"
start_charon gw "$GW"
swan gw --load-all --file "$SW/gw-swanctl.conf"
# The peer's IKE_SA died with the gateway's charon: drop it without asking.
swan peer --terminate --ike peer1 --force >/dev/null 2>&1 || true
swan peer --initiate --child net --timeout 60 >/dev/null
ifid=$(out_if_id 192.168.1.200/32)
within 5 "192.168.1.200/32 $ifid ike" "routes after the restart" owners
ip netns exec "$GW" ping -q -c 2 -i 0.2 -W 2 192.168.1.200

step "the daemon restarted: it finds its routes again and removes stale ones"
daemon_stop
swan gw --terminate --child net --timeout 30 >/dev/null
assert_eq "$(owners)" "192.168.1.200/32 $ifid ike" "the route stays while no daemon runs"
daemon_start
within 10 "" "routes once the daemon is back" owners
step "%unique past the range: never routed onto a configured tunnel's if_id, reported"
# charon's %unique counter only grows: the range ends just above the next
# value, the tunnel sits right after it, and each new CHILD_SA steps on.
swan peer --initiate --child net --timeout 60 >/dev/null
x=$(out_if_id 192.168.1.200/32)
swan peer --terminate --child net --timeout 30 >/dev/null
daemon_stop
hi=$((x + 1))
DAEMON_RANGE=1-$hi
daemon_start
sleep 1
tun_add $((hi + 1))
seen_tunnel=0 seen_beyond=0
for _ in 1 2 3 4 5; do
	swan peer --initiate --child net --timeout 60 >/dev/null
	y=$(out_if_id 192.168.1.200/32)
	echo "charon's %unique if_id: $y (range 1-$hi, tunnel branch1 on $((hi + 1)))"
	if [ "$y" -le "$hi" ]; then
		within 5 "192.168.1.200/32 $y ike
192.168.50.0/24 $((hi + 1)) tunnel" "routes of a %unique if_id in the range" owners
	else
		if [ "$y" -eq $((hi + 1)) ]; then
			want="192.168.1.200/32 if_id $y: outside the IKE range 1-$hi and the if_id of tunnel \"branch1\", not routed"
			seen_tunnel=1
		else
			want="192.168.1.200/32 if_id $y: outside the IKE range 1-$hi, not routed"
			seen_beyond=1
		fi
		end=$((SECONDS + 5))
		until grep -qF "$want" "$DLOG"; do
			[ $SECONDS -lt $end ] || fail "not reported: $want"
			sleep 0.1
		done
		grep -F "$want" "$DLOG"
		assert_eq "$(owners)" "192.168.50.0/24 $((hi + 1)) tunnel" "routes with if_id $y"
	fi
	swan peer --terminate --child net --timeout 30 >/dev/null
	[ "$y" -le $((hi + 1)) ] || break
done
[ "$seen_tunnel" = 1 ] || fail "charon's %unique never reached the tunnel's if_id $((hi + 1))"
[ "$seen_beyond" = 1 ] || fail "charon's %unique never went past the tunnel's if_id"
st=$(xsj "$GW" daemon status dev ipsec0)
echo "$st"
echo "== daemon log"
cat "$DLOG"

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# libreswan with the daemon (the recommended setup): two real pluto daemons
# (libreswan 4.10), the gateway's conns on ipsec-interface=42, and
# `xfrm-steer daemon dev ipsec0 ike if_ids 40-49` on the gateway making the
# routes from the kernel's policies and SAs. The updown front runs in
# "ike-daemon" mode: it only sets pluto's ipsec42 down, never waits, no
# relay. Asserted: routes appear (owner ike) and traffic is counted by the
# pluto SAs and xfrm-steer; an ipsec42 brought up behind updown's back (as
# pluto does when it answers a rekey) is set down by the daemon, so inbound
# packets stay on ipsec0; a rekey keeps traffic on ipsec0; a SIGKILLed and
# restarted gateway pluto converges (routes gone with the SAs and policies,
# back after renegotiation).
. "$(dirname "$0")/lib.sh"

UPDOWN=${XS_LIBRESWAN_UPDOWN:-$PWD/scripts/libreswan-updown.sh}
RELAY_SCRIPT=$UPDOWN # (no relay here)
. "$(dirname "$0")/lib-libreswan.sh"
step() { echo "-- [${SECONDS}s] $*"; }

DLOG=$SW/daemon.out
DPID=
daemon_stop() {
	[ -n "$DPID" ] || return 0
	kill "$DPID" 2>/dev/null || true
	wait "$DPID" 2>/dev/null || true
	DPID=
}
# lib-libreswan's finish stops pluto, shows the logs in $SW and cleans up.
trap 'rc=$?; set +e; daemon_stop; finish "$rc"' EXIT

owners() { # "prefix if_id owner" per line
	xsj "$GW" route show dev ipsec0 | jq -r '.[] | "\(.prefix) \(.if_id) \(.owner)"' | sort
}
nstates() { ip -n "$GW" xfrm state | grep -c '^src' || true; }
rx_ipsec0() { xsj "$GW" stats dev ipsec0 if_id "$IF_ID" | jq '.[0].rx_packets // 0'; }
rx_dev() { ip -n "$GW" -s -j link show dev "ipsec$IF_ID" | jq '.[0].stats64.rx.packets'; }
dev_up() { ip -n "$GW" link show dev "ipsec$IF_ID" | grep -q '[<,]UP[,>]'; }
# Packets the peer's SAs from the gateway decrypted, all of them (a rekey
# makes new ones; the kernel sends on the newest).
peer_in() {
	ip -n "$PEER" -s xfrm state list src 10.0.1.1 dst 10.0.1.2 |
		awk '/lifetime current:/ { getline; gsub(/[(),a-z]/, " "); n += $2 } END { print n + 0 }'
}
tx_ipsec0() { xsj "$GW" stats dev ipsec0 if_id "$IF_ID" | jq '.[0].tx_packets // 0'; }
out_spis() { # the gateway's outbound SPIs to the peer, sorted
	ip -n "$GW" xfrm state list src 10.0.1.1 dst 10.0.1.2 | awk '/proto esp spi/ { print $4 }' | sort
}
# N pings to 192.168.1.200 and the counters that must have seen them: the
# peer's inbound SAs, the if_id's tx and rx on ipsec0, none on ipsec42.
ping_counted() { # N WHAT
	local n=$1 what=$2 p0 p1 tx0 tx1 rx0 rx1 d0 d1
	p0=$(peer_in) tx0=$(tx_ipsec0) rx0=$(rx_ipsec0) d0=$(rx_dev)
	ip netns exec "$GW" ping -q -c "$n" -i 0.2 -W 2 192.168.1.200 >/dev/null ||
		fail "$what: ping through the pluto CHILD_SA failed"
	p1=$(peer_in) tx1=$(tx_ipsec0) rx1=$(rx_ipsec0) d1=$(rx_dev)
	assert_eq "$((p1 - p0)) $((tx1 - tx0)) $((rx1 - rx0)) $((d1 - d0))" "$n $n $n 0" \
		"$what: pings decrypted by the peer's SAs, if_id $IF_ID tx and rx on ipsec0, rx on ipsec$IF_ID"
}
want="192.168.1.200/32 $IF_ID ike
192.168.2.0/24 $IF_ID ike"

step "topology: gateway with an attached external interface, one peer"
lsw_topology
lsw_configs "$UPDOWN ike-daemon"

step "the daemon (ike if_ids 40-49) and two plutos, no relay"
$XS -n "$GW" daemon dev ipsec0 ike if_ids 40-49 >>"$DLOG" 2>&1 &
DPID=$!
start_pluto gw "$GW"
start_pluto peer "$PEER"
wait_pluto gw
wait_pluto peer
assert_eq "$(owners)" "" "routes before the CHILD_SAs"

step "CHILD_SAs up: the daemon routes the remote selectors (owner ike)"
whack peer --name peer1 --initiate
wait_eq "$want" "routes after up (prefix if_id owner)" owners
assert_eq "$(ip -n "$GW" xfrm state | grep -c "if_id 0x2a" || true)" 4 \
	"gateway SAs with if_id $IF_ID (2 CHILD_SAs, in and out)"
grep -a 'xfrm-steer: error' "$SW/gw.log" && fail "the ike-daemon front failed"
dev_up && fail "pluto's ipsec$IF_ID is up after the CHILD_SAs (the front sets it down)"

step "traffic flows through the pluto CHILD_SAs and xfrm-steer counts it"
ping_counted 3 "after up"

step "ipsec$IF_ID brought up behind updown's back: the daemon sets it down"
downs() { grep -c "set ipsec$IF_ID down" "$DLOG" || true; }
n0=$(downs)
ip -n "$GW" link set dev "ipsec$IF_ID" up
end=$((SECONDS + 10))
while [ "$(downs)" -eq "$n0" ] && [ $SECONDS -lt $end ]; do sleep 0.1; done
[ "$(downs)" -gt "$n0" ] || fail "the daemon did not set ipsec$IF_ID down"
dev_up && fail "ipsec$IF_ID still up"
ping_counted 2 "after ipsec$IF_ID was set up"
# Never the external device, nor an xfrm device outside the ranges.
ip -n "$GW" link add ipsec77 type xfrm dev ul1 if_id 77
ip -n "$GW" link set dev ipsec77 up
sleep 1
ip -n "$GW" link show dev ipsec77 | grep -q '[<,]UP[,>]' ||
	fail "the daemon set ipsec77 (if_id 77, outside 40-49) down"
ip -n "$GW" link show dev ipsec0 | grep -q '[<,]UP[,>]' || fail "ipsec0 is not up"
ip -n "$GW" link del ipsec77

step "a rekey answered by the gateway keeps inbound traffic on ipsec0"
old=$(out_spis)
n0=$(downs)
whack peer --name peer1/1x0 --rekey-ipsec
new_spis() { out_spis | grep -vxF "$old" || true; }
end=$((SECONDS + 60))
until [ -n "$(new_spis)" ] || [ $SECONDS -ge $end ]; do sleep 0.3; done
[ -n "$(new_spis)" ] || fail "no new outbound SA to the peer after the rekey"
echo "   rekeyed: new outbound SA $(new_spis)"
# until pluto deleted the old pair
wait_eq 4 "gateway SAs after the rekey" nstates
dev_up && fail "ipsec$IF_ID is up after the rekey"
echo "   the daemon set ipsec$IF_ID down $(($(downs) - n0)) time(s) during the rekey"
# The old SA may linger until pluto deletes it; the new one carries.
ping_counted 3 "after the rekey"
wait_eq "$want" "routes after the rekey" owners

step "the gateway's pluto SIGKILLed, its SAs flushed as ipsec.service does, restarted"
kill -9 "${PLUTO_PIDS[0]}"
wait "${PLUTO_PIDS[0]}" 2>/dev/null || true
# ipsec.service: ExecStopPost flushes when pluto died, and _stackmanager
# start flushes again "in case pluto crashed".
ip -n "$GW" xfrm policy flush
ip -n "$GW" xfrm state flush
wait_eq "" "routes after the SAs and policies went" owners
assert_fails "ping without a CHILD_SA" ip netns exec "$GW" ping -q -c 1 -W 1 192.168.1.200
mv "$SW/gw.log" "$SW/gw-before-kill.log"
PLUTO_PIDS=("${PLUTO_PIDS[1]}")
start_pluto gw "$GW"
wait_pluto gw
whack gw --name peer1 --initiate
wait_eq "$want" "routes after renegotiation" owners
ping_counted 3 "after the restart"
dev_up && fail "ipsec$IF_ID is up after the restart"
daemon_stop
cat "$DLOG"
grep -q 'problem\|error' "$DLOG" && fail "the daemon reported problems"
echo "ok"

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Make-before-break reauthentication (issue 19, drift case 5): with
# `make_before_break = yes` the peer builds a new IKE_SA and CHILD_SA
# (on the gateway a new %unique if_id) before it deletes the old ones.
# Pings every 50 ms from the gateway through a reauthentication, twice:
#   plain   no xfrm-steer: policy-based, a kernel route, no if_id
#   daemon  `xfrm-steer daemon dev ipsec0 ike if_ids 1-999`, %unique
# The fixed behaviour: while the old and the new CHILD_SA of the peer both
# have a policy and an SA, the daemon makes the route a group, the old
# if_id primary (egress stays on the SA both ends have: the gateway, as
# responder, installs the new one before the peer does) and the new one a
# backup, so that ingress accepts both; once the old one is gone the route
# is a plain one on the new if_id. Asserted: the daemon loses at most one
# ping more than the plain setup; no packet of the overlap is dropped as a
# tenant violation (rpf, our drop counters); the peer's kernel saw no ESP
# packet for an SA it did not have yet (XfrmInNoStates, less the packets
# of the old SA that arrived after the peer had deleted it: at the end of
# the overlap the peer, which sent the DELETE, drops its old SAs when the
# answer comes, a few ms before the gateway does; both kernels' final
# counters of the old SA, from their deletion messages, tell those); the peer's
# traffic did come in on the new SA (its packet counter) and the daemon
# did make the group. The group has to be there before the peer's first
# packet on the new SA, one IKE message after the gateway's install (20-40
# ms under TCG): the daemon's quick pass follows the xfrm messages. The
# timeline printed (charon, daemon, monitor) shows who won that race.
. "$(dirname "$0")/lib.sh"

XS_SW_PREFIX=xs-reauth
CHARON_EXTRA="make_before_break = yes"
. "$(dirname "$0")/lib-charon.sh"
DLOG=$SW/daemon.log
step() { echo "-- [${SECONDS}s] $*"; }
DPID=
MPID=
XPIDS=
daemon_stop() {
	local p
	for p in $DPID $MPID $XPIDS; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null || true
	done
	DPID=
	MPID=
	XPIDS=
}
timeline() { # what happened when: charon, the daemon, rpf drops (UTC)
	local f
	for f in gw peer; do
		echo "== $f charon"
		grep -a -E 'CHILD_SA|IKE_SA|reauth|deleting|closing' "$SW/$f.log" | tail -n 25 || true
	done
	echo "== daemon log (epoch seconds)"
	cat "$DLOG"
	echo "== monitor"
	cat "$SW/monitor.out" 2>/dev/null || true
}
trap 'rc=$?; set +e; daemon_stop; finish "$rc"' EXIT
COUNT=160


owners() {
	xsj "$GW" route show dev ipsec0 | jq -r '.[] | "\(.prefix) \(.if_id) \(.owner)"' | sort
}
rpf() { xsj "$GW" stats drops dev ipsec0 | jq '.[] | select(.reason == "rpf") | .packets'; }
nostates() { # the peer's ESP packets for an SA it does not have
	ip netns exec "$PEER" awk '$1 == "XfrmInNoStates" { print $2 }' /proc/net/xfrm_stat
}
in_packets() { # IF_ID: packets of the gateway's inbound SA with that if_id
	ip -n "$GW" -s xfrm state list dst 10.0.1.1 | awk -v want="$(printf '%#x' "$1")" '
		function out() { if (id == want) print n + 0 }
		/^src / { out(); id = ""; n = 0 }
		/if_id / { for (i = 1; i < NF; i++) if ($i == "if_id") id = $(i + 1) }
		/^[ \t]*[0-9]+\(bytes\), [0-9]+\(packets\)/ { sub(/\(packets\).*/, ""); n = $NF }
		END { out() }'
}
out_spi() { # the SPI of the gateway's outbound SA to the peer (one only)
	ip -n "$GW" xfrm state list src 10.0.1.1 dst 10.0.1.2 | awk '$1 == "proto" { print $4 }'
}
deleted_packets() { # FILE SPI: an SA's last packet count, from `ip -s xfrm monitor`'s Deleted message
	awk -v spi="$2" '
		/^Deleted / { del = 1; mine = 0; next }
		/^[^ \t]/ { del = 0; mine = 0 }
		del && $1 == "proto" { v = $4; sub(/\(.*/, "", v); mine = v == spi }
		mine && /^[ \t]*[0-9]+\(bytes\), [0-9]+\(packets\)/ { sub(/\(packets\).*/, ""); n = $NF }
		END { print n + 0 }' "$1"
}
out_if_id() { # the if_ids of the outbound policies to the peer, decimal
	local v
	for v in $(ip -n "$GW" xfrm policy list dir out dst 192.168.1.200/32 |
		grep -o 'if_id 0x[0-9a-f]*' | awk '{ print $2 }' | sort -u); do
		echo $((v))
	done
}

setup() { # plain|daemon
	PEER=$(peer_ns 1)
	if [ "$1" = daemon ]; then
		topo_gateway
		$XS -n "$GW" attach dev ipsec0
	else
		ip netns add "$GW"
		ip -n "$GW" link set lo up
		ip -n "$GW" addr add 10.255.0.1/32 dev lo
	fi
	topo_ike_peer
	[ "$1" = daemon ] || ip -n "$GW" route add 192.168.1.200/32 dev ul1 src 10.255.0.1
	sw_child net 10.255.0.0/16 192.168.1.200/32 "$([ "$1" = daemon ] && echo %unique)" |
		sw_conf 10.0.1.1 10.0.1.2 gw.example peer1.example >"$SW/gw-swanctl.conf"
	sw_child net 192.168.1.200/32 10.255.0.0/16 |
		sw_conf 10.0.1.2 10.0.1.1 peer1.example gw.example >"$SW/peer-swanctl.conf"
	if [ "$1" = daemon ]; then
		$XS -n "$GW" daemon dev ipsec0 ike if_ids 1-999 >>"$DLOG" 2>&1 &
		DPID=$!
		$XS -n "$GW" monitor dev ipsec0 >"$SW/monitor.out" 2>&1 &
		MPID=$!
	fi
	start_charon gw "$GW"
	start_charon peer "$PEER"
	swan gw --load-all --file "$SW/gw-swanctl.conf" >/dev/null
	swan peer --load-all --file "$SW/peer-swanctl.conf" >/dev/null
	swan peer --initiate --child net --timeout 60 >/dev/null
}

# Pings through a reauthentication; prints the pings lost.
reauth_loss() { # MODE
	local ppid got end
	nsenter --net="/run/netns/$GW" ping -q -n -i 0.05 -c "$COUNT" -W 1 192.168.1.200 \
		>"$SW/ping-$1.out" 2>&1 &
	ppid=$!
	sleep 2
	swan peer --rekey --ike peer1 --reauth >/dev/null
	# Reauthenticated: the gateway has the IKE_SA #2, and a single one.
	end=$((SECONDS + 30))
	until swan gw --list-sas | grep -q '^peer1: #2' &&
		[ "$(swan gw --list-sas | grep -c '^peer1: ')" -eq 1 ]; do
		[ $SECONDS -lt $end ] || fail "$1: no reauthentication: $(swan gw --list-sas)"
		sleep 0.2
	done
	echo "$1: reauthenticated after $((SECONDS - end + 30)) s" >&2
	wait "$ppid" || true
	cat "$SW/ping-$1.out" >&2
	got=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$SW/ping-$1.out")
	[ -n "$got" ] || fail "$1: no ping summary: $(cat "$SW/ping-$1.out")"
	echo $((COUNT - got))
}

teardown() {
	daemon_stop
	stop_charons
	topo_cleanup
	rm -f "$SW"/*.vici
}

step "plain: policy-based, a kernel route, no xfrm-steer"
setup plain
nsenter --net="/run/netns/$GW" ping -q -c 2 -i 0.2 -W 2 192.168.1.200 >/dev/null ||
	fail "plain: no ping before the reauthentication"
loss_plain=$(reauth_loss plain)
echo "plain: $loss_plain of $COUNT pings lost"
teardown

step "daemon: %unique if_ids, routes from the xfrm-steer daemon"
setup daemon
end=$((SECONDS + 10))
until [ "$(owners)" = "192.168.1.200/32 $(out_if_id) ike" ]; do
	[ $SECONDS -lt $end ] || fail "daemon: no route: $(owners)"
	sleep 0.1
done
old=$(out_if_id)
echo "daemon: route to if_id $old"
nsenter --net="/run/netns/$GW" ping -q -c 2 -i 0.2 -W 2 192.168.1.200 >/dev/null ||
	fail "daemon: no ping before the reauthentication"
r0=$(rpf)
n0=$(nostates)
old_spi=$(out_spi)
[ "$(wc -w <<<"$old_spi")" = 1 ] || fail "daemon: not one outbound SA before the reauthentication: $old_spi"
ip -s -n "$GW" xfrm monitor SA >"$SW/gw-xfrm.mon" 2>&1 &
XPIDS+=" $!"
ip -s -n "$PEER" xfrm monitor SA >"$SW/peer-xfrm.mon" 2>&1 &
XPIDS+=" $!"
sleep 0.5 # the monitors listen before the reauthentication starts
loss_daemon=$(reauth_loss daemon)
new=$(out_if_id)
echo "daemon: $loss_daemon of $COUNT pings lost; if_id $old -> $new"
[ "$new" != "$old" ] || fail "daemon: the reauthentication kept if_id $old"
sleep 1
timeline
assert_eq "$(owners)" "192.168.1.200/32 $new ike" "daemon: the route after the reauthentication"
assert_eq "$(($(rpf) - r0))" 0 "daemon: rpf drops (tenant violations) during the overlap"
# The end of the overlap: what the gateway sent on the old SA that the
# peer's old SA never took (it was gone).
sent_old=$(deleted_packets "$SW/gw-xfrm.mon" "$old_spi")
took_old=$(deleted_packets "$SW/peer-xfrm.mon" "$old_spi")
grep -A1 '^Deleted ' "$SW/gw-xfrm.mon" | grep -q "spi $old_spi" &&
	grep -A1 '^Deleted ' "$SW/peer-xfrm.mon" | grep -q "spi $old_spi" ||
	fail "daemon: no deletion of the old SA $old_spi seen by both monitors"
late=$((sent_old - took_old))
echo "daemon: old SA $old_spi: the gateway sent $sent_old, the peer took $took_old; $late after the peer had deleted it"
assert_eq "$(($(nostates) - n0 - late))" 0 \
	"daemon: ESP packets the peer had no SA for yet (XfrmInNoStates, less the $late on the deleted old SA)"
[ "$loss_daemon" -le $((loss_plain + 1)) ] ||
	fail "daemon: $loss_daemon pings lost, plain $loss_plain: more than one more"
assert_ge "$(in_packets "$new")" 1 "daemon: packets in on the new CHILD_SA (if_id $new)"
grep -q "if_id $old, if_id $new backup" "$DLOG" ||
	fail "daemon: no group of if_id $old and backup $new during the overlap"
echo "ok: pings lost: daemon $loss_daemon, plain $loss_plain (of $COUNT, 50 ms apart)"
teardown

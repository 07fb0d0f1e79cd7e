#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Make-before-break reauthentication (issue 19, drift case 5): with
# `make_before_break = yes` the peer builds a new IKE_SA and CHILD_SA
# (on the gateway a new %unique if_id) before it deletes the old ones.
# Pings every 50 ms from the gateway through a reauthentication, twice:
#   plain   no xfrm-steer: policy-based, a kernel route, no if_id
#   daemon  `xfrm-steer daemon dev ipsec0 ike if_ids 1-999`, %unique
# The daemon may lose at most one ping more than the plain setup, and no
# packet of the overlap (the old or the new CHILD_SA) may be dropped as a
# tenant violation (rpf).
# Not part of make test (not named test-*.sh): it is known to fail when a
# race is lost, 2 runs of 3 (README, strongSwan section). The route
# moves to the new if_id when the gateway installs the new CHILD_SA, before
# the peer has; pings on the new SA and replies on the old one in between
# are lost. Fixing it needs both if_ids accepted during the overlap.
. "$(dirname "$0")/lib.sh"

XS_SW_PREFIX=xs-reauth
CHARON_EXTRA="make_before_break = yes"
. "$(dirname "$0")/lib-charon.sh"
DLOG=$SW/daemon.log
step() { echo "-- [${SECONDS}s] $*"; }
DPID=
daemon_stop() {
	if [ -n "$DPID" ]; then
		kill "$DPID" 2>/dev/null
		wait "$DPID" 2>/dev/null || true
	fi
	DPID=
}
trap 'rc=$?; daemon_stop; (exit $rc); finish' EXIT
COUNT=160

child() { # LOCAL_TS REMOTE_TS [IF_ID]
	printf '\t\t\tnet {\n\t\t\t\tlocal_ts = %s\n\t\t\t\tremote_ts = %s\n' "$1" "$2"
	printf '\t\t\t\tesp_proposals = aes128gcm16\n'
	if [ -n "${3:-}" ]; then
		printf '\t\t\t\tif_id_in = %s\n\t\t\t\tif_id_out = %s\n' "$3" "$3"
	fi
	printf '\t\t\t}\n'
}
conf() { # LOCAL REMOTE LID RID; the child on stdin
	cat <<EOF
connections {
	peer1 {
		version = 2
		local_addrs = $1
		remote_addrs = $2
		proposals = aes128-sha256-modp2048
		local {
			auth = psk
			id = $3
		}
		remote {
			auth = psk
			id = $4
		}
		children {
$(cat)
		}
	}
}
secrets {
	ike-1 {
		id-a = gw.example
		id-b = peer1.example
		secret = "xfrm-steer test key, not for real use"
	}
}
EOF
}

owners() {
	xsj "$GW" route show dev ipsec0 | jq -r '.[] | "\(.prefix) \(.if_id) \(.owner)"' | sort
}
rpf() { xsj "$GW" stats drops dev ipsec0 | jq '.[] | select(.reason == "rpf") | .packets'; }
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
	ip netns add "$PEER"
	ip -n "$PEER" link set lo up
	ip link add ul1 netns "$GW" type veth peer name ul0 netns "$PEER"
	ip -n "$GW" addr add 10.0.1.1/24 dev ul1
	ip -n "$GW" link set ul1 up
	ip -n "$PEER" addr add 10.0.1.2/24 dev ul0
	ip -n "$PEER" link set ul0 up
	ip -n "$PEER" addr add 192.168.1.200/32 dev lo
	ip -n "$PEER" route add 10.255.0.0/16 dev ul0 src 192.168.1.200
	[ "$1" = daemon ] || ip -n "$GW" route add 192.168.1.200/32 dev ul1 src 10.255.0.1
	child 10.255.0.0/16 192.168.1.200/32 "$([ "$1" = daemon ] && echo %unique)" |
		conf 10.0.1.1 10.0.1.2 gw.example peer1.example >"$SW/gw-swanctl.conf"
	child 192.168.1.200/32 10.255.0.0/16 |
		conf 10.0.1.2 10.0.1.1 peer1.example gw.example >"$SW/peer-swanctl.conf"
	if [ "$1" = daemon ]; then
		$XS -n "$GW" daemon dev ipsec0 ike if_ids 1-999 >>"$DLOG" 2>&1 &
		DPID=$!
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
loss_daemon=$(reauth_loss daemon)
new=$(out_if_id)
echo "daemon: $loss_daemon of $COUNT pings lost; if_id $old -> $new"
[ "$new" != "$old" ] || fail "daemon: the reauthentication kept if_id $old"
sleep 1
assert_eq "$(owners)" "192.168.1.200/32 $new ike" "daemon: the route after the reauthentication"
assert_eq "$(($(rpf) - r0))" 0 "daemon: rpf drops (tenant violations) during the overlap"
[ "$loss_daemon" -le $((loss_plain + 1)) ] ||
	fail "daemon: $loss_daemon pings lost, plain $loss_plain: more than one more"
echo "ok: pings lost: daemon $loss_daemon, plain $loss_plain (of $COUNT, 50 ms apart)"
echo "== daemon log"
cat "$DLOG"
teardown

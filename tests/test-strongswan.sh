#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# strongSwan end to end: two real charon daemons negotiate a CHILD_SA with
# if_id_in = if_id_out = 42 over IKEv2 PSK; the gateway's updown script
# (scripts/strongswan-updown.sh) must add the remote traffic selectors as
# xfrm-steer routes to if_id 42 when the CHILD_SA comes up and remove them
# when it goes down. Then the script's bookkeeping on its own: idempotence,
# two CHILD_SAs claiming one route, errors that must not hurt charon.
#
# Each charon runs in its netns (nsenter, not "ip netns exec", which would
# remount /sys and hide the pinned maps in /sys/fs/bpf from the updown
# script) and in a mount namespace of its own with a private /run (its pid
# file), with a strongswan.conf (STRONGSWAN_CONF) naming its vici socket.
# Everything lives in a temporary directory under /tmp.
. "$(dirname "$0")/lib.sh"

XS_SW_PREFIX=xs-strongswan
. "$(dirname "$0")/lib-charon.sh"
IF_ID=42

in_gw_log() { # PATTERN: waits for it like wait_eq
	local end=$((SECONDS + 90))
	until grep -aq -- "$1" "$SW/gw.log"; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.3
	done
}

step "topology: gateway with an attached external interface, one peer"
topo_gateway
$XS -n "$GW" attach dev ipsec0
topo_ike_peer
ip -n "$PEER" addr add 192.168.2.1/32 dev lo
ip -n "$PEER" addr add 2001:db8:1::200/128 dev lo nodad
ip -n "$PEER" -6 route add fd00:255::/64 dev ul0 src 2001:db8:1::200

# Two local IPv4 selectors on the gateway: the updown script runs once per
# (local, remote) pair, so each IPv4 route is claimed twice.
GW_TS="10.255.0.0/16, 10.254.0.0/16, fd00:255::/64"
PEER_TS="192.168.1.200/32, 192.168.2.0/24, 2001:db8:1::200/128"
cat >"$SW/gw-swanctl.conf" <<EOF
connections {
	peer1 {
		version = 2
		local_addrs = 10.0.1.1
		remote_addrs = 10.0.1.2
		proposals = aes128-sha256-modp2048
		local {
			auth = psk
			id = gw.example
		}
		remote {
			auth = psk
			id = peer1.example
		}
		children {
			net {
				local_ts = $GW_TS
				remote_ts = $PEER_TS
				esp_proposals = aes128gcm16
				if_id_in = $IF_ID
				if_id_out = $IF_ID
				updown = $UPDOWN dev ipsec0
			}
		}
	}
}
secrets {
	ike-peer1 {
		id-gw = gw.example
		id-peer = peer1.example
		secret = "xfrm-steer test key, not for real use"
	}
}
EOF
cat >"$SW/peer-swanctl.conf" <<EOF
connections {
	peer1 {
		version = 2
		local_addrs = 10.0.1.2
		remote_addrs = 10.0.1.1
		proposals = aes128-sha256-modp2048
		local {
			auth = psk
			id = peer1.example
		}
		remote {
			auth = psk
			id = gw.example
		}
		children {
			net {
				local_ts = $PEER_TS
				remote_ts = $GW_TS
				esp_proposals = aes128gcm16
			}
		}
	}
}
secrets {
	ike-gw {
		id-gw = gw.example
		id-peer = peer1.example
		secret = "xfrm-steer test key, not for real use"
	}
}
EOF

step "two charon daemons"
# The updown script finds the xfrm-steer under test through charon's PATH.
start_charon gw "$GW" "$(dirname "$XS"):$PATH"
start_charon peer "$PEER"
swan gw --load-all --file "$SW/gw-swanctl.conf"
swan peer --load-all --file "$SW/peer-swanctl.conf"
assert_eq "$(routes)" "" "routes before the CHILD_SA"

step "CHILD_SA up: the updown script adds the remote selectors as routes"
swan peer --initiate --child net --timeout 60
swan gw --list-sas
want="192.168.1.200/32 $IF_ID
192.168.2.0/24 $IF_ID
2001:db8:1::200/128 $IF_ID"
wait_eq "$want" "routes after up (prefix if_id)" routes
$XS -n "$GW" route show dev ipsec0
grep -a 'updown: xfrm-steer' "$SW/gw.log" || true

step "traffic flows through the CHILD_SA and the peer's SA counts it"
ip netns exec "$GW" ping -q -c 3 -i 0.2 -W 2 192.168.1.200
ip netns exec "$GW" ping -6 -q -c 2 -i 0.2 -W 2 2001:db8:1::200
ip -n "$PEER" -s xfrm state
spi_of() { # NS SRC DST
	ip -n "$1" xfrm state list src "$2" dst "$3" | awk '/proto esp spi/ { print $4; exit }'
}
peer_in=$(spi_of "$PEER" 10.0.1.1 10.0.1.2)
gw_out=$(spi_of "$GW" 10.0.1.1 10.0.1.2)
[ -n "$peer_in" ] || fail "no inbound SA on the peer"
read -r peer_rx_p _ <<<"$(sa_counters "$PEER" 10.0.1.1 10.0.1.2 "$peer_in")"
assert_eq "$peer_rx_p" 5 "packets the peer's inbound SA decrypted"
read -r gw_tx_p gw_tx_b <<<"$(sa_counters "$GW" 10.0.1.1 10.0.1.2 "$gw_out")"
row=$(xsj "$GW" stats dev ipsec0 if_id "$IF_ID" | jq -c '.[0]')
echo "$row"
assert_eq "$(jq .tx_packets <<<"$row") $(jq .tx_bytes <<<"$row")" "$gw_tx_p $gw_tx_b" \
	"if_id $IF_ID tx counters vs the gateway's outbound SA"

step "CHILD_SA down: the routes go"
swan peer --terminate --ike peer1 --timeout 30
wait_eq "" "routes after down" routes
assert_eq "$(ip -n "$GW" xfrm state | grep -c '^src' || true)" 0 "SAs left on the gateway"
assert_fails "ping without a CHILD_SA" ip netns exec "$GW" ping -q -c 1 -W 1 192.168.1.200

step "a failing updown script does not hurt charon"
$XS -n "$GW" detach dev ipsec0
swan peer --initiate --child net --timeout 60
assert_eq "$(swan gw --list-sas | grep -c 'net: #' || true)" 1 "CHILD_SA up with no attached device"
in_gw_log 'updown: xfrm-steer: error: route add 2001:db8:1::200/128' ||
	fail "the updown script's errors are not in charon's log"
grep -a 'updown: xfrm-steer' "$SW/gw.log" | tail -n 4
grep -aq 'updown: xfrm-steer:   Error: .*not attached' "$SW/gw.log" ||
	fail "xfrm-steer's own message is not in charon's log"
echo "ok: errors of the updown script are in charon's log"

step "the example swanctl.conf loads"
swan gw --load-all --file "$PWD/examples/swanctl.conf"
assert_eq "$(swan gw --list-conns | grep -Eo '^[a-z0-9]+:' | sort | tr -d '\n')" \
	"branch1:branch2:roadwarrior:" "connections of examples/swanctl.conf"
swan peer --terminate --ike peer1 --timeout 30
stop_charons

step "the updown script by hand: idempotence and shared claims"
$XS -n "$GW" attach dev ipsec0
updown() { # VERB PEER_TS MY_TS UNIQUEID IF_ID [ARGS...]
	env -i PATH="$(dirname "$XS"):$PATH" XS_UPDOWN_STATE_DIR="$SW/state" XS_UPDOWN_SYSLOG=0 \
		PLUTO_VERSION=1.1 PLUTO_VERB="$1" PLUTO_PEER_CLIENT="$2" PLUTO_MY_CLIENT="$3" \
		PLUTO_UNIQUEID="$4" PLUTO_REQID=7 PLUTO_CONNECTION=hand ${5:+PLUTO_IF_ID_OUT="$5"} \
		"$UPDOWN" "${@:6}"
}
# From the root namespace with "netns", as a charon outside the gateway's
# namespace would.
updown up-client 192.168.7.0/24 10.255.0.0/16 1 42 ipsec0 netns "$GW"
updown up-client 192.168.7.0/24 10.255.0.0/16 1 42 ipsec0 netns "$GW"
assert_eq "$(routes)" "192.168.7.0/24 42" "route after up twice"
assert_eq "$(cat "$SW"/state/*_ipsec0_0_192.168.7.0+24 | wc -l)" 1 "claims after up twice"
# make-before-break: the new CHILD_SA (another IKE_SA) comes up first
updown up-client 192.168.7.0/24 10.255.0.0/16 2 43 ipsec0 netns "$GW"
assert_eq "$(routes)" "192.168.7.0/24 43" "route follows the newer CHILD_SA"
updown down-client 192.168.7.0/24 10.255.0.0/16 1 42 ipsec0 netns "$GW"
assert_eq "$(routes)" "192.168.7.0/24 43" "route kept after the old CHILD_SA went down"
updown down-client 192.168.7.0/24 10.255.0.0/16 2 43 ipsec0 netns "$GW"
assert_eq "$(routes)" "" "route gone with the last claim"
updown down-client 192.168.7.0/24 10.255.0.0/16 2 43 ipsec0 netns "$GW"
echo "ok: down twice succeeds"
assert_eq "$(ls "$SW/state")" "" "claims left"
# IPv6 and a tenant given in another spelling on the way down
$XS -n "$GW" detach dev ipsec0
$XS -n "$GW" attach dev ipsec0 tenant-key mark 0xff00
updown up-client-v6 2001:db8:7::/48 fd00:255::/64 3 44 dev ipsec0 tenant 0x100 netns "$GW"
assert_eq "$(xsj "$GW" route show dev ipsec0 | jq -c '.[] | [.prefix, .tenant, .if_id]')" \
	'["2001:db8:7::/48","0x100",44]' "IPv6 route with tenant"
updown down-client-v6 2001:db8:7::/48 fd00:255::/64 3 44 dev ipsec0 tenant 256 netns "$GW"
assert_eq "$(routes)" "" "IPv6 route gone"
assert_fails "up without if_id_out" updown up-client 192.168.8.0/24 10.255.0.0/16 4 "" ipsec0 netns "$GW"
assert_fails "up on a device that is not attached" \
	updown up-client 192.168.8.0/24 10.255.0.0/16 4 45 nosuch0 netns "$GW"
assert_eq "$(ls "$SW/state")" "" "no claims for failed ups"
updown prepare-client 192.168.8.0/24 10.255.0.0/16 4 45 ipsec0 netns "$GW"
echo "ok: prepare-client is accepted and ignored"

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# A route group over two hubs, the SAs from strongSwan: the gateway's charon
# has a CHILD_SA to each of two hubs (two more charon daemons), if_id 41 to
# hub 1 and 42 to hub 2, with the same traffic selectors; one route of an
# apply file leads to both, and `xfrm-steer daemon` follows the SAs. Then
# hub 1's charon dies: the gateway's charon finds it dead (DPD) and deletes
# its SAs, and within the health delay every flow goes through hub 2, as
# the gateway's outbound SA counters say.
. "$(dirname "$0")/lib.sh"

XS_SW_PREFIX=xs-hubs
. "$(dirname "$0")/lib-charon.sh"
command -v python3 >/dev/null || skip "no python3 to send the flows"
DST=192.168.1.200

# send FIRST COUNT PER: COUNT UDP flows from fixed source ports, PER
# packets each, from the gateway's inner address
send() {
	ip netns exec "$GW" python3 - "$DST" "$@" <<'PY'
import socket, sys
dst, first, count, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
for i in range(count):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("10.255.0.1", 20000 + first + i))
    for _ in range(per):
        s.sendto(b"x" * 32, (dst, 9))
    s.close()
PY
}
# packets of the gateway's outbound SA to hub K (0 when it has none)
hub_tx() {
	local spi
	spi=$(ip -n "$GW" xfrm state list src "10.0.$1.1" dst "10.0.$1.2" |
		awk '/proto esp spi/ { print $4; exit }')
	[ -n "$spi" ] || { echo 0; return; }
	sa_counters "$GW" "10.0.$1.1" "10.0.$1.2" "$spi" | cut -d' ' -f1
}
ul_tx() { ip -n "$GW" -j -s link show "ul$1" | jq '.[0].stats64.tx.packets'; }

step "topology: a gateway, two hubs in front of the same network"
topo_gateway
$XS -n "$GW" attach dev ipsec0
for k in 1 2; do
	topo_peer_link "$k" "$DST" "2001:db8:1::200"
done

conn() { # NAME LOCAL REMOTE LOCAL_ID REMOTE_ID LOCAL_TS REMOTE_TS [EXTRA CHILD LINES]
	cat <<EOF
	$1 {
		version = 2
		local_addrs = $2
		remote_addrs = $3
		proposals = aes128-sha256-modp2048
		dpd_delay = 1s
		local {
			auth = psk
			id = $4
		}
		remote {
			auth = psk
			id = $5
		}
		children {
			net {
				local_ts = $6
				remote_ts = $7
				esp_proposals = aes128gcm16
				${8:-}
				${9:-}
			}
		}
	}
EOF
}
secret() { # NAME ID ID
	cat <<EOF
	ike-$1 {
		id-a = $2
		id-b = $3
		secret = "xfrm-steer test key, not for real use"
	}
EOF
}
{
	echo "connections {"
	conn hub1 10.0.1.1 10.0.1.2 gw.example hub1.example 10.255.0.0/16 192.168.1.0/24 \
		"if_id_in = 41" "if_id_out = 41"
	conn hub2 10.0.2.1 10.0.2.2 gw.example hub2.example 10.255.0.0/16 192.168.1.0/24 \
		"if_id_in = 42" "if_id_out = 42"
	echo "}"
	echo "secrets {"
	secret hub1 gw.example hub1.example
	secret hub2 gw.example hub2.example
	echo "}"
} >"$SW/gw-swanctl.conf"
for k in 1 2; do
	{
		echo "connections {"
		conn gw "10.0.$k.2" "10.0.$k.1" "hub$k.example" gw.example 192.168.1.0/24 10.255.0.0/16
		echo "}"
		echo "secrets {"
		secret gw gw.example "hub$k.example"
		echo "}"
	} >"$SW/hub$k-swanctl.conf"
done

step "three charon daemons, a CHILD_SA to each hub"
# The gateway gives a dead hub up after about ten seconds of DPD (a hub
# under TCG may take five to answer while it sets its SAs up).
CHARON_EXTRA="retransmit_timeout = 2
	retransmit_base = 1
	retransmit_tries = 4" start_charon gw "$GW"
start_charon hub1 "$(peer_ns 1)"
start_charon hub2 "$(peer_ns 2)"
swan gw --load-all --file "$SW/gw-swanctl.conf"
for k in 1 2; do
	swan "hub$k" --load-all --file "$SW/hub$k-swanctl.conf"
	swan gw --initiate --child net --ike "hub$k" --timeout 60 >/dev/null ||
		fail "CHILD_SA to hub $k"
done
swan gw --list-sas
for k in 1 2; do
	assert_eq "$(ip -n "$GW" xfrm state list src "10.0.$k.1" dst "10.0.$k.2" | grep -o 'if_id 0x[0-9a-f]*' | head -n1)" \
		"if_id 0x$(printf '%x' $((40 + k)))" "outbound SA to hub $k has its if_id"
done

step "one route of an apply file to both hubs, the daemon following the SAs"
cat >"$SW/group.json" <<EOF
{ "links": [ { "name": "ipsec0" } ],
  "routes": [ { "prefix": "192.168.1.0/24",
                "nexthops": [ { "if_id": 41 }, { "if_id": 42 } ] } ] }
EOF
$XS -n "$GW" apply "$SW/group.json"
$XS -n "$GW" daemon dev ipsec0 >"$SW/daemon.out" 2>&1 &
DPID=$!
trap 'rc=$?; set +e; kill $DPID 2>/dev/null; finish "$rc"' EXIT
sleep 1
member_up() { xsj "$GW" route show dev ipsec0 | jq ".[0].nexthops[] | select(.if_id == $1) | .up"; }
assert_eq "$(member_up 41) $(member_up 42)" "true true" "both members up"
a0=$(hub_tx 1) b0=$(hub_tx 2)
send 0 32 3
a1=$(hub_tx 1) b1=$(hub_tx 2)
echo "32 flows: $((a1 - a0)) packets to hub 1, $((b1 - b0)) to hub 2"
assert_eq "$((a1 - a0 + b1 - b0))" 96 "every packet through a hub's SA"
assert_ge "$((a1 - a0))" 3 "flows through hub 1"
assert_ge "$((b1 - b0))" 3 "flows through hub 2"

step "hub 1's charon dies: its SAs go, and every flow takes hub 2"
kill -9 "${CHARON_PIDS[1]}"
wait "${CHARON_PIDS[1]}" 2>/dev/null || true
end=$((SECONDS + 60))
# Polled closely: the time the SA is seen gone is within a tenth of a
# second or so of its deletion, and the daemon's word must follow within
# the health delay (one second).
while [ "$(hub_tx 1)" != 0 ] && [ $SECONDS -lt $end ]; do
	sleep 0.1
done
gone=$(date +%s%N)
assert_eq "$(hub_tx 1)" 0 "the gateway's charon deleted the SA to hub 1"
sleep 1 # the health delay
grep " if_id 41: down" "$SW/daemon.out" || fail "the daemon never said if_id 41 went down"
at=$(grep " if_id 41: down" "$SW/daemon.out" | tail -n1 | cut -d' ' -f1 | tr -d .)
echo "if_id 41 down $((at - gone / 1000000)) ms after the SA was seen gone"
[ $((at - gone / 1000000)) -le 1000 ] || fail "if_id 41 went down late"
assert_eq "$(member_up 41) $(member_up 42)" "false true" "member health"
b0=$(hub_tx 2) u0=$(ul_tx 1)
send 0 32 3
b1=$(hub_tx 2)
assert_eq "$((b1 - b0))" 96 "all 32 flows through hub 2's SA"
assert_eq "$(($(ul_tx 1) - u0))" 0 "nothing leaves towards hub 1"
kill "$DPID"
wait "$DPID" 2>/dev/null || true
cat "$SW/daemon.out"

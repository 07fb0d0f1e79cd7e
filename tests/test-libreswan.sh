#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# libreswan end to end: two real pluto daemons (libreswan 4.10) negotiate
# IKEv2 PSK CHILD_SAs; the gateway's conns have ipsec-interface=42, so pluto
# gives their SAs and policies if_id 42, and its updown script
# (scripts/libreswan-updown.sh, the front of strongswan-updown.sh) must add
# the remote selectors as xfrm-steer routes to if_id 42 on the external
# interface ipsec0 when a CHILD_SA comes up, set pluto's own ipsecN device
# down so decrypted packets arrive on ipsec0, and remove the routes when the
# CHILD_SA goes down.
#
# Debian has libreswan and strongSwan conflict with each other, so
# scripts/deps.sh does not install libreswan: it unpacks Debian's package
# into $XS_LIBRESWAN_ROOT (no service, no /etc) and installs its libraries.
# Each pluto runs in its netns (nsenter, not "ip netns exec", which would
# remount /sys and hide the pinned maps from the updown script) with its
# own config, secrets, NSS database, run directory and control socket, all
# in a temporary directory under /tmp.
. "$(dirname "$0")/lib.sh"

# XS_LIBRESWAN_UPDOWN: another updown script (a mutant, to see this fail).
UPDOWN=${XS_LIBRESWAN_UPDOWN:-$PWD/scripts/libreswan-updown.sh}
# XS_LIBRESWAN_RELAY: the script that serves as relay (default: the same).
RELAY_SCRIPT=${XS_LIBRESWAN_RELAY:-$UPDOWN}
. "$(dirname "$0")/lib-libreswan.sh"

step "topology: gateway with an attached external interface, one peer"
lsw_topology
lsw_configs "$UPDOWN dev ipsec0"

step "two pluto daemons, the updown relay"
start_relay
# The updown script finds the xfrm-steer under test through pluto's PATH.
start_pluto gw "$GW" "$(dirname "$XS"):$PATH"
start_pluto peer "$PEER"
wait_pluto gw
wait_pluto peer
assert_eq "$(routes)" "" "routes before the CHILD_SAs"

step "CHILD_SAs up: the updown script adds the remote selectors as routes"
whack peer --name peer1 --initiate
whack gw --trafficstatus
want="192.168.1.200/32 $IF_ID
192.168.2.0/24 $IF_ID"
wait_eq "$want" "routes after up (prefix if_id)" routes
grep -a 'xfrm-steer' "$SW/gw.log" || true
ip -n "$GW" xfrm policy
assert_eq "$(ip -n "$GW" xfrm state | grep -c "if_id 0x2a" || true)" 4 \
	"gateway SAs with if_id $IF_ID (2 CHILD_SAs, in and out)"
assert_ge "$(ip -n "$GW" xfrm policy | grep -c "if_id 0x2a" || true)" 4 \
	"gateway policies with if_id $IF_ID"

step "traffic of both routes flows through the pluto CHILD_SAs"
ip netns exec "$GW" ping -q -c 3 -i 0.2 -W 2 192.168.1.200
ip netns exec "$GW" ping -q -c 2 -i 0.2 -W 2 -I "$GW_IN4" 192.168.2.1
# Each CHILD_SA's SA pair by its gateway policy: the reqid of the outbound
# policy to the selector names the gateway's outbound SA, whose SPI is the
# peer's inbound SA.
spi_to() { # SELECTOR
	local reqid
	reqid=$(ip -n "$GW" xfrm policy list dir out dst "$1" | awk '/proto esp reqid/ { print $4; exit }')
	[ -n "$reqid" ] || fail "no outbound policy to $1 on the gateway"
	ip -n "$GW" xfrm state list src 10.0.1.1 dst 10.0.1.2 reqid "$reqid" |
		awk '/proto esp spi/ { print $4; exit }'
}
spi1=$(spi_to 192.168.1.200/32)
spi2=$(spi_to 192.168.2.0/24)
[ -n "$spi1" ] && [ -n "$spi2" ] || fail "no outbound SAs on the gateway"
read -r p1 _ <<<"$(sa_counters "$PEER" 10.0.1.1 10.0.1.2 "$spi1")"
read -r p2 _ <<<"$(sa_counters "$PEER" 10.0.1.1 10.0.1.2 "$spi2")"
assert_eq "$p1 $p2" "3 2" "packets the peer's inbound SAs decrypted (192.168.1.200/32, 192.168.2.0/24)"
read -r g1 gb1 <<<"$(sa_counters "$GW" 10.0.1.1 10.0.1.2 "$spi1")"
read -r g2 gb2 <<<"$(sa_counters "$GW" 10.0.1.1 10.0.1.2 "$spi2")"
row=$(xsj "$GW" stats dev ipsec0 if_id "$IF_ID" | jq -c '.[0]')
echo "$row"
assert_eq "$(jq .tx_packets <<<"$row") $(jq .tx_bytes <<<"$row")" "$((g1 + g2)) $((gb1 + gb2))" \
	"if_id $IF_ID tx counters vs the gateway's outbound SAs"
# The replies came in on ipsec0 (not on pluto's device): xfrm-steer's
# ingress program counted them.
assert_eq "$(jq .rx_packets <<<"$row")" 5 "replies xfrm-steer saw on ipsec0 for if_id $IF_ID"

step "pluto's own ipsec$IF_ID exists and is down"
ip -n "$GW" -d link show dev "ipsec$IF_ID"
ip -n "$GW" -d link show dev "ipsec$IF_ID" | grep -q "if_id 0x2a" ||
	fail "ipsec$IF_ID is not pluto's xfrm device with if_id $IF_ID"
dev_up() { ip -n "$GW" link show dev "ipsec$IF_ID" | grep -q '[<,]UP[,>]'; }
dev_up && fail "pluto's ipsec$IF_ID is up: inbound packets would bypass ipsec0"
echo "ok: ipsec$IF_ID is down"

step "an up ipsec$IF_ID takes the inbound packets from ipsec0; the updown script sets it down"
# pluto brings it up before each new CHILD_SA (add_xfrmi()), and when it
# answers a rekey; the kernel hands a decrypted packet to an up device with
# the SA's if_id before the external one. (With a front that does not set
# it down, the rx check of the traffic step above fails: 0 replies.)
rx_ipsec0() { xsj "$GW" stats dev ipsec0 if_id "$IF_ID" | jq '.[0].rx_packets'; }
rx_dev() { ip -n "$GW" -s -j link show dev "ipsec$IF_ID" | jq '.[0].stats64.rx.packets'; }
ip -n "$GW" link set dev "ipsec$IF_ID" up
ip netns exec "$GW" ping -q -c 2 -i 0.2 -W 2 192.168.1.200 >/dev/null
assert_eq "$(rx_ipsec0) $(rx_dev)" "5 2" "replies on ipsec0 and on ipsec$IF_ID while ipsec$IF_ID is up"
# Any up-* or route-* call sets it down (route-client needs no relay).
nsenter --net="/run/netns/$GW" env PLUTO_VERB=route-client PLUTO_VIRT_INTERFACE="ipsec$IF_ID" \
	PLUTO_XFRMI_ROUTE=yes PLUTO_PEER_CLIENT=192.168.1.200/32 "$UPDOWN" dev ipsec0
dev_up && fail "the updown script left ipsec$IF_ID up"
ip netns exec "$GW" ping -q -c 2 -i 0.2 -W 2 192.168.1.200 >/dev/null
assert_eq "$(rx_ipsec0) $(rx_dev)" "7 2" "replies on ipsec0 and on ipsec$IF_ID once it is down again"

step "CHILD_SAs down: the routes go"
whack peer --name peer1 --terminate
wait_eq "" "routes after down" routes
# pluto deletes the SAs after it ran down-client.
nstates() { ip -n "$GW" xfrm state | grep -c '^src' || true; }
wait_eq 0 "SAs left on the gateway" nstates
assert_fails "ping without a CHILD_SA" ip netns exec "$GW" ping -q -c 1 -W 1 192.168.1.200
grep -a 'xfrm-steer' "$SW/gw.log" || true

step "examples/libreswan.conf loads into pluto"
sed "s|/usr/local/lib/xfrm-steer/libreswan-updown.sh|$UPDOWN|" examples/libreswan.conf >"$SW/example.conf"
nsenter --net="/run/netns/$GW" "$LSW_BIN/addconn" --config "$SW/example.conf" \
	--ctlsocket "$SW/gw/run/pluto.ctl" branch1 branch2
for c in branch1 branch2; do
	grep -aq "\"$c\": added IKEv2 connection" "$SW/gw.log" || fail "pluto did not add $c of the example"
done
echo "ok: pluto added branch1 and branch2 of examples/libreswan.conf"

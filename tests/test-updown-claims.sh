#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# strongSwan end to end, two peers: peer1 (identity peer1.example, if_id 42)
# claims 192.168.1.200/32 through the gateway's updown script; then peer2
# (identity peer2.example, if_id 43), whose connection on the gateway allows
# the wide remote_ts 192.168.0.0/16, negotiates the same 192.168.1.200/32
# (plus 192.168.3.0/24 of its own). The script must refuse peer2's claim of
# peer1's prefix: the route stays at if_id 42, the refusal is in charon's
# log and in the state directory's "refused" counter, peer1's traffic still
# reaches peer1 (the kernel's SA counters), and rpf drops what peer2 sends
# with peer1's address. The direct tests of the script's claims are in
# tests/host-updown-claims.sh; the charon setup is tests/lib-charon.sh.
. "$(dirname "$0")/lib.sh"
XS_SW_PREFIX=xs-claims
. "$(dirname "$0")/lib-charon.sh"
spi_of() { # NS SRC DST
	ip -n "$1" xfrm state list src "$2" dst "$3" | awk '/proto esp spi/ { print $4; exit }'
}

# The gateway charon's state directory is in its private /run.
gw_state() { # FILE
	nsenter -t "${CHARON_PIDS[0]}" -m cat "/run/xfrm-steer/updown/$1" 2>/dev/null || true
}

step "topology: gateway with an attached external interface, two peers"
topo_gateway
$XS -n "$GW" attach dev ipsec0
for k in 1 2; do
	ns=$(peer_ns "$k")
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	ip link add "ul$k" netns "$GW" type veth peer name ul0 netns "$ns"
	ip -n "$GW" addr add "10.0.$k.1/24" dev "ul$k"
	ip -n "$GW" link set "ul$k" up
	ip -n "$ns" addr add "10.0.$k.2/24" dev ul0
	ip -n "$ns" link set ul0 up
	# Both peers have 192.168.1.200: peer2 would speak with peer1's address.
	ip -n "$ns" addr add 192.168.1.200/32 dev lo
	ip -n "$ns" route add 10.255.0.0/16 dev ul0 src 192.168.1.200
done
ip -n "$(peer_ns 2)" addr add 192.168.3.1/32 dev lo
P1=$(peer_ns 1) P2=$(peer_ns 2)

# peer K's connection on the gateway and on the peer
gw_conn() { # K IF_ID REMOTE_TS
	cat <<EOC
	peer$1 {
		version = 2
		local_addrs = 10.0.$1.1
		remote_addrs = 10.0.$1.2
		proposals = aes128-sha256-modp2048
		local {
			auth = psk
			id = gw.example
		}
		remote {
			auth = psk
			id = peer$1.example
		}
		children {
			net {
				local_ts = 10.255.0.0/16
				remote_ts = $3
				esp_proposals = aes128gcm16
				if_id_in = $2
				if_id_out = $2
				updown = $UPDOWN dev ipsec0
			}
		}
	}
EOC
}
peer_conf() { # K LOCAL_TS
	cat <<EOC
connections {
	peer$1 {
		version = 2
		local_addrs = 10.0.$1.2
		remote_addrs = 10.0.$1.1
		proposals = aes128-sha256-modp2048
		local {
			auth = psk
			id = peer$1.example
		}
		remote {
			auth = psk
			id = gw.example
		}
		children {
			net {
				local_ts = $2
				remote_ts = 10.255.0.0/16
				esp_proposals = aes128gcm16
			}
		}
	}
}
secrets {
	ike-gw {
		id-gw = gw.example
		id-peer = peer$1.example
		secret = "xfrm-steer test key $1, not for real use"
	}
}
EOC
}
{
	echo "connections {"
	gw_conn 1 42 192.168.1.200/32
	# The mistake under test: a remote_ts wide enough for peer1's prefix.
	gw_conn 2 43 192.168.0.0/16
	echo "}"
	echo "secrets {"
	for k in 1 2; do
		printf '\tike-peer%s {\n\t\tid-gw = gw.example\n\t\tid-peer = peer%s.example\n' "$k" "$k"
		printf '\t\tsecret = "xfrm-steer test key %s, not for real use"\n\t}\n' "$k"
	done
	echo "}"
} >"$SW/gw-swanctl.conf"
peer_conf 1 192.168.1.200/32 >"$SW/peer1-swanctl.conf"
peer_conf 2 "192.168.1.200/32, 192.168.3.0/24" >"$SW/peer2-swanctl.conf"

step "three charon daemons"
start_charon gw "$GW" "$(dirname "$XS"):$PATH"
start_charon peer1 "$P1"
start_charon peer2 "$P2"
swan gw --load-all --file "$SW/gw-swanctl.conf"
swan peer1 --load-all --file "$SW/peer1-swanctl.conf"
swan peer2 --load-all --file "$SW/peer2-swanctl.conf"

step "peer1's CHILD_SA: its prefix becomes a route to if_id 42"
swan peer1 --initiate --child net --timeout 60
wait_eq "192.168.1.200/32 42" "routes after peer1 up" routes

step "peer2's CHILD_SA claims peer1's prefix: refused"
swan peer2 --initiate --child net --timeout 60
swan gw --list-sas
wait_eq "192.168.1.200/32 42
192.168.3.0/24 43" "routes after peer2 up (peer1's kept, peer2's own added)" routes
$XS -n "$GW" route show dev ipsec0
grep -a 'updown: xfrm-steer' "$SW/gw.log" || true
grep -aq 'updown: xfrm-steer: error: refused 192.168.1.200/32 for peer2.example (net): same 192.168.1.200/32 of peer1.example' \
	"$SW/gw.log" || fail "the refusal is not in charon's log"
echo "ok: the refusal is in charon's log"
gw_state refused
assert_eq "$(gw_state refused)" "1 192.168.1.200/32 net peer2.example" "refusal counter"

step "peer1's traffic still reaches peer1, none goes to peer2"
ip netns exec "$GW" ping -q -c 3 -i 0.2 -W 2 192.168.1.200
ip netns exec "$GW" ping -q -c 2 -i 0.2 -W 2 192.168.3.1
ip -n "$P1" -s xfrm state
ip -n "$P2" -s xfrm state
read -r p1_rx _ <<<"$(sa_counters "$P1" 10.0.1.1 10.0.1.2 "$(spi_of "$P1" 10.0.1.1 10.0.1.2)")"
read -r p2_rx _ <<<"$(sa_counters "$P2" 10.0.2.1 10.0.2.2 "$(spi_of "$P2" 10.0.2.1 10.0.2.2)")"
assert_eq "$p1_rx" 3 "packets peer1's inbound SA decrypted"
assert_eq "$p2_rx" 2 "packets peer2's inbound SA decrypted (its own prefix only)"

step "peer2 speaking with peer1's address is dropped by rpf"
assert_fails "peer2 pings from 192.168.1.200" \
	ip netns exec "$P2" ping -q -c 2 -i 0.2 -W 1 -I 192.168.1.200 "$GW_IN4"
ip netns exec "$P1" ping -q -c 2 -i 0.2 -W 2 -I 192.168.1.200 "$GW_IN4"
echo "ok: peer1 speaks with its own address"

step "peer2 goes down: peer1's route stays"
swan peer2 --terminate --ike peer2 --timeout 30
wait_eq "192.168.1.200/32 42" "routes after peer2 down" routes
ip netns exec "$GW" ping -q -c 1 -W 2 192.168.1.200
swan peer1 --terminate --ike peer1 --timeout 30
wait_eq "" "routes after peer1 down" routes

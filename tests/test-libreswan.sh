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

LSW_ROOT=${XS_LIBRESWAN_ROOT:-/var/cache/xfrm-steer/libreswan/root}
LSW_BIN=$LSW_ROOT/usr/libexec/ipsec
[ -x "$LSW_BIN/pluto" ] || LSW_BIN=/usr/libexec/ipsec
# XS_LIBRESWAN_UPDOWN: another updown script (a mutant, to see this fail).
UPDOWN=${XS_LIBRESWAN_UPDOWN:-$PWD/scripts/libreswan-updown.sh}
# XS_LIBRESWAN_RELAY: the script that serves as relay (default: the same).
RELAY_SCRIPT=${XS_LIBRESWAN_RELAY:-$UPDOWN}
IF_ID=42

need_kernel_feature xfrm_interface "no xfrm interfaces in this kernel"
need_kernel_feature esp4 "no ESP in this kernel"
[ -x "$LSW_BIN/pluto" ] ||
	skip "libreswan's pluto is neither in $LSW_ROOT (scripts/deps.sh unpacks it there) nor in /usr/libexec/ipsec"
command -v certutil >/dev/null || skip "certutil is not installed (Debian: libnss3-tools)"
command -v nsenter >/dev/null || skip "nsenter (util-linux) is not installed"
"$LSW_BIN/pluto" --version >/dev/null 2>&1 ||
	skip "pluto in $LSW_BIN does not run (its libraries: scripts/deps.sh installs them)"

SW=$(mktemp -d /tmp/xs-libreswan.XXXXXX)
PLUTO_PIDS=()
RELAY_PID=

stop_relay() {
	[ -n "$RELAY_PID" ] || return 0
	kill "$RELAY_PID" 2>/dev/null || true
	wait "$RELAY_PID" 2>/dev/null || true
	RELAY_PID=
}

# The relay runs the updown calls pluto's children cannot (no CAP_BPF in
# their bounding set), in the gateway's netns, as a service would.
start_relay() {
	XS_UPDOWN_SPOOL="$SW/spool" PATH="$(dirname "$XS"):$PATH" \
		nsenter --net="/run/netns/$GW" "$RELAY_SCRIPT" relay >"$SW/relay.out" 2>&1 </dev/null &
	RELAY_PID=$!
	for _ in $(seq 50); do
		grep -q 'relay serving' "$SW/relay.out" && return 0
		sleep 0.1
	done
	fail "the relay did not start"
}

stop_plutos() {
	local pid
	for pid in "${PLUTO_PIDS[@]}"; do
		kill "$pid" 2>/dev/null || continue
		for _ in $(seq 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	PLUTO_PIDS=()
}

finish() {
	local rc=$? f
	stop_plutos
	stop_relay
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
		for f in "$SW"/*.log "$SW"/*.out; do
			[ -s "$f" ] || continue
			echo "== last lines of $f"
			tail -n 40 "$f"
		done
	fi
	topo_cleanup
	rm -rf "$SW"
}
trap finish EXIT

start_pluto() { # NAME NETNS [PATH]
	local name=$1 ns=$2 path=${3:-$PATH} d=$SW/$1
	mkdir -p "$d/run" "$d/ipsec.d" "$d/nss"
	certutil -N -d "sql:$d/nss" --empty-password >/dev/null
	# pluto runs addconn from its compiled-in /usr/libexec/ipsec: when pluto
	# is the unpacked one, a private mount namespace shows it there.
	PATH="$path" XS_UPDOWN_SPOOL="$SW/spool" XS_UPDOWN_STATE_DIR="$SW/state" XS_UPDOWN_SYSLOG=0 \
		nsenter --net="/run/netns/$ns" unshare --mount --propagation private sh -c '
		set -e
		if [ "$1" != /usr/libexec/ipsec ]; then
			mkdir -p "$2/libexec.orig"
			mount --bind /usr/libexec "$2/libexec.orig"
			mount -t tmpfs xs-pluto-libexec /usr/libexec
			for e in "$2/libexec.orig"/*; do ln -s "$e" /usr/libexec/; done
			ln -s "$1" /usr/libexec/ipsec
		fi
		shift 2
		exec /usr/libexec/ipsec/pluto "$@"' sh "$LSW_BIN" "$d" \
		--nofork --config "$SW/$name.conf" \
		--secretsfile "$SW/$name.secrets" --ipsecdir "$d/ipsec.d" \
		--nssdir "$d/nss" --rundir "$d/run" --dumpdir "$d/run" \
		--logfile "$SW/$name.log" --no-dnssec \
		>"$SW/$name.out" 2>&1 </dev/null &
	PLUTO_PIDS+=($!)
}

wait_pluto() { # NAME: until it listens, its conns loaded
	local name=$1
	# pluto loads the conns itself (it runs addconn --autoall at start),
	# then listens.
	for _ in $(seq 300); do
		grep -aq 'listening for IKE messages' "$SW/$name.log" 2>/dev/null && return 0
		sleep 0.2
	done
	fail "pluto $name: not listening after 60 s"
}

whack() { # NAME WHACK-ARGS...
	local name=$1
	shift
	timeout 90 "$LSW_BIN/whack" --ctlsocket "$SW/$name/run/pluto.ctl" "$@"
}

wait_eq() { # EXPECTED WHAT CMD...
	local want=$1 what=$2 got end=$((SECONDS + 60))
	shift 2
	while got=$("$@") && [ "$got" != "$want" ] && [ $SECONDS -lt $end ]; do
		sleep 0.3
	done
	assert_eq "$got" "$want" "$what"
}

routes() { # the gateway's routes, one "prefix if_id" per line, sorted
	xsj "$GW" route show dev ipsec0 | jq -r '.[] | "\(.prefix) \(.if_id)"' | sort
}

step "topology: gateway with an attached external interface, one peer"
topo_gateway
$XS -n "$GW" attach dev ipsec0
PEER=$(peer_ns 1)
ip netns add "$PEER"
ip -n "$PEER" link set lo up
ip link add ul1 netns "$GW" type veth peer name ul0 netns "$PEER"
ip -n "$GW" addr add 10.0.1.1/24 dev ul1
ip -n "$GW" link set ul1 up
ip -n "$PEER" addr add 10.0.1.2/24 dev ul0
ip -n "$PEER" link set ul0 up
ip -n "$PEER" addr add 192.168.1.200/32 dev lo
ip -n "$PEER" addr add 192.168.2.1/32 dev lo
ip -n "$PEER" route add 10.255.0.0/16 dev ul0 src 192.168.1.200
# Under TCG an exec costs ~0.1 s and the gateway's IKE_AUTH answer waits
# for the updown script: give the peer's SPI (a larval SA, 30 s by
# default) and its retransmits more time than a real machine needs.
for ns in "$GW" "$PEER"; do
	ip netns exec "$ns" sysctl -qw net.core.xfrm_acq_expires=180
done

# Two remote subnets: pluto makes a conn for each (peer1/0x0, peer1/0x1 on
# the gateway, peer1/0x0, peer1/1x0 on the peer; "peer1" names them all)
# and one CHILD_SA each, both on ipsec-interface=42.
cat >"$SW/gw.conf" <<EOF
config setup

conn peer1
	ikev2=yes
	authby=secret
	retransmit-interval=2000
	retransmit-timeout=180s
	left=10.0.1.1
	leftid=@gw.example
	leftsubnet=10.255.0.0/16
	right=10.0.1.2
	rightid=@peer1.example
	rightsubnets={192.168.1.200/32 192.168.2.0/24}
	ipsec-interface=$IF_ID
	leftupdown="$UPDOWN dev ipsec0"
	auto=add
EOF
cat >"$SW/peer.conf" <<EOF
config setup

conn peer1
	ikev2=yes
	authby=secret
	retransmit-interval=2000
	retransmit-timeout=180s
	left=10.0.1.2
	leftid=@peer1.example
	leftsubnets={192.168.1.200/32 192.168.2.0/24}
	right=10.0.1.1
	rightid=@gw.example
	rightsubnet=10.255.0.0/16
	leftupdown=%disabled
	auto=add
EOF
for n in gw peer; do
	echo '@gw.example @peer1.example : PSK "xfrm-steer test key, not for real use"' >"$SW/$n.secrets"
done

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

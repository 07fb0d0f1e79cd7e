# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Shared by the libreswan VM tests (test-libreswan.sh: updown and relay;
# test-libreswan-daemon.sh: the daemon): two real pluto daemons (libreswan
# 4.10), each in its netns (nsenter, not "ip netns exec", which would
# remount /sys and hide the pinned maps) with its own config, secrets, NSS
# database, run directory and control socket, all in a temporary directory
# under /tmp. Source after lib.sh; set UPDOWN (the gateway's updown line)
# and RELAY_SCRIPT before lsw_configs and start_relay.
#
# Debian has libreswan and strongSwan conflict with each other, so
# scripts/deps.sh does not install libreswan: it unpacks Debian's package
# into $XS_LIBRESWAN_ROOT (no service, no /etc) and installs its libraries.

LSW_ROOT=${XS_LIBRESWAN_ROOT:-/var/cache/xfrm-steer/libreswan/root}
LSW_BIN=$LSW_ROOT/usr/libexec/ipsec
[ -x "$LSW_BIN/pluto" ] || LSW_BIN=/usr/libexec/ipsec
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

# The EXIT trap's cleanup (see lib-charon.sh's finish): RC, the test's
# exit status (default: $?); errexit off.
finish() {
	local rc=${1:-$?} f
	set +e
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
	[ -e "$d/nss/cert9.db" ] || certutil -N -d "sql:$d/nss" --empty-password >/dev/null
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

lsw_topology() { # the gateway with an attached ipsec0, one peer
	topo_gateway
	$XS -n "$GW" attach dev ipsec0
	topo_ike_peer
	ip -n "$PEER" addr add 192.168.2.1/32 dev lo
	# Under TCG an exec costs ~0.1 s and the gateway's IKE_AUTH answer waits
	# for the updown script: give the peer's SPI (a larval SA, 30 s by
	# default) and its retransmits more time than a real machine needs.
	for ns in "$GW" "$PEER"; do
		ip netns exec "$ns" sysctl -qw net.core.xfrm_acq_expires=180
	done
}

lsw_configs() { # UPDOWN-LINE: the gateway's leftupdown=
	local updown=$1
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
	leftupdown="$updown"
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
}
